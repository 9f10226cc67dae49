package grpcserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// TestMaxDeadline: a unary call arriving with a deadline past the cap runs
// under the cap, observed in the handler; shorter deadlines are kept, and
// a call with none gets the default, or the cap when there is no default.
func TestMaxDeadline(t *testing.T) {
	t.Parallel()
	const (
		def   = 3 * time.Second
		limit = 5 * time.Second
	)
	tests := []struct {
		name       string
		def        time.Duration
		clientWait time.Duration // 0: the client sets no deadline
		wantMin    time.Duration // remaining time the handler must see at least
		wantMax    time.Duration // and at most
	}{
		{name: "an hour is cut to the cap", def: def, clientWait: time.Hour, wantMin: limit - 2*time.Second, wantMax: limit},
		{name: "a deadline within the cap is kept", def: def, clientWait: 4 * time.Second, wantMin: 2 * time.Second, wantMax: 4 * time.Second},
		{name: "no deadline gets the default", def: def, wantMin: def - 2*time.Second, wantMax: def},
		{name: "no deadline and no default gets the cap", def: 0, wantMin: limit - 2*time.Second, wantMax: limit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			remaining := make(chan time.Duration, 1)
			svc := &testService{unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				d, ok := ctx.Deadline()
				if !ok {
					return nil, status.Error(codes.FailedPrecondition, "handler has no deadline")
				}
				remaining <- time.Until(d)
				return &testpb.SimpleResponse{}, nil
			}}
			h := start(t, grpcserver.Config{DefaultDeadline: tt.def, MaxDeadline: limit}, svc, grpcserver.Options{})
			ctx := context.Background()
			if tt.clientWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.clientWait)
				defer cancel()
			}
			if _, err := h.client().UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatalf("UnaryCall: %v", err)
			}
			if got := <-remaining; got < tt.wantMin || got > tt.wantMax {
				t.Errorf("handler deadline in %v, want within [%v, %v]", got, tt.wantMin, tt.wantMax)
			}
		})
	}
}

// TestMaxDeadlineExpiry: a call cut to the cap ends DeadlineExceeded when
// the cap passes, saying so, though the client would have waited an hour.
func TestMaxDeadlineExpiry(t *testing.T) {
	t.Parallel()
	svc := &testService{unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			return nil, status.Error(codes.Aborted, "the call was not cut to the cap")
		}
	}}
	h := start(t, grpcserver.Config{MaxDeadline: 50 * time.Millisecond}, svc, grpcserver.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err := h.client().UnaryCall(ctx, &testpb.SimpleRequest{})
	testenv.WantStatus(t, err, codes.DeadlineExceeded, "the server allows a call at most 50ms")
}

// TestMaxConcurrentStreams: with one call allowed per connection, a second
// call waits while a stream is open and its handler does not run; once the
// stream ends, calls go through again.
func TestMaxConcurrentStreams(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseStream := func() { releaseOnce.Do(func() { close(release) }) }
	var unaryCalls atomic.Int32
	svc := &testService{
		unary: func(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
			unaryCalls.Add(1)
			return &testpb.SimpleResponse{}, nil
		},
		stream: func(_ *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
			close(entered)
			<-release
			return nil
		},
	}
	h := start(t, grpcserver.Config{MaxConcurrentStreams: 1}, svc, grpcserver.Options{})
	t.Cleanup(releaseStream) // before the server stops, should the test fail
	stream, err := h.client().StreamingOutputCall(callCtx(t), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	<-entered

	// The call cannot start while the stream holds the connection's one
	// place, so it can only run out of time.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = h.client().UnaryCall(ctx, &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("UnaryCall beside an open stream = %v, want DeadlineExceeded waiting for a place", err)
	}
	if n := unaryCalls.Load(); n != 0 {
		t.Fatalf("unary handler ran %d times past the limit", n)
	}

	releaseStream()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream end = %v, want io.EOF", err)
	}
	if _, err := h.client().UnaryCall(callCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall after the stream ended: %v", err)
	}
}

// rawConn is a bare HTTP/2 connection to addr, for frames a gRPC client
// never sends: the client preface and SETTINGS are written.
func rawConn(t *testing.T, addr string) *http2.Framer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Generous: a frame that should come and does not fails the test.
	if err := c.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatalf("write preface: %v", err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatalf("write settings: %v", err)
	}
	return fr
}

// nextFrame reads the next frame that matters here (a GOAWAY or a PING
// ack), acknowledging the server's SETTINGS on the way; at the end of the
// connection it returns nil.
func nextFrame(t *testing.T, fr *http2.Framer) http2.Frame {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			return f
		case *http2.PingFrame:
			if f.IsAck() {
				return f
			}
		}
	}
}

