package report

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// TestVersionCheckReadsAfterEachCaller checks the rule that makes shared
// version reads safe: whatever a caller gets was read after it called.
// Each caller notes a ticket on arrival; each read returns the last ticket
// handed out when it began, which must be at least the caller's.
func TestVersionCheckReadsAfterEachCaller(t *testing.T) {
	t.Parallel()
	var tickets, reads atomic.Int64
	c := &versionCheck{read: func(context.Context) (store.Versions, error) {
		seen := tickets.Load()
		reads.Add(1)
		time.Sleep(time.Millisecond) // a round trip, during which more callers arrive
		return store.Versions{Epoch: strconv.FormatInt(seen, 10)}, nil
	}}
	var wg sync.WaitGroup
	const callers, calls = 16, 50
	for range callers {
		wg.Go(func() {
			for range calls {
				mine := tickets.Add(1)
				v, err := c.get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if seen, _ := strconv.ParseInt(v.Epoch, 10, 64); seen < mine {
					t.Errorf("a caller with ticket %d got versions read when ticket %d was the last", mine, seen)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := reads.Load(); n >= callers*calls {
		t.Errorf("%d reads for %d calls: none shared", n, callers*calls)
	}
	t.Logf("%d reads for %d calls", reads.Load(), callers*calls)
}

// TestVersionCheckErrorsAndCancellation: a failed read fails the callers
// that waited for it, not later ones; a caller that gives up returns at
// once.
func TestVersionCheckErrorsAndCancellation(t *testing.T) {
	t.Parallel()
	fail := errors.New("database down")
	var failing atomic.Bool
	failing.Store(true)
	release := make(chan struct{})
	c := &versionCheck{read: func(context.Context) (store.Versions, error) {
		if failing.Load() {
			return store.Versions{}, fail
		}
		<-release
		return store.Versions{Epoch: "e"}, nil
	}}
	if _, err := c.get(context.Background()); !errors.Is(err, fail) {
		t.Fatalf("get = %v, want %v", err, fail)
	}
	failing.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with a cancelled context = %v, want context.Canceled", err)
	}
	close(release)
	if v, err := c.get(context.Background()); err != nil || v.Epoch != "e" {
		t.Fatalf("get after recovery = %v, %v", v, err)
	}
}
