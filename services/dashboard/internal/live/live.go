// Package live follows regions' summaries on the reporting service's
// WatchRegion stream and fans them out to the pages that show them.
//
// Every stream is opened with a signed-in user's own token, so it carries
// exactly what that user may see. Pages of viewers with the same Key (the
// same user with the same grant: their tabs, or two browsers) share one
// stream per region; nobody else's page ever reads it.
//
// A stream starts with its first page and stops a while after its last
// one leaves (so a reload does not restart it). A stream that breaks is
// reopened with backoff, and its pages are told the figures may be stale
// meanwhile. A stream the reporting service ends Unauthenticated (it ends
// every stream when the token that opened it expires) is reopened at once
// with a later token, if a page of the same viewer has brought one;
// otherwise its pages are asked to renew (Update.Renew): each ends its
// event stream, the browser's EventSource reconnects with the session's
// cookie, the dashboard renews the session's token on that request, and
// the page subscribes again with it, which reopens the stream. A stream
// refused outright (PermissionDenied) asks its pages to renew too; their
// reconnect is then refused by the web layer's own check.
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
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/bearer"
)

// Watcher is the part of the reporting client the hub calls.
type Watcher interface {
	WatchRegion(ctx context.Context, in *pb.WatchRegionRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[pb.WatchRegionResponse], error)
}

// Viewer is who a subscription is for.
type Viewer struct {
	// Key names what the viewer may see (the user and their grant):
	// viewers with the same Key share streams.
	Key string
	// Token is the viewer's current bearer token and Expires its expiry.
	Token   string
	Expires time.Time
}

// Update is the latest news of one region: its summary; or (Summary nil,
// Connected false) that its stream is down and figures may be stale; or
// (Renew) that the stream needs a newer token than the hub has, so the
// page's event stream should end and reconnect with a renewed session.
type Update struct {
	Region    string
	Summary   *pb.RegionSummary
	Connected bool
	Renew     bool
}

// Hub shares one WatchRegion stream per viewer key and region among
// subscriptions.
type Hub struct {
	client Watcher
	log    *slog.Logger
	// Linger is how long a stream stays open with no subscriber;
	// MinBackoff and MaxBackoff bound the wait before reopening a broken one.
	Linger, MinBackoff, MaxBackoff time.Duration
	// Now is the clock tokens expire by.
	Now func() time.Time

	mu    sync.Mutex
	feeds map[feedKey]*feed
}

type feedKey struct{ viewer, region string }

// feed is one viewer's stream of one region and its subscribers. Guarded
// by Hub.mu.
type feed struct {
	key  feedKey
	subs map[*Subscription]struct{}
	last *Update
	// cancel stops follow; nil when it is not running.
	cancel context.CancelFunc
	idle   *time.Timer
	// token is the latest-expiring token a subscriber brought; fresher is
	// signalled when a later one arrives.
	token   string
	expires time.Time
	fresher chan struct{}
}

// NewHub returns a hub reading from client.
func NewHub(client Watcher, log *slog.Logger) *Hub {
	return &Hub{client: client, log: log, Linger: 30 * time.Second,
		MinBackoff: 500 * time.Millisecond, MaxBackoff: 5 * time.Second, Now: time.Now, feeds: map[feedKey]*feed{}}
}

// Subscription receives the updates of the regions it was opened for. Only
// the latest update of each region is kept: a slow reader skips the
// summaries it had no time for, never the newest one.
type Subscription struct {
	hub     *Hub
	viewer  string
	regions []string
	ready   chan struct{}
	mu      sync.Mutex
	pending map[string]Update
	order   []string
}

