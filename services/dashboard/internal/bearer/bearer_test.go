package bearer

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
)

// serve is a plain-text gRPC server on loopback that answers health checks
// with the authorization header it was sent as the service name's status.
func serve(t *testing.T) (addr string, seen chan string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen = make(chan string, 10)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, _ any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen <- firstOf(md.Get("authorization"))
		return &healthpb.HealthCheckResponse{}, nil
	}))
	healthpb.RegisterHealthServer(srv, healthpb.UnimplementedHealthServer{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), seen
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func check(t *testing.T, conn *grpc.ClientConn, ctx context.Context) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// TestSendsTheContextsToken: the signed-in user's token goes with the
// call, here in plain text to loopback as REPORTING_INSECURE allows.
func TestSendsTheContextsToken(t *testing.T) {
	t.Parallel()
	addr, seen := serve(t)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(grpcauth.PlaintextLoopback()), grpc.WithPerRPCCredentials(FromContext(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := check(t, conn, WithToken(context.Background(), "user-token")); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "Bearer user-token" {
		t.Errorf("the server saw %q, want Bearer user-token", got)
	}
}

// A call with no user's token fails rather than going out unauthenticated
// or as anyone else.
func TestRefusesACallWithoutAToken(t *testing.T) {
	t.Parallel()
	creds := FromContext(true)
	for _, ctx := range []context.Context{context.Background(), WithToken(context.Background(), "")} {
		md, err := creds.GetRequestMetadata(ctx)
		if status.Code(err) != codes.Unauthenticated || md != nil {
			t.Errorf("metadata = %v, %v; want Unauthenticated and none", md, err)
		}
	}
}

// TestNeverInPlainTextUnlessAskedFor: without REPORTING_INSECURE the
// token needs TLS, and even with it a plain-text connection that is not
// PlaintextLoopback's gets no token.
func TestNeverInPlainTextUnlessAskedFor(t *testing.T) {
	t.Parallel()
	addr, seen := serve(t)
	if _, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(FromContext(false))); err == nil {
		t.Error("credentials needing TLS accepted on a plain-text connection")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(FromContext(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := check(t, conn, WithToken(context.Background(), "user-token")); status.Code(err) != codes.Unauthenticated {
		t.Errorf("plain text outside PlaintextLoopback = %v, want Unauthenticated", err)
	}
	select {
	case got := <-seen:
		t.Errorf("the server was called, seeing %q", got)
	default:
	}
}
