package grpcauth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
)

const hsKey = "0123456789abcdef0123456789abcdef-test-only"

// edKeys returns the KeyConfig of a fresh Ed25519 key pair.
func edKeys(t *testing.T) auth.KeyConfig {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatalf("generate ed25519 key: %v", err)
	}
	return auth.KeyConfig{
		Ed25519PublicKey:  base64.StdEncoding.EncodeToString(pub),
		Ed25519PrivateKey: base64.StdEncoding.EncodeToString(priv.Seed()),
	}
}

func mustVerifier(t *testing.T, k auth.KeyConfig) *auth.Verifier {
	t.Helper()
	v, err := k.Verifier()
	if err != nil {
		t.Fatalf("build verifier: %v", err)
	}
	return v
}

// mint signs an hour-long token for c with k.
func mint(t *testing.T, k auth.KeyConfig, c auth.Claims) string {
	t.Helper()
	return mintFor(t, k, c, time.Hour)
}

// mintFor signs a token for c with k that lives for ttl.
func mintFor(t *testing.T, k auth.KeyConfig, c auth.Claims, ttl time.Duration) string {
	t.Helper()
	s, err := k.Signer()
	if err != nil {
		t.Fatalf("build signer: %v", err)
	}
	tok, err := s.Mint(c, ttl)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// whoAmI echoes the caller's claims so tests can see what the handler saw.
type whoAmI struct {
	testpb.UnimplementedTestServiceServer
}

func (whoAmI) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	c, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.FailedPrecondition, "handler saw no claims")
	}
	return &testpb.SimpleResponse{Username: c.Subject, OauthScope: string(c.Role)}, nil
}

func (whoAmI) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	c, ok := auth.FromContext(ss.Context())
	if !ok {
		return status.Error(codes.FailedPrecondition, "handler saw no claims")
	}
	return ss.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(c.Subject)}})
}

// serve starts a loopback gRPC server guarded by the auth interceptors and
// returns a client connection to it.
func serve(t *testing.T, v *auth.Verifier, skip func(string) bool) *grpc.ClientConn {
	t.Helper()
	return serveWith(t, v, skip, whoAmI{})
}

// serveWith is serve with svc as the test service and opts for the stream
// interceptor.
func serveWith(t *testing.T, v *auth.Verifier, skip func(string) bool, svc testpb.TestServiceServer, opts ...grpcauth.StreamOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(grpcauth.UnaryServerInterceptor(v, skip)),
		grpc.StreamInterceptor(grpcauth.StreamServerInterceptor(v, skip, opts...)),
	)
	testpb.RegisterTestServiceServer(srv, svc)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(grpcauth.PlaintextLoopback()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestInterceptors(t *testing.T) {
	t.Parallel()
	ed := edKeys(t)
	v := mustVerifier(t, ed)
	good := mint(t, ed, auth.Claims{Subject: "alice", Role: auth.RoleSPOC, Regions: []string{"london"}})
	hsToken := mint(t, auth.KeyConfig{HS256Key: hsKey}, auth.Claims{Subject: "mallory", Role: auth.RoleAdmin})
	foreign := mint(t, edKeys(t), auth.Claims{Subject: "alice", Role: auth.RoleSPOC}) // a key the server does not trust
	conn := serve(t, v, grpcauth.DefaultSkip)
	client := testpb.NewTestServiceClient(conn)

	tests := []struct {
		name     string
		opts     []grpc.CallOption
		md       []string // extra outgoing metadata pairs
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "no token", wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "garbage token", opts: []grpc.CallOption{grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken("garbage"))}, wantCode: codes.Unauthenticated, wantMsg: "token malformed"},
		{name: "untrusted key", opts: []grpc.CallOption{grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(foreign))}, wantCode: codes.Unauthenticated, wantMsg: "token signature invalid"},
		{name: "wrong algorithm", opts: []grpc.CallOption{grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(hsToken))}, wantCode: codes.Unauthenticated, wantMsg: "not accepted"},
		{name: "not bearer scheme", md: []string{"authorization", "Basic " + good}, wantCode: codes.Unauthenticated, wantMsg: "Bearer <token>"},
		{name: "two authorization headers", md: []string{"authorization", "Bearer " + good, "authorization", "Bearer " + good}, wantCode: codes.Unauthenticated, wantMsg: "more than one"},
		{name: "good token", opts: []grpc.CallOption{grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(good))}, wantCode: codes.OK},
		{name: "lower-case scheme", md: []string{"authorization", "bearer " + good}, wantCode: codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := callCtx(t)
			if len(tt.md) > 0 {
				ctx = metadata.AppendToOutgoingContext(ctx, tt.md...)
			}

			resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}, tt.opts...)
			checkStatus(t, "unary", err, tt.wantCode, tt.wantMsg)
			if err == nil && (resp.GetUsername() != "alice" || resp.GetOauthScope() != "spoc") {
				t.Errorf("unary handler saw %q/%q, want alice/spoc", resp.GetUsername(), resp.GetOauthScope())
			}

			stream, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{}, tt.opts...)
			if err != nil {
				t.Fatalf("open stream: %v", err)
			}
			msg, err := stream.Recv()
			checkStatus(t, "stream", err, tt.wantCode, tt.wantMsg)
			if err == nil && string(msg.GetPayload().GetBody()) != "alice" {
				t.Errorf("stream handler saw subject %q, want alice", msg.GetPayload().GetBody())
			}

			for _, secret := range []string{good, foreign, hsToken} {
				if err != nil && strings.Contains(status.Convert(err).Message(), secret) {
					t.Errorf("status message echoes the token")
				}
			}
		})
	}
}

