package stream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

func TestEnsureCreatesThenUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The system NATS has no users: whichever service starts first
	// creates the stream.
	_, js := testenv.Connect(t, testenv.SystemNATSURL())
	name := testenv.Name("T_")
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	prefix := testenv.Name("t")
	s, err := stream.Ensure(ctx, js, stream.Config{Name: name, SubjectPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Name != name || len(c.Subjects) != 1 || c.Subjects[0] != prefix+".>" ||
		c.Storage != jetstream.FileStorage || c.Duplicates < 2*time.Minute || c.MaxAge != 0 {
		t.Errorf("stream config = %+v; want docs/design.md §4 (recruitment.>, file, window ≥ 2m, kept for ever)", c)
	}
	// A second service starting, with a different window, updates in place.
	s, err = stream.Ensure(ctx, js, stream.Config{Name: name, SubjectPrefix: prefix, DuplicateWindow: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Info(ctx); info.Config.Duplicates != 5*time.Minute {
		t.Errorf("duplicate window after update = %v, want 5m", info.Config.Duplicates)
	}
}

// Under NATS permissions a service only reads the stream the administrator
// provisioned: starting with the same configuration works, a different one
// is refused rather than applied.
func TestEnsureUnderPermissions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.NATS(t)
	_, js := testenv.ConnectAs(t, url, "vetting")
	if _, err := stream.Ensure(ctx, js, stream.Config{}); err != nil {
		t.Fatalf("Ensure of the provisioned stream, as vetting: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := stream.Ensure(short, js, stream.Config{DuplicateWindow: time.Minute}); err == nil || !strings.Contains(err.Error(), "provision it as the administrator") {
		t.Errorf("Ensure of another configuration, as vetting: %v; want a refusal", err)
	}
	_, admin := testenv.Connect(t, url)
	s, err := admin.Stream(ctx, "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CachedInfo().Config.Duplicates; d != 10*time.Minute {
		t.Errorf("duplicate window = %v; want it unchanged (10m)", d)
	}
}

func TestConnectAndReady(t *testing.T) {
	t.Parallel()
	nc, _, err := stream.Connect(testenv.NATS(t), "test", testenv.NATSCredentials(natsperm.Admin), nil)
	if err == nil {
		defer nc.Close()
		if err := stream.Ready(nc)(context.Background()); err != nil {
			t.Errorf("Ready on a live connection: %v", err)
		}
		nc.Close()
		if err := stream.Ready(nc)(context.Background()); err == nil {
			t.Error("Ready on a closed connection: want an error")
		}
	} else {
		t.Fatal(err)
	}
	if _, _, err := stream.Connect("nats://127.0.0.1:1", "test", stream.Credentials{}, nil); err == nil {
		t.Error("Connect to a closed port: want an error")
	}
}
