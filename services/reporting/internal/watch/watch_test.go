package watch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/watch"
)

// follower records what the hub tells it, in order.
type follower struct {
	mu     sync.Mutex
	events []string
}

func (f *follower) Changed() { f.add("changed") }

func (f *follower) Listening(on bool) {
	if on {
		f.add("on")
	} else {
		f.add("off")
	}
}

func (f *follower) add(e string) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
}

func (f *follower) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// TestHubTellsTheFollower: the follower hears Listening(true) once LISTEN
// is up, Changed for every notification (before the region's subscribers
// wake), and Listening(false) when the connection is lost, then true
// again once the hub has reconnected.
func TestHubTellsTheFollower(t *testing.T) {
	t.Parallel()
	pool, schema := testenv.Schema(t)
	f := &follower{}
	hub := watch.NewHub(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), f)
	woken, stop := hub.Subscribe("london")
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	})

	wait := func(what string, want ...string) {
		t.Helper()
		testenv.Eventually(t, what, func() (bool, string) {
			got := f.seen()
			return slices.Equal(got, want), fmt.Sprintf("follower heard %q, want %q", got, want)
		})
	}
	notify := func() {
		t.Helper()
		if _, err := pool.Exec(context.Background(), `SELECT pg_notify($1, 'london')`, schema+"_regions"); err != nil {
			t.Fatal(err)
		}
	}

	wait("start", "on")
	notify()
	wait("a notification", "on", "changed")
	select {
	case <-woken:
	case <-time.After(30 * time.Second):
		t.Fatal("the region's subscriber was not woken")
	}

	// Lose the LISTEN connection, as a database restart would.
	if _, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = $1`, `LISTEN "`+schema+`_regions"`); err != nil {
		t.Fatal(err)
	}
	wait("connection lost and back", "on", "changed", "off", "on")
	notify()
	wait("a notification after reconnecting", "on", "changed", "off", "on", "changed")
}
