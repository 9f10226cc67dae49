package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// interceptors returns the chains, outermost first. Metrics and logging sit
// outside recovery so a panic is counted and logged as the Internal it
// becomes; the extras sit inside so their failures are too.
func (s *Server) interceptors(opts Options) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	logger := slogAdapter(s.log)
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(codeToLevel),
		logging.WithDisableLoggingFields(logging.SystemTag[0], logging.ComponentFieldKey),
	}
	recoverOpt := recovery.WithRecoveryHandlerContext(s.recoverPanic)

	unary := []grpc.UnaryServerInterceptor{
		s.metrics.UnaryServerInterceptor(),
		logging.UnaryServerInterceptor(logger, logOpts...),
		recovery.UnaryServerInterceptor(recoverOpt),
	}
	if s.cfg.DefaultDeadline > 0 || s.cfg.MaxDeadline > 0 {
		unary = append(unary, deadlines(s.cfg.DefaultDeadline, s.cfg.MaxDeadline))
	}
	unary = append(unary, opts.Unary...)

	stream := []grpc.StreamServerInterceptor{
		s.metrics.StreamServerInterceptor(),
		logging.StreamServerInterceptor(logger, logOpts...),
		recovery.StreamServerInterceptor(recoverOpt),
		s.drainStreams,
	}
	stream = append(stream, opts.Stream...)
	return unary, stream
}

// slogAdapter lets the go-grpc-middleware logging interceptor write to slog;
// its levels are slog levels and its fields alternate key and value.
func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// codeToLevel keeps Error for what the server must fix; everything else is
// the caller's doing (or the network's) and logged at Warn.
func codeToLevel(c codes.Code) logging.Level {
	switch c {
	case codes.OK:
		return logging.LevelInfo
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return logging.LevelError
	}
	return logging.LevelWarn
}

// recoverPanic logs the panic with its stack and hides it from the caller:
// panic text can carry internal detail, so the caller gets a fixed message.
func (s *Server) recoverPanic(ctx context.Context, p any) error {
	fields := append(logging.ExtractFields(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	s.log.ErrorContext(ctx, "grpc handler panicked", fields...)
	return status.Error(codes.Internal, "internal error")
}

// deadlines gives calls without a deadline one of def, and cuts a longer
// deadline than limit (either zero: none) to limit, so neither a client that
// forgot a deadline nor one that asked for an hour can hold database work
// open past what the server allows.
func deadlines(def, limit time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var d time.Duration
		var what string
		switch deadline, ok := ctx.Deadline(); {
		case !ok && def > 0:
			d, what = def, "server default deadline exceeded"
		case limit > 0 && (!ok || time.Until(deadline) > limit):
			d, what = limit, fmt.Sprintf("deadline exceeded: the server allows a call at most %s", limit)
		default:
			return handler(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		resp, err := handler(ctx, req)
		// A handler returning the bare context error would reach the
		// client as Unknown; say what happened instead.
		if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			if _, isStatus := status.FromError(err); !isStatus {
				return resp, status.Error(codes.DeadlineExceeded, what)
			}
		}
		return resp, err
	}
}

// drainStreams ends streams when shutdown begins, by cancelling their
// context: a long-lived watch would otherwise hold the graceful stop for
// the whole ShutdownTimeout. Unary calls run to completion. A stream ended
// this way is Unavailable, which tells its client to reconnect elsewhere.
func (s *Server) drainStreams(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	defer context.AfterFunc(s.draining, cancel)()
	err := handler(srv, &drainedStream{ServerStream: ss, ctx: ctx})
	if s.draining.Err() != nil && ss.Context().Err() == nil && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled) {
		return status.Error(codes.Unavailable, "the server is shutting down; reconnect")
	}
	return err
}

type drainedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (d *drainedStream) Context() context.Context { return d.ctx }
