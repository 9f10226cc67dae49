package pg

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
)

// Unavailable reports whether err says the database could not be reached
// or dropped the connection under the call, rather than refusing the
// statement: SQLSTATE class 08 (connection exception), 57P01–57P03 (the
// server shutting down or starting), 53300 (too many connections), a
// failed connect, a connection or pool closed under the call, or a network
// error. Such a call may succeed when tried again.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// suspectFor is how long a pool checks the connections it hands out after
// one was found dropped.
const suspectFor = 5 * time.Second

// deadConnGuard makes a pool ping each connection it hands out for a while
// after a statement failed because its connection was dropped. The server
// that ended one backend has often ended the others too (a restart, a
// failover, an administrator), and each idle connection would otherwise
// fail a call of its own before the pool learnt it was dead; pinged, a dead
// one is replaced before any call sees it. Otherwise a pool pings only
// connections idle for over a second (pgxpool's default).
type deadConnGuard struct {
	until atomic.Int64 // Unix nanoseconds
}

func (g *deadConnGuard) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (g *deadConnGuard) TraceQueryEnd(_ context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if Unavailable(data.Err) {
		g.until.Store(time.Now().Add(suspectFor).UnixNano())
	}
}

func (g *deadConnGuard) shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	return p.IdleDuration > time.Second || time.Now().UnixNano() < g.until.Load()
}

// guardDeadConns installs a deadConnGuard on cfg.
func guardDeadConns(cfg *pgxpool.Config) {
	g := &deadConnGuard{}
	cfg.ConnConfig.Tracer = g
	cfg.ShouldPing = g.shouldPing
}
