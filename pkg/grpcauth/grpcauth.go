// Package grpcauth puts pkg/auth in front of gRPC: server interceptors that
// verify the bearer token of every call and hand its claims to the handler,
// and the client credentials that send one.
package grpcauth

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/auth"
)

// authorizationKey is the metadata key of the bearer token; gRPC lower-cases
// metadata keys, so this is the only spelling that arrives.
const authorizationKey = "authorization"

// UnaryServerInterceptor verifies the bearer token of every unary call and
// puts the caller's Claims in the handler's context. A missing or bad token
// ends the call with codes.Unauthenticated before the handler runs. Calls for
// which skip returns true pass through untouched; skip may be nil.
func UnaryServerInterceptor(v *auth.Verifier, skip func(fullMethod string) bool) grpc.UnaryServerInterceptor {
	mustHaveVerifier(v)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if skip != nil && skip(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := authenticate(ctx, v)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls: the
// token is checked once, when the stream opens.
func StreamServerInterceptor(v *auth.Verifier, skip func(fullMethod string) bool) grpc.StreamServerInterceptor {
	mustHaveVerifier(v)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if skip != nil && skip(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := authenticate(ss.Context(), v)
		if err != nil {
			return err
		}
		return handler(srv, &claimsStream{ServerStream: ss, ctx: ctx})
	}
}

// DefaultSkip lets health probes and reflection listing through without a
// token: the platform's probes and grpcurl have none, and neither service
// reveals pipeline data.
func DefaultSkip(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

// mustHaveVerifier panics at start-up on a nil verifier rather than on the
// first call, where recovery would hide it as Internal.
func mustHaveVerifier(v *auth.Verifier) {
	if v == nil {
		panic("auth: interceptor needs a non-nil *auth.Verifier")
	}
}

// authenticate returns ctx carrying the verified claims, or a status error.
// Status messages are short and fixed apart from the verifier's reason, which
// never contains the token.
func authenticate(ctx context.Context, v *auth.Verifier) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get(authorizationKey)
	switch len(values) {
	case 0:
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	case 1:
	default:
		// Two headers could be checked by one layer and read by another;
		// refuse rather than guess which one counts.
		return nil, status.Error(codes.Unauthenticated, "more than one authorization header")
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, status.Error(codes.Unauthenticated, "authorization header is not \"Bearer <token>\"")
	}
	c, err := v.Verify(ctx, strings.TrimSpace(token))
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return auth.WithClaims(ctx, c), nil
}

// claimsStream swaps the stream's context for one carrying the claims, the
// only way to hand values to a stream handler.
type claimsStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *claimsStream) Context() context.Context { return s.ctx }

// BearerToken returns per-call credentials sending token as
// "authorization: Bearer <token>". They do not require transport security:
// services listen in plain text behind the platform, which terminates TLS.
func BearerToken(token string) credentials.PerRPCCredentials {
	return bearerToken(token)
}

type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authorizationKey: "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }
