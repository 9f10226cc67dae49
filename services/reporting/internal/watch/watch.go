// Package watch tells WatchRegion streams when a region's projection has
// changed: the projection's transactions NOTIFY the region at commit, and
// one LISTEN connection per process fans that out to the streams, and
// tells the report service (its Follower) that the projection changed.
package watch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Hub fans region notifications out to subscribers.
type Hub struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	follower Follower

	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// Follower is told of every notification, before the subscribers, and
// of whether the hub is listening (report.Service).
type Follower interface {
	Changed()
	Listening(on bool)
}

// NewHub returns a Hub; Run starts it.
func NewHub(pool *pgxpool.Pool, log *slog.Logger, follower Follower) *Hub {
	return &Hub{pool: pool, log: log, follower: follower, subs: map[string]map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives (coalesced) when region
// changes, and a function to stop.
func (h *Hub) Subscribe(region string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs[region] == nil {
		h.subs[region] = map[chan struct{}]struct{}{}
	}
	h.subs[region][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[region], ch)
		h.mu.Unlock()
	}
}

// Notify wakes region's subscribers (used by Run, and by tests).
func (h *Hub) Notify(region string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[region] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending: coalesce
		}
	}
}

// Run listens until ctx is done, reconnecting after failures. While the
// connection is down, every region is woken once it is back, so no change
// goes unseen.
func (h *Hub) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := h.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		h.log.Warn("region listen connection lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		h.wakeAll()
	}
	return nil
}

func (h *Hub) wakeAll() {
	h.mu.Lock()
	regions := make([]string, 0, len(h.subs))
	for r := range h.subs {
		regions = append(regions, r)
	}
	h.mu.Unlock()
	for _, r := range regions {
		h.Notify(r)
	}
}

func (h *Hub) listen(ctx context.Context) error {
	pooled, err := h.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pooled.Hijack()                      // a LISTENing connection must not return to the pool
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{schema + "_regions"}.Sanitize()); err != nil {
		return err
	}
	h.follower.Listening(true)
	defer h.follower.Listening(false)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		h.follower.Changed()
		h.Notify(n.Payload)
	}
}
