package live

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/bearer"
)

// expiringWatcher is a reporting service that knows tokens by name: it
// opens a stream only with a known, unexpired token, sends the region's
// summary at once, and ends the stream Unauthenticated when the token
// expires (pkg/grpcauth's stream interceptor does that).
type expiringWatcher struct {
	mu      sync.Mutex
	expires map[string]time.Time
	opened  []string // token/region of each stream opened
}

func (w *expiringWatcher) WatchRegion(ctx context.Context, in *pb.WatchRegionRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[pb.WatchRegionResponse], error) {
	tok, _ := bearer.Token(ctx)
	w.mu.Lock()
	exp, ok := w.expires[tok]
	w.opened = append(w.opened, tok+"/"+in.GetRegion())
	w.mu.Unlock()
	if !ok || !time.Now().Before(exp) {
		return nil, status.Error(codes.Unauthenticated, "token expired")
	}
	return &expiringStream{ctx: ctx, exp: exp, first: &pb.WatchRegionResponse{Summary: &pb.RegionSummary{Region: in.GetRegion(), StuckCount: 1}}}, nil
}

func (w *expiringWatcher) streams() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.opened...)
}

type expiringStream struct {
	grpc.ClientStream
	ctx   context.Context
	exp   time.Time
	first *pb.WatchRegionResponse
}

func (s *expiringStream) Recv() (*pb.WatchRegionResponse, error) {
	if first := s.first; first != nil {
		s.first = nil
		return first, nil
	}
	select {
	case <-s.ctx.Done():
		return nil, status.FromContextError(s.ctx.Err()).Err()
	case <-time.After(time.Until(s.exp)):
		return nil, status.Error(codes.Unauthenticated, "token expired; sign in again")
	}
}

func newTestHub(w Watcher) *Hub {
	h := NewHub(w, slog.New(slog.DiscardHandler))
	h.MinBackoff, h.MaxBackoff = time.Millisecond, 10*time.Millisecond
	return h
}

// next waits for the subscription's next update of region.
func next(t *testing.T, s *Subscription, region string) Update {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case <-s.Ready():
			for _, u := range s.Take() {
				if u.Region == region {
					return u
				}
			}
		case <-deadline:
			t.Fatalf("no update of %s within 5s", region)
		}
	}
}

// A stream ended by its token's expiry reopens at once with the later
// token another page of the same viewer brought, and the pages see no gap.
func TestStreamReopensWithALaterToken(t *testing.T) {
	t.Parallel()
	now := time.Now()
	w := &expiringWatcher{expires: map[string]time.Time{"first": now.Add(300 * time.Millisecond), "second": now.Add(time.Hour)}}
	h := newTestHub(w)
	defer h.Close()
	tab1 := h.Subscribe(Viewer{Key: "priya", Token: "first", Expires: now.Add(300 * time.Millisecond)}, "london")
	defer tab1.Close()
	if u := next(t, tab1, "london"); !u.Connected || u.Summary.GetStuckCount() != 1 {
		t.Fatalf("first update %+v", u)
	}
	tab2 := h.Subscribe(Viewer{Key: "priya", Token: "second", Expires: now.Add(time.Hour)}, "london")
	defer tab2.Close()
	// After the first token expires, the stream is reopened with the second.
	u := next(t, tab1, "london")
	if !u.Connected || u.Renew {
		t.Errorf("update after the first token expired: %+v, want a summary", u)
	}
	if got := w.streams(); len(got) != 2 || got[0] != "first/london" || got[1] != "second/london" {
		t.Errorf("streams opened %v, want one with each token, in order", got)
	}
}

// With no later token, the pages are asked to renew; the next page's
// token reopens the stream.
func TestStreamAsksPagesToRenew(t *testing.T) {
	t.Parallel()
	now := time.Now()
	w := &expiringWatcher{expires: map[string]time.Time{"first": now.Add(200 * time.Millisecond), "renewed": now.Add(time.Hour)}}
	h := newTestHub(w)
	defer h.Close()
	page := h.Subscribe(Viewer{Key: "priya", Token: "first", Expires: now.Add(200 * time.Millisecond)}, "london")
	next(t, page, "london")
	if u := next(t, page, "london"); !u.Renew {
		t.Fatalf("after the only token expired: %+v, want a request to renew", u)
	}
	page.Close()
	// The browser reconnects with the renewed session.
	again := h.Subscribe(Viewer{Key: "priya", Token: "renewed", Expires: now.Add(time.Hour)}, "london")
	defer again.Close()
	if u := next(t, again, "london"); !u.Connected {
		t.Errorf("after the reconnect: %+v, want a summary", u)
	}
	if got := w.streams(); got[len(got)-1] != "renewed/london" {
		t.Errorf("streams opened %v, want the last with the renewed token", got)
	}
}

// Viewers share a stream only with themselves: each opens its own with
// its own token.
func TestViewersDoNotShareStreams(t *testing.T) {
	t.Parallel()
	now := time.Now()
	w := &expiringWatcher{expires: map[string]time.Time{"priya": now.Add(time.Hour), "sam": now.Add(time.Hour), "priya-tab2": now.Add(time.Hour)}}
	h := newTestHub(w)
	defer h.Close()
	a := h.Subscribe(Viewer{Key: "priya", Token: "priya", Expires: now.Add(time.Hour)}, "london")
	defer a.Close()
	next(t, a, "london")
	b := h.Subscribe(Viewer{Key: "sam", Token: "sam", Expires: now.Add(time.Hour)}, "london")
	defer b.Close()
	next(t, b, "london")
	c := h.Subscribe(Viewer{Key: "priya", Token: "priya-tab2", Expires: now.Add(time.Minute)}, "london")
	defer c.Close()
	next(t, c, "london") // the shared stream's last summary, at once
	if got := w.streams(); len(got) != 2 || got[0] != "priya/london" || got[1] != "sam/london" {
		t.Errorf("streams opened %v, want Priya's and Sam's, each with their own token, and Priya's second tab sharing hers", got)
	}
}