func checkStatus(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("%s: code = %v (%q), want %v", what, st.Code(), st.Message(), code)
	}
	if !strings.Contains(st.Message(), msg) {
		t.Errorf("%s: message %q does not contain %q", what, st.Message(), msg)
	}
}

func TestInterceptorsSkip(t *testing.T) {
	t.Parallel()
	v := mustVerifier(t, auth.KeyConfig{HS256Key: hsKey})
	tests := []struct {
		name string
		skip func(string) bool
		want codes.Code
	}{
		{name: "default skip lets health through", skip: grpcauth.DefaultSkip, want: codes.OK},
		{name: "nil skip guards health too", skip: nil, want: codes.Unauthenticated},
		{name: "custom skip", skip: func(m string) bool { return m == "/grpc.health.v1.Health/Check" }, want: codes.OK},
		{name: "custom skip of other methods", skip: func(m string) bool { return m == "/grpc.health.v1.Health/Watch" }, want: codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn := serve(t, v, tt.skip)
			resp, err := healthpb.NewHealthClient(conn).Check(callCtx(t), &healthpb.HealthCheckRequest{})
			if got := status.Code(err); got != tt.want {
				t.Fatalf("health Check code = %v (%v), want %v", got, err, tt.want)
			}
			if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health status = %v, want SERVING", resp.GetStatus())
			}
		})
	}
}

func TestInterceptorsSkipDoesNotExemptOtherMethods(t *testing.T) {
	t.Parallel()
	conn := serve(t, mustVerifier(t, auth.KeyConfig{HS256Key: hsKey}), grpcauth.DefaultSkip)
	_, err := testpb.NewTestServiceClient(conn).UnaryCall(callCtx(t), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("UnaryCall without token: %v, want Unauthenticated", err)
	}
}

func TestDefaultSkip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		want   bool
	}{
		{"/grpc.health.v1.Health/Check", true},
		{"/grpc.health.v1.Health/Watch", true},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", true},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", true},
		{"/pipeline.applications.v1.Applications/Create", false},
		{"/grpc.health.v1.HealthX/Check", false},
		{"/evil.grpc.health.v1.Health/Check", false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			if got := grpcauth.DefaultSkip(tt.method); got != tt.want {
				t.Errorf("DefaultSkip(%q) = %v, want %v", tt.method, got, tt.want)
			}
		})
	}
}
