package report

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestVersionCheckReadsAfterEachCaller checks the rule that makes shared
// version reads safe: whatever a caller gets was read after it called.
// Each caller notes a ticket on arrival; each read returns the last ticket
// handed out when it began, which must be at least the caller's.
func TestVersionCheckReadsAfterEachCaller(t *testing.T) {
	t.Parallel()
	var tickets, reads atomic.Int64
	c := newVersionCheck(func(context.Context) (Versions, error) {
		seen := tickets.Load()
		reads.Add(1)
		time.Sleep(time.Millisecond) // a round trip, during which more callers arrive
		return Versions{Epoch: strconv.FormatInt(seen, 10)}, nil
	})
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
	c := newVersionCheck(func(context.Context) (Versions, error) {
		if failing.Load() {
			return Versions{}, fail
		}
		<-release
		return Versions{Epoch: "e"}, nil
	})
	c.setListening(true) // a failed read is never reused, listening or not
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

// TestVersionCheckReusesReadsUntilAChange walks the reuse rule: a read is
// reused only while changes are noticed (listening), none has been since
// the read began, and it is younger than maxReuse.
func TestVersionCheckReusesReadsUntilAChange(t *testing.T) {
	t.Parallel()
	var reads atomic.Int64
	// during, when set, runs inside the next read, as if a change were
	// noticed while the query was in flight.
	var during func()
	c := newVersionCheck(func(context.Context) (Versions, error) {
		n := reads.Add(1)
		if during != nil {
			during()
			during = nil
		}
		return Versions{Epoch: strconv.FormatInt(n, 10)}, nil
	})
	clock := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	step := func(what string, wantReads int64) {
		t.Helper()
		v, err := c.get(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := reads.Load(); got != wantReads {
			t.Fatalf("%s: %d reads, want %d", what, got, wantReads)
		}
		if v.Epoch != strconv.FormatInt(wantReads, 10) {
			t.Fatalf("%s: got the versions of read %s, want those of read %d", what, v.Epoch, wantReads)
		}
	}
	step("not listening", 1)
	step("not listening: every report reads", 2)
	c.setListening(true)
	step("first report once listening", 3)
	step("no change since", 3)
	clock = clock.Add(maxReuse / 2)
	step("no change, younger than maxReuse", 3)
	c.changed()
	step("after a change", 4)
	step("no change since", 4)
	clock = clock.Add(maxReuse)
	step("read older than maxReuse", 5)
	during = c.changed
	c.changed()
	step("a change noticed while the read ran", 6)
	step("so that read is not reused", 7)
	step("the next one is", 7)
	c.setListening(false)
	step("listening lost", 8)
	step("not listening: every report reads", 9)
	c.setListening(true)
	step("listening again: changes made meanwhile were missed", 10)
	step("no change since", 10)
}
