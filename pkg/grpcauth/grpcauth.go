// Package grpcauth puts pkg/auth in front of gRPC: server interceptors that
// verify the bearer token of every call and hand its claims to the handler,
// and the client credentials that send one.
package grpcauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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
		ctx, _, err := authenticate(ctx, v)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// ErrTokenExpired is the context cause a stream's handler sees when the
// caller's token expires with the stream open, and what the stream ends
// with (codes.Unauthenticated): a stream may not outlive the token that
// opened it. It wraps auth.ErrUnauthenticated, so a handler that returns
// context.Cause maps to Unauthenticated too.
var ErrTokenExpired = fmt.Errorf("%w: token expired; sign in again", auth.ErrUnauthenticated)

// StreamOption tunes StreamServerInterceptor.
type StreamOption func(*streamOptions)

type streamOptions struct {
	maxPerSubject int
}

// MaxStreamsPerSubject caps the streams one token subject may have open at
// once on this server, whatever their method or connection: past it, a new
// stream is refused with codes.ResourceExhausted before its handler runs, so
// one caller cannot hold every goroutine and database connection the
// server has. Zero or less means no cap.
func MaxStreamsPerSubject(n int) StreamOption {
	return func(o *streamOptions) { o.maxPerSubject = n }
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls. The
// token is verified once, when the stream opens, and the stream lives no
// longer than the token: the handler's context ends at the token's expiry
// (its cause ErrTokenExpired), and the stream then ends Unauthenticated
// whatever the handler returned for it, so the client signs in again and
// reopens. A token past its exp is refused for a new stream even within the
// verifier's leeway for clock skew, which would only let the stream open
// to be ended at once. Skipped calls are neither checked nor counted.
func StreamServerInterceptor(v *auth.Verifier, skip func(fullMethod string) bool, opts ...StreamOption) grpc.StreamServerInterceptor {
	mustHaveVerifier(v)
	var o streamOptions
	for _, opt := range opts {
		opt(&o)
	}
	open := &openStreams{max: o.maxPerSubject, bySubject: map[string]int{}}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if skip != nil && skip(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, c, err := authenticate(ss.Context(), v)
		if err != nil {
			return err
		}
		if !time.Now().Before(c.ExpiresAt) {
			return status.Error(codes.Unauthenticated, ErrTokenExpired.Error())
		}
		release, ok := open.acquire(c.Subject)
		if !ok {
			return status.Errorf(codes.ResourceExhausted, "too many open streams: at most %d at once per caller; close one first", open.max)
		}
		defer release()

		ctx, cancel := context.WithDeadlineCause(ctx, c.ExpiresAt, ErrTokenExpired)
		err = handler(srv, &claimsStream{ServerStream: ss, ctx: ctx})
		// Cancel before reading the cause: a handler that finished just
		// before the expiry must not be reported as cut off by it.
		cancel()
		if errors.Is(context.Cause(ctx), ErrTokenExpired) && endedByContext(err) {
			return status.Error(codes.Unauthenticated, ErrTokenExpired.Error())
		}
		return err
	}
}

// endedByContext reports whether a handler's result is what it returns
// when its context ends: nil (a watch whose client is gone has nothing to
// say), the context's error, or its status. A real failure (Internal, say)
// is left as it is.
func endedByContext(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.Is(err, auth.ErrUnauthenticated):
		return true
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Canceled, codes.Unauthenticated:
		return true
	}
	return false
}

// openStreams counts each subject's open streams against max (none when
// max <= 0).
type openStreams struct {
	max       int
	mu        sync.Mutex
	bySubject map[string]int
}

// acquire counts a new stream of subject, or reports false if subject is
// at the cap; release uncounts it.
func (o *openStreams) acquire(subject string) (release func(), ok bool) {
	if o.max <= 0 {
		return func() {}, true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bySubject[subject] >= o.max {
		return nil, false
	}
	o.bySubject[subject]++
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		// Forget subjects with nothing open, so the map holds only
		// current callers.
		if o.bySubject[subject]--; o.bySubject[subject] <= 0 {
			delete(o.bySubject, subject)
		}
	}, true
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

// authenticate returns ctx carrying the verified claims, and the claims, or
// a status error.
// Status messages are short and fixed apart from the verifier's reason, which
// never contains the token.
func authenticate(ctx context.Context, v *auth.Verifier) (context.Context, auth.Claims, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get(authorizationKey)
	switch len(values) {
	case 0:
		return nil, auth.Claims{}, status.Error(codes.Unauthenticated, "missing bearer token")
	case 1:
	default:
		// Two headers could be checked by one layer and read by another;
		// refuse rather than guess which one counts.
		return nil, auth.Claims{}, status.Error(codes.Unauthenticated, "more than one authorization header")
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, auth.Claims{}, status.Error(codes.Unauthenticated, "authorization header is not \"Bearer <token>\"")
	}
	c, err := v.Verify(ctx, strings.TrimSpace(token))
	if err != nil {
		return nil, auth.Claims{}, status.Error(codes.Unauthenticated, err.Error())
	}
	return auth.WithClaims(ctx, c), c, nil
}

// claimsStream swaps the stream's context for one carrying the claims, the
// only way to hand values to a stream handler.
type claimsStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *claimsStream) Context() context.Context { return s.ctx }
