package grpcauth_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// ticker is a watch: its stream sends the time every 20ms until its
// context ends, and then returns what end makes of the context.
type ticker struct {
	testpb.UnimplementedTestServiceServer
	end     func(context.Context) error
	entered atomic.Int32
}

func (tk *ticker) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	tk.entered.Add(1)
	ctx := ss.Context()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		now := strconv.FormatInt(time.Now().UnixNano(), 10)
		if err := ss.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(now)}}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return tk.end(ctx)
		case <-tick.C:
		}
	}
}

// watchCtx is a stream's context: generous, so a stream that should end
// and does not fails the test rather than hanging it.
func watchCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openWatch opens a ticker stream with token and waits for its first
// message, so the server has counted it.
func openWatch(t *testing.T, ctx context.Context, conn *grpc.ClientConn, token string) grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse] {
	t.Helper()
	s, err := testpb.NewTestServiceClient(conn).StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{}, grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(token)))
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatalf("first message: %v", err)
	}
	return s
}

// TestStreamEndsAtTokenExpiry: a stream opened with a short-lived token
// ends Unauthenticated once the token expires, however its handler ends;
// a stream of the same caller whose token is still valid goes on.
func TestStreamEndsAtTokenExpiry(t *testing.T) {
	t.Parallel()
	ed := edKeys(t)
	v := mustVerifier(t, ed)
	alice := auth.Claims{Subject: "alice", Role: auth.RoleDashboard, Regions: []string{"london"}}
	endings := []struct {
		name string
		end  func(context.Context) error
	}{
		{"handler returns nil", func(context.Context) error { return nil }},
		{"handler returns the context's error", func(ctx context.Context) error { return ctx.Err() }},
		{"handler returns the context's status", func(ctx context.Context) error { return status.FromContextError(ctx.Err()).Err() }},
		{"handler returns the cause", context.Cause},
	}
	for _, tt := range endings {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn := serveWith(t, v, nil, &ticker{end: tt.end})
			short := mintFor(t, ed, alice, 2*time.Second)
			claims, err := v.Verify(context.Background(), short)
			if err != nil {
				t.Fatalf("verify the short token: %v", err)
			}
			ctx := watchCtx(t)
			expiring := openWatch(t, ctx, conn, short)
			lasting := openWatch(t, ctx, conn, mint(t, ed, alice))

			for err == nil {
				_, err = expiring.Recv()
			}
			ended := time.Now()
			checkStatus(t, "stream after its token expired", err, codes.Unauthenticated, "token expired; sign in again")
			if ended.Before(claims.ExpiresAt) {
				t.Errorf("stream ended at %v, before its token expired at %v", ended, claims.ExpiresAt)
			}

			// The other stream still sends: a message sent after the
			// first one ended arrives.
			for {
				msg, err := lasting.Recv()
				if err != nil {
					t.Fatalf("stream with a valid token: %v", err)
				}
				sent, _ := strconv.ParseInt(string(msg.GetPayload().GetBody()), 10, 64)
				if time.Unix(0, sent).After(ended) {
					break
				}
			}
		})
	}
}

// TestStreamRefusesExpiredToken: a token past its exp opens no stream,
// even within the verifier's leeway for clock skew, and its handler never
// runs.
func TestStreamRefusesExpiredToken(t *testing.T) {
	t.Parallel()
	ed := edKeys(t)
	v := mustVerifier(t, ed)
	tk := &ticker{end: func(context.Context) error { return nil }}
	conn := serveWith(t, v, nil, tk)
	tok := mintFor(t, ed, auth.Claims{Subject: "alice", Role: auth.RoleAdmin}, time.Second)
	claims, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	time.Sleep(time.Until(claims.ExpiresAt) + 10*time.Millisecond)

	s, err := testpb.NewTestServiceClient(conn).StreamingOutputCall(watchCtx(t), &testpb.StreamingOutputCallRequest{}, grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(tok)))
	if err == nil {
		_, err = s.Recv()
	}
	checkStatus(t, "stream with an expired token", err, codes.Unauthenticated, "token expired")
	if n := tk.entered.Load(); n != 0 {
		t.Errorf("handler ran %d times for an expired token", n)
	}
}

// TestMaxStreamsPerSubject: a caller at the cap is refused another stream
// ResourceExhausted, naming the cap; other callers are not; a closed
// stream frees its place.
func TestMaxStreamsPerSubject(t *testing.T) {
	t.Parallel()
	ed := edKeys(t)
	const limit = 2
	tk := &ticker{end: func(ctx context.Context) error { return ctx.Err() }}
	conn := serveWith(t, mustVerifier(t, ed), grpcauth.DefaultSkip, tk, grpcauth.MaxStreamsPerSubject(limit))
	alice := mint(t, ed, auth.Claims{Subject: "alice", Role: auth.RoleDashboard})
	bob := mint(t, ed, auth.Claims{Subject: "bob", Role: auth.RoleDashboard})

	first, cancelFirst := context.WithCancel(watchCtx(t))
	defer cancelFirst()
	openWatch(t, first, conn, alice)
	for range limit - 1 {
		openWatch(t, watchCtx(t), conn, alice)
	}

	// Another token of the same subject counts against the same cap.
	again := mint(t, ed, auth.Claims{Subject: "alice", Role: auth.RoleDashboard})
	for _, tok := range []string{alice, again} {
		s, err := testpb.NewTestServiceClient(conn).StreamingOutputCall(watchCtx(t), &testpb.StreamingOutputCallRequest{}, grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(tok)))
		if err == nil {
			_, err = s.Recv()
		}
		checkStatus(t, "stream past the cap", err, codes.ResourceExhausted, fmt.Sprintf("at most %d", limit))
	}
	entered := tk.entered.Load()
	if entered != limit {
		t.Errorf("handler ran %d times, want %d: a refused stream must not reach it", entered, limit)
	}

	openWatch(t, watchCtx(t), conn, bob)

	// Closing one of alice's streams lets her open another, once the
	// server has seen it close.
	cancelFirst()
	testenv.Eventually(t, "a closed stream to free its place", func() (bool, string) {
		s, err := testpb.NewTestServiceClient(conn).StreamingOutputCall(watchCtx(t), &testpb.StreamingOutputCallRequest{}, grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(alice)))
		if err == nil {
			_, err = s.Recv()
		}
		return err == nil, fmt.Sprint(err)
	})
}
