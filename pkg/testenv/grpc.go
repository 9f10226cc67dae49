package testenv

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
)

// GRPC is a test's gRPC server: the services' own set-up (pkg/grpcserver)
// with the production bearer-token interceptors, on a loopback port.
type GRPC struct {
	Addr string
	// Signer mints tokens the server accepts.
	Signer *auth.Signer
}

// StartGRPC starts a server verifying tokens signed with the HS256 key,
// after register has added the services; stream interceptors run after
// authentication. The server stops when the test ends.
func StartGRPC(t testing.TB, key string, log *slog.Logger, register func(*grpc.Server), stream ...grpc.StreamServerInterceptor) *GRPC {
	t.Helper()
	return StartGRPCWith(t, key, log, register, grpcserver.Options{Stream: stream})
}

// StartGRPCWith is StartGRPC with extra unary and stream interceptors,
// which run after authentication.
func StartGRPCWith(t testing.TB, key string, log *slog.Logger, register func(*grpc.Server), extra grpcserver.Options) *GRPC {
	t.Helper()
	keys := auth.KeyConfig{HS256Key: key}
	verifier, err := keys.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcserver.New(grpcserver.Config{Addr: "127.0.0.1:0"}, log, grpcserver.Options{
		Unary:  append([]grpc.UnaryServerInterceptor{grpcauth.UnaryServerInterceptor(verifier, grpcauth.DefaultSkip)}, extra.Unary...),
		Stream: append([]grpc.StreamServerInterceptor{grpcauth.StreamServerInterceptor(verifier, grpcauth.DefaultSkip)}, extra.Stream...),
	})
	if err != nil {
		t.Fatal(err)
	}
	register(srv.GRPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("grpc server: %v", err)
		}
	})
	return &GRPC{Addr: srv.Addr().String(), Signer: signer}
}

// Dial connects to addr, a loopback address, in plain text (as `make run`
// does) sending token as its bearer token ("" sends none); the connection
// closes when the test ends.
func Dial(t testing.TB, addr, token string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(grpcauth.PlaintextLoopback())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(grpcauth.LoopbackBearerToken(token)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Token mints an hour-long token for c.
func Token(t testing.TB, signer *auth.Signer, c auth.Claims) string {
	t.Helper()
	tok, err := signer.Mint(c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// WantStatus fails the test unless err is a status with code whose message
// holds each of texts, and returns the status.
func WantStatus(t testing.TB, err error, code codes.Code, texts ...string) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
	for _, s := range texts {
		if !strings.Contains(st.Message(), s) {
			t.Errorf("message %q does not mention %q", st.Message(), s)
		}
	}
	return st
}

// WantField fails the test unless err is InvalidArgument naming field in
// its message and as the only field of its BadRequest detail (see
// pkg/apistatus).
func WantField(t testing.TB, err error, field string) {
	t.Helper()
	st := WantStatus(t, err, codes.InvalidArgument, field)
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if !slices.Equal(fields, []string{field}) {
		t.Errorf("BadRequest detail of %q names fields %q, want [%s]", st.Message(), fields, field)
	}
}
