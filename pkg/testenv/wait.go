package testenv

import (
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// patience is how long Eventually waits: generous, so that an effect that
// never happens fails, not a slow one on a loaded machine.
const patience = time.Minute

// Eventually polls check until it reports true, and fails the test with
// what and check's last word (why it is not true yet) if that takes longer
// than a minute or the test's context ends. Call it from the test's
// goroutine.
func Eventually(t testing.TB, what string, check func() (ok bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened; last: %s", what, last)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Clock is a service's clock moved by the test: pass its Now to the
// service, then Set or Advance it. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d and returns its new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// OneWins makes n calls at once (call(i) for i in 0..n-1), all changing
// the same version of a record, and requires exactly one to succeed and the
// others to be Aborted (a stale version); it returns the winner's result.
func OneWins[R any](t testing.TB, n int, call func(i int) (R, error)) R {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		seen   = map[codes.Code]int{}
		winner R
		ready  = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-ready // all at once, to make the race as close as it gets
			got, err := call(i)
			mu.Lock()
			defer mu.Unlock()
			seen[status.Code(err)]++
			if err == nil {
				winner = got
			} else if status.Code(err) != codes.Aborted {
				t.Errorf("call %d: %v, want OK or Aborted", i, err)
			}
		})
	}
	close(ready)
	wg.Wait()
	if seen[codes.OK] != 1 || seen[codes.Aborted] != n-1 {
		t.Fatalf("outcomes %v; want 1 OK and %d Aborted", seen, n-1)
	}
	return winner
}

// CountEvents counts the outbox rows about application id named name.
func CountEvents(t testing.TB, pool *pgxpool.Pool, id, name string) int {
	t.Helper()
	n := 0
	for _, o := range OutboxEvents(t, pool, id) {
		if o.Name == name {
			n++
		}
	}
	return n
}
