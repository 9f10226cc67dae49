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

	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
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
// production authentication and audit interceptors.
type Service struct {
	Pool *pgxpool.Pool
	// Audit records the service's calls that touch personal data.
	Audit *audit.Recorder
	*testenv.GRPC
}

// Start migrates a fresh schema as a service does at start-up (the
// runtime's tables, then migrations) and starts a gRPC server on which
// register adds the service, built on the schema's pool. With audit
// policies, the server also serves the audit trail
// (recruitment.audit.v1.AuditService) and, as a service does before
// serving, refuses — fails the test — while any method it serves is
// undeclared (audit.Recorder.Check).
func Start(t testing.TB, log *slog.Logger, migrations []pg.Migrations, register func(s *grpc.Server, pool *pgxpool.Pool), policies ...audit.Policy) *Service {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, service.Migrations(migrations...)...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	rec := audit.New(pool, log)
	srv := testenv.StartGRPCWith(t, Key, log, func(s *grpc.Server) {
		register(s, pool)
		if len(policies) == 0 {
			return
		}
		audit.Register(s, rec, policies...)
		if err := rec.Check(s.GetServiceInfo()); err != nil {
			t.Fatal(err)
		}
	}, grpcserver.Options{
		Unary: []grpc.UnaryServerInterceptor{rec.UnaryServerInterceptor()}, Stream: []grpc.StreamServerInterceptor{rec.StreamServerInterceptor()},
	})
	return &Service{Pool: pool, Audit: rec, GRPC: srv}
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
