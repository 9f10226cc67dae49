package report

import (
	"context"
	"sync"
	"time"
)

// versionCheck answers "how far has the projection got?" for the reports,
// reading Store.Versions as seldom as correctness allows.
//
// A report may use a read only if nothing changed the projection between
// the read's start and the report's: else a batch committed in between
// could be missed. It knows of changes by notice (Changed): this process's
// consumer gives one after each batch commits, before it acknowledges the
// batch; SetThresholds after its transaction; and the watch hub on every
// region notification, which covers the batches other replicas commit.
// While the hub is listening (Listening(true)), a read with no change
// noticed since it began is reused, for at most maxReuse (a backstop: a
// missed notice cannot keep a report stale for longer). While it is not,
// every report waits for a read that began after it did.
//
// A report that needs a read joins the next one to start, not one under
// way: under load one query answers every report that arrived while the
// previous one ran.
type versionCheck struct {
	read func(context.Context) (Versions, error)
	now  func() time.Time

	mu      sync.Mutex
	next    *versionRead // not yet started; new reports join it
	running bool
	// gen counts change notices; listening is whether changes made by
	// other processes are noticed too.
	gen       uint64
	listening bool
	// last is the latest successful read; lastGen and lastAt are gen and
	// the time when it began.
	last    *versionRead
	lastGen uint64
	lastAt  time.Time
}

// maxReuse bounds how long one read is reused with no change noticed.
const maxReuse = time.Second

func newVersionCheck(read func(context.Context) (Versions, error)) *versionCheck {
	return &versionCheck{read: read, now: time.Now}
}

type versionRead struct {
	done chan struct{}
	v    Versions
	err  error
}

// get returns versions that reflect every change noticed before the call.
func (c *versionCheck) get(ctx context.Context) (Versions, error) {
	c.mu.Lock()
	if l := c.last; l != nil && c.listening && c.lastGen == c.gen && c.now().Sub(c.lastAt) < maxReuse {
		c.mu.Unlock()
		return l.v, nil
	}
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
		return Versions{}, ctx.Err()
	}
}

// changed notes that the projection has changed: later reports read again.
func (c *versionCheck) changed() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
}

// setListening notes whether every change, made here or elsewhere, is
// noticed. Changes made while nobody listened were not, so turning it on
// is a change too.
func (c *versionCheck) setListening(on bool) {
	c.mu.Lock()
	c.listening = on
	c.gen++
	c.mu.Unlock()
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
		gen, at := c.gen, c.now()
		c.mu.Unlock()
		// Not any one report's context: the read serves them all.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.v, r.err = c.read(ctx)
		cancel()
		if r.err == nil {
			c.mu.Lock()
			c.last, c.lastGen, c.lastAt = r, gen, at
			c.mu.Unlock()
		}
		close(r.done)
	}
}
