// Package pg connects services to PostgreSQL: a pgx pool confined to the
// service's own schema, embedded migrations applied at start-up, and a
// transaction helper.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Connect opens a pool on url whose every connection works in schema (its
// search_path), creating the schema if it does not exist and the role may.
// Each service owns one schema, so the same database can hold them all; in
// production each connects as its own role (EnsureServiceRole), which owns
// its schema and cannot reach the others.
func Connect(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("connect: schema %q must be lower-case letters, digits and _", schema)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error can quote the URL, password included.
		return nil, errors.New("connect: DATABASE_URL is not a valid PostgreSQL URL")
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	guardDeadConns(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// A service role may not create schemas (see EnsureServiceRole), and
	// PostgreSQL checks that right even when the schema exists: look first.
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if exists {
		return pool, nil
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		pool.Close()
		if SQLState(err) == InsufficientPrivilege {
			return nil, fmt.Errorf("connect: schema %s does not exist and this role may not create it: provision the service's role and schema first (cmd/dbroles)", schema)
		}
		return nil, fmt.Errorf("connect: create schema %s: %w", schema, err)
	}
	return pool, nil
}

// Migrations is one named, independently versioned set of migrations, in
// tern's format (NNN_name.sql, "---- create above / drop below ----").
type Migrations struct {
	// Name keys the set's version table, <schema>.<name>_schema_version.
	Name string
	FS   fs.FS
}

// Embedded returns the set named name read from folder dir of fsys,
// typically an embed.FS holding dir/*.sql.
func Embedded(name string, fsys fs.FS, dir string) Migrations {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		// Only an invalid dir gets here: a programming error caught by any test.
		panic(fmt.Sprintf("migrations %s: %v", name, err))
	}
	return Migrations{Name: name, FS: sub}
}

// Migrate applies each set in order to the pool's schema. Shared runtime
// tables (outbox, inbox, request log) come as their own sets so a service
// lists them beside its own. tern holds an advisory lock while it runs, so
// replicas starting together do not race.
func Migrate(ctx context.Context, pool *pgxpool.Pool, sets ...Migrations) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("migrate: current schema: %w", err)
	}
	for _, set := range sets {
		m, err := migrate.NewMigrator(ctx, conn.Conn(), schema+"."+set.Name+"_schema_version")
		if err != nil {
			return fmt.Errorf("migrate %s: %w", set.Name, err)
		}
		if err := m.LoadMigrations(set.FS); err != nil {
			return fmt.Errorf("migrate %s: load: %w", set.Name, err)
		}
		if err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate %s: %w", set.Name, err)
		}
	}
	return nil
}

// InTx runs fn in a transaction, committing if it returns nil and rolling
// back otherwise. If ctx already carries a transaction (see WithTx), fn
// joins it through a savepoint, so a write can take part in its caller's
// transaction — the outbox's whole point.
//
// fn's transaction holds back the writes made with Defer and sends them
// with its next statement or before the commit (see deferringTx): a
// change's writes cost one round trip, not one each.
//
// A transaction of its own runs under a span ("pg.transaction") of the
// global tracer provider, a child of ctx's span: in a trace, the call's or
// the consumer's time in PostgreSQL.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) (err error) {
	run := func(tx pgx.Tx) error {
		d := &deferringTx{Tx: tx}
		if err := fn(d); err != nil {
			return err
		}
		return d.flush(ctx)
	}
	if tx, ok := TxFrom(ctx); ok {
		return pgx.BeginFunc(ctx, tx, run)
	}
	ctx, span := tracer.Start(ctx, "pg.transaction", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql")))
	defer func() {
		if err != nil {
			// The SQLSTATE only: a database message may quote a row.
			span.SetStatus(codes.Error, "transaction failed")
			if state := SQLState(err); state != "" {
				span.SetAttributes(attribute.String("db.response.status_code", state))
			}
		}
		span.End()
	}()
	return pgx.BeginFunc(ctx, pool, run)
}

// tracer makes the transactions' spans.
var tracer = otel.Tracer("github.com/probation-recruitment/pipeline/pkg/pg")

// Join runs fn in the transaction ctx carries, without a savepoint, or
// else in a transaction of its own (InTx). Without the savepoint (two
// round trips) a failed statement of fn aborts the caller's transaction
// too: for writes whose failure fails the whole change, which the caller
// then rolls back (a record's update inside a call or a consumer's
// transaction), not for a step the caller may recover from.
func Join(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	if tx, ok := TxFrom(ctx); ok {
		return fn(tx)
	}
	return InTx(ctx, pool, fn)
}

// TxFrom returns the transaction ctx carries (see WithTx), if any.
func TxFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

type txKey struct{}

// WithTx returns a context carrying tx, which InTx and Querier join.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// Querier is what reads need: the transaction in ctx if there is one,
// otherwise the pool.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Q returns the transaction carried by ctx, or pool.
func Q(ctx context.Context, pool *pgxpool.Pool) Querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return pool
}

// SQLState returns the PostgreSQL error code of err ("23505" for a unique
// violation), or "" when err is not a PostgreSQL error.
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// Codes used by callers to turn database errors into domain errors.
const (
	UniqueViolation      = "23505"
	ForeignKeyViolation  = "23503"
	SerializationFailure = "40001"
	// InsufficientPrivilege is a right the role does not have.
	InsufficientPrivilege = "42501"
)

var errRehearsal = errors.New("rehearsal: rolled back")

// Rehearse runs fn in a transaction (carried by ctx) and always rolls it
// back: a dry run that goes through exactly the code and checks of the
// real change, and changes nothing.
func Rehearse(ctx context.Context, pool *pgxpool.Pool, fn func(ctx context.Context) error) error {
	var fnErr error
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		fnErr = fn(WithTx(ctx, tx))
		return errRehearsal
	})
	if fnErr != nil {
		return fnErr
	}
	if !errors.Is(err, errRehearsal) {
		return err
	}
	return nil
}
