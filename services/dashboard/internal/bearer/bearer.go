// Package bearer carries the signed-in user's token to the reporting
// service: a request's context holds the token (WithToken), and the gRPC
// connection's per-call credentials send it. The dashboard has no token of
// its own and no key to make one, so a call whose context holds no token
// fails instead of going out as someone else.
package bearer

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
)

type tokenKey struct{}

// WithToken returns ctx carrying token, the bearer of every reporting call
// made with it.
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// Token is the token ctx carries, if any.
func Token(ctx context.Context) (string, bool) {
	tok, ok := ctx.Value(tokenKey{}).(string)
	return tok, ok && tok != ""
}

// FromContext returns credentials that send the token of each call's
// context, and fail the call when it has none. They send it over TLS only
// or, with loopbackPlaintext (REPORTING_INSECURE), also over a
// grpcauth.PlaintextLoopback connection; never in plain text across a
// network (grpcauth.CheckTransport).
func FromContext(loopbackPlaintext bool) credentials.PerRPCCredentials {
	return fromContext{loopback: loopbackPlaintext}
}

type fromContext struct{ loopback bool }

// errNoToken is a programming error: a reporting call outside a signed-in
// request or a stream opened for one.
var errNoToken = status.Error(codes.Unauthenticated, "dashboard: no signed-in user's token for this call")

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (f fromContext) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, ok := Token(ctx)
	if !ok {
		return nil, errNoToken
	}
	if err := grpcauth.CheckTransport(ctx, f.loopback); err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: TLS,
// unless plain text to loopback was asked for.
func (f fromContext) RequireTransportSecurity() bool { return !f.loopback }
