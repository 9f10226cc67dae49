package report

import (
	"context"
	"sync"
	"time"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// versionCheck shares the projection's version reads among concurrent
// reports. A report may use a read only if the read began after the
// report did (else a batch committed in between could be missed), so a
// report joins the next read to start, not one under way: under load one
// query answers every report that arrived while the previous one ran,
// where each used to make its own round trip.
type versionCheck struct {
	read func(context.Context) (store.Versions, error)

	mu      sync.Mutex
	next    *versionRead // not yet started; new reports join it
	running bool
}

type versionRead struct {
	done chan struct{}
	v    store.Versions
	err  error
}

// get returns versions read after the call began.
func (c *versionCheck) get(ctx context.Context) (store.Versions, error) {
	c.mu.Lock()
	r := c.next
	if r == nil {
		r = &versionRead{done: make(chan struct{})}
		c.next = r
	}
	if !c.running {
		c.running = true
		go c.run()
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.v, r.err
	case <-ctx.Done():
		return store.Versions{}, ctx.Err()
	}
}

// run reads versions for the waiting reports until none are waiting.
func (c *versionCheck) run() {
	for {
		c.mu.Lock()
		r := c.next
		c.next = nil
		if r == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		// Not any one report's context: the read serves them all.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.v, r.err = c.read(ctx)
		cancel()
		close(r.done)
	}
}
