// Package servicetest serves one test's service as production does: a
// schema migrated as at start-up, and real gRPC with the production
// authentication interceptors. It sits apart from pkg/testenv, which the
// runtime's own packages use in their tests, because it builds on the
// runtime (pkg/service).
package servicetest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Key is the HS256 key a Start server verifies tokens with,
// for tests that craft tokens of their own.
const Key = "testenv-service-key-0123456789abcdef"

// Service is one test's service: its own schema with the tables a service
// has in production, and a real gRPC server on a loopback port with the
// production authentication interceptors.
type Service struct {
	Pool *pgxpool.Pool
	*testenv.GRPC
}

// Start migrates a fresh schema as a service does at start-up (the
// runtime's tables, then migrations) and starts a gRPC server on which
// register adds the service, built on the schema's pool.
func Start(t testing.TB, log *slog.Logger, migrations []pg.Migrations, register func(s *grpc.Server, pool *pgxpool.Pool)) *Service {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, service.Migrations(migrations...)...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	srv := testenv.StartGRPC(t, Key, log, func(s *grpc.Server) { register(s, pool) })
	return &Service{Pool: pool, GRPC: srv}
}

// As returns a connection calling as c.
func (s *Service) As(t testing.TB, c auth.Claims) *grpc.ClientConn {
	t.Helper()
	return testenv.Dial(t, s.Addr, testenv.Token(t, s.Signer, c))
}

// Handle applies ev with handle as the service's consumer does: inside a
// transaction that the context carries.
func (s *Service) Handle(t testing.TB, handle func(context.Context, *eventsv1.Event) error, ev *eventsv1.Event) {
	t.Helper()
	ctx := context.Background()
	if err := pg.InTx(ctx, s.Pool, func(tx pgx.Tx) error { return handle(pg.WithTx(ctx, tx), ev) }); err != nil {
		name, _ := event.Name(ev)
		t.Fatalf("handle %s: %v", name, err)
	}
}
