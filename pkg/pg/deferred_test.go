package pg_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// roundTrips counts what a connection sends and waits for: each statement
// outside a batch (BEGIN and COMMIT among them), and each batch once.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// tracedPool is a pool on the test's schema whose round trips are counted.
func tracedPool(t *testing.T) (*pgxpool.Pool, *roundTrips) {
	t.Helper()
	ctx := context.Background()
	_, schema := testenv.Schema(t)
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE t (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return pool, rt
}

func count(t *testing.T, q pg.Querier) int {
	t.Helper()
	var n int
	if err := q.QueryRow(context.Background(), `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Deferred writes go with the next statement, which sees them, and the
// rest with the commit: BEGIN, one batch with the read, one batch before
// COMMIT, COMMIT.
func TestDeferSendsHeldWritesWithTheNextStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, rt := tracedPool(t)
	before := rt.n.Load()
	err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		for i := range 3 {
			if err := pg.Defer(ctx, tx, `INSERT INTO t VALUES ($1)`, i); err != nil {
				return err
			}
		}
		if got := count(t, tx); got != 3 {
			t.Errorf("read after three deferred inserts counts %d rows, want 3", got)
		}
		if _, err := pg.Deferring(tx).Exec(ctx, `INSERT INTO t VALUES (10)`); err != nil {
			return err
		}
		return pg.Defer(ctx, tx, `INSERT INTO t VALUES (11)`)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.n.Load() - before; got != 4 {
		t.Errorf("%d round trips, want 4 (BEGIN, the read with three writes, two writes, COMMIT)", got)
	}
	if got := count(t, pool); got != 5 {
		t.Errorf("committed %d rows, want 5", got)
	}
}

// A deferred write that fails fails the transaction when it is sent, with
// its SQLSTATE, and nothing commits.
func TestDeferredFailureFailsTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := tracedPool(t)
	err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		if err := pg.Defer(ctx, tx, `INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		return pg.Defer(ctx, tx, `INSERT INTO t VALUES (1)`)
	})
	if pg.SQLState(err) != pg.UniqueViolation {
		t.Fatalf("err = %v, want a unique violation", err)
	}
	if got := count(t, pool); got != 0 {
		t.Errorf("committed %d rows after the failure, want 0", got)
	}
}

// A transaction that fails before sending them drops its held writes; a
// savepoint (InTx inside InTx) sends the outer writes first and keeps them
// when it rolls back; Join runs in the caller's transaction.
func TestDeferWithRollbackSavepointAndJoin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, rt := tracedPool(t)
	boom := errors.New("boom")
	err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		_ = pg.Defer(ctx, tx, `INSERT INTO t VALUES (1)`)
		return boom
	})
	if !errors.Is(err, boom) || count(t, pool) != 0 {
		t.Fatalf("err = %v, rows %d; want boom and no rows", err, count(t, pool))
	}
	err = pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		ctx := pg.WithTx(ctx, tx)
		_ = pg.Defer(ctx, tx, `INSERT INTO t VALUES (1)`)
		inner := pg.InTx(ctx, pool, func(sp pgx.Tx) error {
			_ = pg.Defer(ctx, sp, `INSERT INTO t VALUES (2)`)
			if got := count(t, sp); got != 2 {
				t.Errorf("inside the savepoint %d rows, want 2", got)
			}
			return boom
		})
		if !errors.Is(inner, boom) {
			t.Errorf("savepoint err = %v, want boom", inner)
		}
		before := rt.n.Load()
		if err := pg.Join(ctx, pool, func(joined pgx.Tx) error {
			return pg.Defer(ctx, joined, `INSERT INTO t VALUES (3)`)
		}); err != nil {
			return err
		}
		if got := rt.n.Load() - before; got != 0 {
			t.Errorf("Join made %d round trips before the commit, want 0 (no savepoint, write deferred)", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	rows, _ := pool.Query(ctx, `SELECT n FROM t ORDER BY n`)
	got, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil || len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("committed %v (%v), want [1 3]", got, err)
	}
}

// Outside InTx (a transaction begun by hand) Defer writes at once.
func TestDeferOnAPlainTransactionWritesAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := tracedPool(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := pg.Defer(ctx, tx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Deferring(tx).Exec(ctx, `INSERT INTO t VALUES (1)`); pg.SQLState(err) != pg.UniqueViolation {
		t.Errorf("second insert err = %v, want a unique violation at once", err)
	}
}
