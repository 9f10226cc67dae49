package pg_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// terminate ends the backends of conns from outside the pool, as an
// administrator or a failover would, and waits until they are gone.
func terminate(t *testing.T, conns ...*pgxpool.Conn) {
	t.Helper()
	ctx := context.Background()
	pids := make([]uint32, len(conns))
	for i, c := range conns {
		pids[i] = c.Conn().PgConn().PID()
	}
	admin, err := pgx.Connect(ctx, testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, pids); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the backends to end", func() (bool, string) {
		var left int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])`, pids).Scan(&left); err != nil {
			return false, err.Error()
		}
		return left == 0, fmt.Sprintf("%d backends left", left)
	})
}

// A statement on a connection whose backend was ended is Unavailable (the
// call may be tried again), unlike a statement the database refuses.
func TestDroppedConnectionIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	terminate(t, c)
	_, err = c.Exec(ctx, `SELECT 1`)
	if err == nil || !pg.Unavailable(err) {
		t.Errorf("statement on an ended backend: %v; want an error Unavailable reports", err)
	}
	for _, refused := range []string{`SELECT nonsense FROM nowhere`, `SELECT 1/0`} {
		if _, err := pool.Exec(ctx, refused); err == nil || pg.Unavailable(err) {
			t.Errorf("%s: %v; want an error that is not Unavailable", refused, err)
		}
	}
	closed, _ := testenv.Schema(t)
	closed.Close()
	if _, err := closed.Exec(ctx, `SELECT 1`); !pg.Unavailable(err) {
		t.Errorf("statement on a closed pool: %v; want Unavailable", err)
	}
	for _, code := range []string{"08006", "08001", "57P01", "57P02", "57P03", "53300"} {
		if err := fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code}); !pg.Unavailable(err) {
			t.Errorf("SQLSTATE %s: want Unavailable", code)
		}
	}
	if pg.Unavailable(&pgconn.PgError{Code: "23505"}) || pg.Unavailable(errors.New("other")) || pg.Unavailable(nil) {
		t.Error("a unique violation, another error or nil: want not Unavailable")
	}
}

// When the server ends every backend of a pool (a restart), the first call
// finds out; the pool then checks the idle connections it hands out, so
// the other dead ones fail no call of their own.
func TestPoolHandsOutADeadConnectionOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	const n = 4
	conns := make([]*pgxpool.Conn, n)
	for i := range conns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	terminate(t, conns...)
	for _, c := range conns {
		c.Release()
	}
	failed := 0
	for i := range n {
		if _, err := pool.Exec(ctx, `SELECT 1`); err != nil {
			failed++
			if !pg.Unavailable(err) {
				t.Errorf("call %d: %v; want Unavailable", i, err)
			}
		}
	}
	if failed > 1 {
		t.Errorf("%d of %d calls failed on dead connections; want at most the first", failed, n)
	}
}
