package grpcauth_test

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
)

// recorder is a gRPC server that keeps every authorization header it is
// sent, so a test can see whether a token left the client.
type recorder struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func (r *recorder) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// record serves on host (port 0), with TLS when tlsCfg is not nil.
func record(t *testing.T, host string, tlsCfg *tls.Config) *recorder {
	t.Helper()
	lis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{addr: lis.Addr().String()}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		r.mu.Lock()
		r.seen = append(r.seen, md.Get("authorization")...)
		r.mu.Unlock()
		return &testpb.SimpleResponse{}, nil
	})}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(srv, testpb.UnimplementedTestServiceServer{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return r
}

// networkIP is an address of this machine that is not loopback: a
// connection to it is a connection across a network as far as any check
// on the address can tell.
func networkIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Fatal("this test needs a non-loopback IPv4 address on the machine; it found none")
	return ""
}

func call(t *testing.T, addr string, creds credentials.TransportCredentials, opts ...grpc.CallOption) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(callCtx(t), &testpb.SimpleRequest{}, opts...)
	return err
}

// TestBearerTokenNeverInPlainTextToANetwork: whatever the client's
// transport, a bearer token reaches a plain-text server on a network
// address in none of the ways a client could be configured.
func TestBearerTokenNeverInPlainTextToANetwork(t *testing.T) {
	t.Parallel()
	srv := record(t, networkIP(t), nil)
	for _, tt := range []struct {
		name  string
		creds credentials.TransportCredentials
		token credentials.PerRPCCredentials
		want  codes.Code
	}{
		{"bearer token, plain text", insecure.NewCredentials(), grpcauth.BearerToken("secret-1"), codes.Unauthenticated},
		{"loopback bearer token, plain text", insecure.NewCredentials(), grpcauth.LoopbackBearerToken("secret-2"), codes.Unauthenticated},
		{"loopback bearer token, plain text to loopback only", grpcauth.PlaintextLoopback(), grpcauth.LoopbackBearerToken("secret-3"), codes.Unavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := call(t, srv.addr, tt.creds, grpc.PerRPCCredentials(tt.token))
			if status.Code(err) != tt.want {
				t.Errorf("call = %v, want %s", err, tt.want)
			}
		})
	}
	// As a dial option, a token that needs TLS cannot even be configured
	// on a plain-text connection.
	if _, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcauth.BearerToken("secret-4"))); err == nil {
		t.Error("NewClient with BearerToken on a plain-text connection: accepted")
	}
	// The server is reachable, and sees no token.
	if err := call(t, srv.addr, insecure.NewCredentials()); err != nil {
		t.Fatalf("call without a token: %v", err)
	}
	if seen := srv.tokens(); len(seen) > 0 {
		t.Errorf("the server received %q in plain text", seen)
	}
}

// TestBearerTokenTransport: BearerToken goes over TLS and never over plain
// text, even to loopback; LoopbackBearerToken goes over TLS, and over
// plain text to loopback through PlaintextLoopback.
func TestBearerTokenTransport(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	serverTLS, err := tlsconfig.Server{CertFile: certs.Server.Cert, KeyFile: certs.Server.Key}.Config()
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := tlsconfig.Client{CAFile: certs.CA}.Config()
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := record(t, "127.0.0.1", serverTLS)
	plainSrv := record(t, "127.0.0.1", nil)

	if err := call(t, tlsSrv.addr, credentials.NewTLS(clientTLS), grpc.PerRPCCredentials(grpcauth.BearerToken("over-tls"))); err != nil {
		t.Errorf("BearerToken over TLS: %v", err)
	}
	if err := call(t, tlsSrv.addr, credentials.NewTLS(clientTLS), grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken("loopback-over-tls"))); err != nil {
		t.Errorf("LoopbackBearerToken over TLS: %v", err)
	}
	if seen := tlsSrv.tokens(); len(seen) != 2 || seen[0] != "Bearer over-tls" || seen[1] != "Bearer loopback-over-tls" {
		t.Errorf("the TLS server received %q", seen)
	}

	err = call(t, plainSrv.addr, grpcauth.PlaintextLoopback(), grpc.PerRPCCredentials(grpcauth.BearerToken("needs-tls")))
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("BearerToken in plain text to loopback = %v, want Unauthenticated", err)
	}
	if err := call(t, plainSrv.addr, grpcauth.PlaintextLoopback(), grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken("loopback"))); err != nil {
		t.Errorf("LoopbackBearerToken in plain text to loopback: %v", err)
	}
	if seen := plainSrv.tokens(); len(seen) != 1 || seen[0] != "Bearer loopback" {
		t.Errorf("the plain-text server received %q, want only the loopback token", seen)
	}
}

func TestBearerTokenRequiresTransportSecurity(t *testing.T) {
	t.Parallel()
	if !grpcauth.BearerToken("abc").RequireTransportSecurity() {
		t.Error("BearerToken: RequireTransportSecurity = false")
	}
	// Outside a call (no connection to judge) the token is withheld.
	if _, err := grpcauth.LoopbackBearerToken("abc").GetRequestMetadata(context.Background()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetRequestMetadata with no connection = %v, want Unauthenticated", err)
	}
}
