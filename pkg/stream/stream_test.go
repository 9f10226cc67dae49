package stream

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

func TestEnsureCreatesThenUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, js := testenv.Connect(t, testenv.NATS(t))
	s, err := Ensure(ctx, js, Config{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Name != "RECRUITMENT" || len(c.Subjects) != 1 || c.Subjects[0] != "recruitment.>" ||
		c.Storage != jetstream.FileStorage || c.Duplicates < 2*time.Minute || c.MaxAge != 0 {
		t.Errorf("stream config = %+v; want docs/design.md §4 (RECRUITMENT, recruitment.>, file, window ≥ 2m, kept for ever)", c)
	}
	// A second service starting, with a different window, updates in place.
	s, err = Ensure(ctx, js, Config{DuplicateWindow: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Info(ctx); info.Config.Duplicates != 5*time.Minute {
		t.Errorf("duplicate window after update = %v, want 5m", info.Config.Duplicates)
	}
}

func TestConnectAndReady(t *testing.T) {
	t.Parallel()
	nc, _, err := Connect(testenv.NATS(t), "test", nil)
	if err == nil {
		defer nc.Close()
		if err := Ready(nc)(context.Background()); err != nil {
			t.Errorf("Ready on a live connection: %v", err)
		}
		nc.Close()
		if err := Ready(nc)(context.Background()); err == nil {
			t.Error("Ready on a closed connection: want an error")
		}
	} else {
		t.Fatal(err)
	}
	if _, _, err := Connect("nats://127.0.0.1:1", "test", nil); err == nil {
		t.Error("Connect to a closed port: want an error")
	}
}
