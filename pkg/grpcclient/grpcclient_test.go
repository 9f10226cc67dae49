package grpcclient_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/grpcclient"
)

// flaky answers Unavailable to its first calls.
type flaky struct {
	healthpb.UnimplementedHealthServer
	fail  int32
	calls atomic.Int32
}

func (f *flaky) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if f.calls.Add(1) <= f.fail {
		return nil, status.Error(codes.Unavailable, "the database is unavailable; try again")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func serve(t *testing.T, srv healthpb.HealthServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestRetryUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fail      int32
		wantCode  codes.Code
		wantCalls int32
	}{
		{fail: 2, wantCode: codes.OK, wantCalls: 3},
		{fail: 10, wantCode: codes.Unavailable, wantCalls: 4},
	} {
		f := &flaky{fail: tc.fail}
		conn, err := grpc.NewClient(serve(t, f), grpc.WithTransportCredentials(insecure.NewCredentials()), grpcclient.RetryUnavailable())
		if err != nil {
			t.Fatal(err)
		}
		_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		conn.Close()
		if status.Code(err) != tc.wantCode || f.calls.Load() != tc.wantCalls {
			t.Errorf("%d failures: %v after %d calls; want %v after %d", tc.fail, err, f.calls.Load(), tc.wantCode, tc.wantCalls)
		}
	}
	// Other codes are not retried.
	var refused countingRefusal
	conn, err := grpc.NewClient(serve(t, &refused), grpc.WithTransportCredentials(insecure.NewCredentials()), grpcclient.RetryUnavailable())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.FailedPrecondition || refused.calls.Load() != 1 {
		t.Errorf("FailedPrecondition: %v after %d calls; want it after 1", err, refused.calls.Load())
	}
}

type countingRefusal struct {
	healthpb.UnimplementedHealthServer
	calls atomic.Int32
}

func (c *countingRefusal) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	c.calls.Add(1)
	return nil, status.Error(codes.FailedPrecondition, "no")
}

// TestBalanced: calls to a target of several replicas reach every replica
// that is up, none fails for the one that is down, and Unavailable is
// still retried.
func TestBalanced(t *testing.T) {
	t.Parallel()
	up, unavailableOnce := &flaky{}, &flaky{fail: 1}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := lis.Addr().String()
	lis.Close()
	r := manual.NewBuilderWithScheme("replicas")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: serve(t, up)}, {Addr: down}, {Addr: serve(t, unavailableOnce)}}})
	conn, err := grpc.NewClient(r.Scheme()+":///health", grpc.WithResolvers(r), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcclient.Balanced())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 20 {
		if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if up.calls.Load() == 0 || unavailableOnce.calls.Load() <= unavailableOnce.fail {
		t.Errorf("replicas served %d and %d calls (the second failing its first %d); want both to serve some",
			up.calls.Load(), unavailableOnce.calls.Load(), unavailableOnce.fail)
	}
}
