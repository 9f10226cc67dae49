package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// summaries is a reporting service whose WatchRegion sends a summary every
// 50 ms; with refuse set, it refuses every watch as unauthenticated.
type summaries struct {
	reportingv1.UnimplementedReportingServiceServer
	opened, refuse atomic.Int32
}

func (s *summaries) WatchRegion(req *reportingv1.WatchRegionRequest, stream grpc.ServerStreamingServer[reportingv1.WatchRegionResponse]) error {
	n := s.opened.Add(1)
	if s.refuse.Load() > 0 && n > 1 {
		return status.Error(codes.Unauthenticated, "token expired; sign in again")
	}
	for {
		if err := stream.Send(&reportingv1.WatchRegionResponse{Summary: &reportingv1.RegionSummary{Region: req.GetRegion()}}); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		if s.refuse.Load() > 0 && n == 1 {
			return status.Error(codes.Unauthenticated, "token expired; sign in again")
		}
	}
}

// serveSummaries serves s on a loopback port whose connections the server
// closes after a short age, as GRPC_MAX_CONNECTION_AGE does.
func serveSummaries(t *testing.T, s *summaries) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: 300 * time.Millisecond, MaxConnectionAgeGrace: 200 * time.Millisecond,
	}))
	reportingv1.RegisterReportingServiceServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// watchUntil runs a watch until done reports true (checked every 50 ms)
// or a generous minute passes, as if interrupted then.
func watchUntil(t *testing.T, addr string, done func() bool) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		for !done() && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.configHome = t.TempDir()
	code = a.run(ctx, []string{"reports", "watch", "--region", "london", "-o", "json", "--reporting-addr", addr, "--token", "t", "--insecure"})
	return out.String(), errOut.String(), code
}

// TestWatchOpensAgain: a watch whose connection the server closes opens
// again by itself and goes on printing, until interrupted.
func TestWatchOpensAgain(t *testing.T) {
	t.Parallel()
	s := &summaries{}
	stdout, stderr, code := watchUntil(t, serveSummaries(t, s), func() bool { return s.opened.Load() >= 3 })
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	if s.opened.Load() < 3 || !strings.Contains(stderr, "opening it again") {
		t.Errorf("the watch was opened %d times; stderr: %s", s.opened.Load(), stderr)
	}
	if n := strings.Count(stdout, `"london"`); n < 3 {
		t.Errorf("%d summaries printed across the reconnections, want many", n)
	}
}

// TestWatchEndsOnARefusedToken: a token that stops working is tried once
// more, then the watch ends unauthenticated.
func TestWatchEndsOnARefusedToken(t *testing.T) {
	t.Parallel()
	s := &summaries{}
	s.refuse.Store(1)
	_, stderr, code := watchUntil(t, serveSummaries(t, s), func() bool { return false })
	if code != exitDenied || s.opened.Load() != 2 {
		t.Errorf("exit %d after %d opens, want %d after 2; stderr: %s", code, s.opened.Load(), exitDenied, stderr)
	}
}
