// Package live follows regions' summaries on the reporting service's
// WatchRegion stream and fans them out to any number of page viewers: one
// upstream stream per region, however many browsers watch it.
//
// A region's stream starts with its first viewer and stops a while after
// its last one leaves (so a page reload does not restart it). A broken
// stream is reopened with backoff; viewers are told when a region goes
// quiet that way, and get the fresh summary when it comes back.
package live

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// Watcher is the part of the reporting client the hub calls.
type Watcher interface {
	WatchRegion(ctx context.Context, in *pb.WatchRegionRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[pb.WatchRegionResponse], error)
}

// Update is the latest news of one region: its summary, or (Summary nil,
// Connected false) that its stream is down and figures may be stale.
type Update struct {
	Region    string
	Summary   *pb.RegionSummary
	Connected bool
}

// Hub shares one WatchRegion stream per region among subscribers.
type Hub struct {
	client Watcher
	log    *slog.Logger
	// Linger is how long a region's stream stays open with no subscriber;
	// MinBackoff and MaxBackoff bound the wait before reopening a broken one.
	Linger, MinBackoff, MaxBackoff time.Duration

	mu    sync.Mutex
	feeds map[string]*feed
}

// feed is one region's upstream stream and its subscribers. Guarded by
// Hub.mu.
type feed struct {
	subs   map[*Subscription]struct{}
	last   *Update
	cancel context.CancelFunc
	idle   *time.Timer
}

// NewHub returns a hub reading from client.
func NewHub(client Watcher, log *slog.Logger) *Hub {
	return &Hub{client: client, log: log, Linger: 30 * time.Second,
		MinBackoff: 500 * time.Millisecond, MaxBackoff: 5 * time.Second, feeds: map[string]*feed{}}
}

// Subscription receives the updates of the regions it was opened for. Only
// the latest update of each region is kept: a slow reader skips the
// summaries it had no time for, never the newest one.
type Subscription struct {
	hub     *Hub
	regions []string
	ready   chan struct{}
	mu      sync.Mutex
	pending map[string]Update
	order   []string
}

// Subscribe opens a subscription to regions. Updates already known are
// pending at once. Close it when done.
func (h *Hub) Subscribe(regions ...string) *Subscription {
	s := &Subscription{hub: h, regions: regions, ready: make(chan struct{}, 1), pending: map[string]Update{}}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range regions {
		f := h.feeds[r]
		if f == nil {
			f = &feed{subs: map[*Subscription]struct{}{}}
			h.feeds[r] = f
		}
		if f.idle != nil {
			f.idle.Stop()
			f.idle = nil
		}
		if f.cancel == nil {
			ctx, cancel := context.WithCancel(context.Background())
			f.cancel = cancel
			go h.follow(ctx, r)
		}
		f.subs[s] = struct{}{}
		if f.last != nil {
			s.offer(*f.last)
		}
	}
	return s
}

// Ready is signalled when updates are pending; Take them.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the pending updates, oldest region first, and clears them.
func (s *Subscription) Take() []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Update, 0, len(s.order))
	for _, r := range s.order {
		out = append(out, s.pending[r])
	}
	s.pending, s.order = map[string]Update{}, s.order[:0]
	return out
}

func (s *Subscription) offer(u Update) {
	s.mu.Lock()
	if _, ok := s.pending[u.Region]; !ok {
		s.order = append(s.order, u.Region)
	}
	s.pending[u.Region] = u
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Close ends the subscription; a region left with no subscriber stops its
// stream after Linger.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range s.regions {
		f := h.feeds[r]
		if f == nil {
			continue
		}
		delete(f.subs, s)
		if len(f.subs) == 0 && f.cancel != nil && f.idle == nil {
			f.idle = time.AfterFunc(h.Linger, func() { h.stopIdle(r, f) })
		}
	}
}

func (h *Hub) stopIdle(region string, f *feed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.feeds[region] != f || len(f.subs) > 0 || f.idle == nil {
		return // a subscriber came back in the meantime
	}
	f.idle = nil
	f.cancel()
	f.cancel = nil
	// The last summary goes too: nobody would keep it current.
	f.last = nil
}

// Close stops every stream.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.feeds {
		if f.idle != nil {
			f.idle.Stop()
			f.idle = nil
		}
		if f.cancel != nil {
			f.cancel()
			f.cancel = nil
		}
	}
}

// publish records u as the region's latest and offers it to subscribers.
func (h *Hub) publish(ctx context.Context, u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.feeds[u.Region]
	// A stopped stream's last words must not outlive it.
	if f == nil || ctx.Err() != nil {
		return
	}
	f.last = &u
	for s := range f.subs {
		s.offer(u)
	}
}

// follow keeps a WatchRegion stream open for region until ctx ends.
func (h *Hub) follow(ctx context.Context, region string) {
	backoff := h.MinBackoff
	connected := false
	for {
		err := h.watch(ctx, region, func(sum *pb.RegionSummary) {
			connected, backoff = true, h.MinBackoff
			h.publish(ctx, Update{Region: region, Summary: sum, Connected: true})
		})
		if ctx.Err() != nil {
			return
		}
		if connected || backoff == h.MinBackoff {
			h.log.Warn("region stream broken; reopening", "region", region, "err", err, "retry_in", backoff)
			h.publish(ctx, Update{Region: region, Connected: false})
		}
		connected = false
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, h.MaxBackoff)
	}
}

// watch reads one stream until it fails; it never returns nil.
func (h *Hub) watch(ctx context.Context, region string, got func(*pb.RegionSummary)) error {
	stream, err := h.client.WatchRegion(ctx, &pb.WatchRegionRequest{Region: region})
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream (e.g. it is shutting down).
				return status.Error(codes.Unavailable, "stream ended by the server")
			}
			return err
		}
		got(resp.GetSummary())
	}
}