// TestKeepaliveEnforcement: a client that pings more often than
// KeepaliveMinTime, or at all with no call open when that is not
// permitted, is sent GOAWAY ENHANCE_YOUR_CALM; one within the policy is
// answered. gRPC's own policy (5 minutes, no pings without a call) would
// refuse the last case too, so it shows the configuration is in force.
func TestKeepaliveEnforcement(t *testing.T) {
	t.Parallel()
	// gRPC refuses a ping that is the third too early, after answering
	// it: a GOAWAY for ping i comes after ping i's ack and before the
	// next one's. Five pings show whether any of the first four was
	// refused.
	const pings = 5
	tests := []struct {
		name       string
		minTime    time.Duration
		permit     bool
		gap        time.Duration // between pings
		wantGoAway bool
	}{
		{name: "pings faster than the minimum", minTime: time.Hour, permit: true, wantGoAway: true},
		{name: "pings with no call open, not permitted", minTime: time.Millisecond, permit: false, gap: 50 * time.Millisecond, wantGoAway: true},
		{name: "pings within the policy", minTime: time.Millisecond, permit: true, gap: 50 * time.Millisecond, wantGoAway: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, grpcserver.Config{KeepaliveMinTime: tt.minTime, KeepalivePermitWithoutStream: tt.permit}, nil, grpcserver.Options{})
			fr := rawConn(t, h.srv.Addr().String())
			for i := range pings {
				if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
					break // the server has closed the connection
				}
				if tt.gap > 0 {
					time.Sleep(tt.gap)
				}
			}
			for acks := 0; tt.wantGoAway || acks < pings; {
				switch f := nextFrame(t, fr).(type) {
				case nil:
					t.Fatalf("connection closed after %d acks without GOAWAY", acks)
				case *http2.PingFrame:
					acks++
				case *http2.GoAwayFrame:
					if !tt.wantGoAway {
						t.Fatalf("GOAWAY %v %q after %d acks, want every ping answered", f.ErrCode, f.DebugData(), acks)
					}
					if f.ErrCode != http2.ErrCodeEnhanceYourCalm || string(f.DebugData()) != "too_many_pings" {
						t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", f.ErrCode, f.DebugData())
					}
					return
				}
			}
		})
	}
}

// TestMaxConnectionAge: a connection is sent GOAWAY once it is
// MaxConnectionAge old and closed after the grace.
func TestMaxConnectionAge(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{MaxConnectionAge: 200 * time.Millisecond, MaxConnectionAgeGrace: 200 * time.Millisecond}, nil, grpcserver.Options{})
	fr := rawConn(t, h.srv.Addr().String())
	f := nextFrame(t, fr)
	g, ok := f.(*http2.GoAwayFrame)
	if !ok || g.ErrCode != http2.ErrCodeNo || string(g.DebugData()) != "max_age" {
		t.Fatalf("first frame %v, want GOAWAY NO_ERROR max_age", f)
	}
	for f != nil {
		f = nextFrame(t, fr)
	}
}

// TestMaxConnectionAgeEndsWatches: what a watcher sees. Its stream, open
// past MaxConnectionAge and the grace, ends Unavailable; the client
// connects again by itself and the watch can be reopened.
func TestMaxConnectionAgeEndsWatches(t *testing.T) {
	t.Parallel()
	var opened atomic.Int32
	svc := &testService{stream: func(_ *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
		opened.Add(1)
		if err := ss.Send(&testpb.StreamingOutputCallResponse{}); err != nil {
			return err
		}
		<-ss.Context().Done()
		return ss.Context().Err()
	}}
	h := start(t, grpcserver.Config{MaxConnectionAge: 500 * time.Millisecond, MaxConnectionAgeGrace: 500 * time.Millisecond}, svc, grpcserver.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watch := func() (grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse], error) {
		s, err := h.client().StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
		if err != nil {
			return nil, err
		}
		_, err = s.Recv()
		return s, err
	}
	s, err := watch()
	if err != nil {
		t.Fatalf("open watch: %v", err)
	}
	_, err = s.Recv()
	testenv.WantStatus(t, err, codes.Unavailable)

	testenv.Eventually(t, "the watch to reopen", func() (bool, string) {
		_, err := watch()
		return err == nil, fmt.Sprint(err)
	})
	if n := opened.Load(); n < 2 {
		t.Errorf("watch handler ran %d times, want the reopened watch to reach it", n)
	}
}