// Subscribe opens v's subscription to regions. Updates already known are
// pending at once. Close it when done.
func (h *Hub) Subscribe(v Viewer, regions ...string) *Subscription {
	s := &Subscription{hub: h, viewer: v.Key, regions: regions, ready: make(chan struct{}, 1), pending: map[string]Update{}}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range regions {
		key := feedKey{v.Key, r}
		f := h.feeds[key]
		if f == nil {
			f = &feed{key: key, subs: map[*Subscription]struct{}{}, fresher: make(chan struct{}, 1)}
			h.feeds[key] = f
		}
		if f.idle != nil {
			f.idle.Stop()
			f.idle = nil
		}
		if v.Expires.After(f.expires) {
			f.token, f.expires = v.Token, v.Expires
			select {
			case f.fresher <- struct{}{}:
			default:
			}
		}
		if f.cancel == nil {
			ctx, cancel := context.WithCancel(context.Background())
			f.cancel = cancel
			go h.follow(ctx, f)
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

// Close ends the subscription; a stream left with no subscriber stops
// after Linger.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range s.regions {
		f := h.feeds[feedKey{s.viewer, r}]
		if f == nil {
			continue
		}
		delete(f.subs, s)
		if len(f.subs) == 0 && f.idle == nil {
			f.idle = time.AfterFunc(h.Linger, func() { h.stopIdle(f) })
		}
	}
}

func (h *Hub) stopIdle(f *feed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.feeds[f.key] != f || len(f.subs) > 0 || f.idle == nil {
		return // a subscriber came back in the meantime
	}
	f.idle = nil
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
	// The feed goes, with its last summary and the viewer's token.
	delete(h.feeds, f.key)
}

// Close stops every stream.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key, f := range h.feeds {
		if f.idle != nil {
			f.idle.Stop()
		}
		if f.cancel != nil {
			f.cancel()
		}
		delete(h.feeds, key)
	}
}

// publish offers u to the feed's subscribers, and keeps it as the feed's
// latest for new ones (a request to renew drops the latest instead).
func (h *Hub) publish(ctx context.Context, f *feed, u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// A stopped stream's last words must not outlive it.
	if h.feeds[f.key] != f || ctx.Err() != nil {
		return
	}
	f.last = &u
	if u.Renew {
		// Nobody keeps the last summary current until a page renews.
		f.last = nil
	}
	for s := range f.subs {
		s.offer(u)
	}
}

// currentToken is the feed's token, if it has one that has not expired.
func (h *Hub) currentToken(f *feed) (string, time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return f.token, f.expires, f.token != "" && h.Now().Before(f.expires)
}

// spend forgets tok if it is still the feed's token: the reporting service
// refused it.
func (h *Hub) spend(f *feed, tok string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.token == tok {
		f.token, f.expires = "", time.Time{}
	}
}

// follow keeps the feed's WatchRegion stream open until ctx ends.
func (h *Hub) follow(ctx context.Context, f *feed) {
	region := f.key.region
	backoff := h.MinBackoff
	connected := false
	for {
		tok, _, ok := h.currentToken(f)
		if !ok {
			// No token to open the stream with: the pages renew theirs.
			h.publish(ctx, f, Update{Region: region, Renew: true})
			select {
			case <-ctx.Done():
				return
			case <-f.fresher:
				continue
			}
		}
		err := h.watch(bearer.WithToken(ctx, tok), region, func(sum *pb.RegionSummary) {
			connected, backoff = true, h.MinBackoff
			h.publish(ctx, f, Update{Region: region, Summary: sum, Connected: true})
		})
		if ctx.Err() != nil {
			return
		}
		switch status.Code(err) {
		case codes.Unauthenticated, codes.PermissionDenied:
			// The token expired (reporting ends a stream then) or was
			// refused: open again with a later one, if there is one.
			h.log.Info("region stream ended by its token", "region", region, "err", err)
			h.spend(f, tok)
			connected = false
			continue
		}
		if connected || backoff == h.MinBackoff {
			h.log.Warn("region stream broken; reopening", "region", region, "err", err, "retry_in", backoff)
			h.publish(ctx, f, Update{Region: region, Connected: false})
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
	// Ended when watch returns, so the stream's resources go at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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
