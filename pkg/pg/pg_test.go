package pg_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

func TestConnectRejectsBadSchemaAndURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, schema := range []string{"", "Upper", "drop table x; --", "1abc"} {
		if _, err := pg.Connect(ctx, testenv.DatabaseURL(), schema); err == nil {
			t.Errorf("Connect(schema %q): want an error", schema)
		}
	}
	_, err := pg.Connect(ctx, "postgres://user:secret@host:notaport/db", "ok")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: err = %v; want an error that does not repeat the password", err)
	}
}

func TestMigrateIsRepeatableAndConfinedToSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, schema := testenv.Schema(t)
	set := pg.Migrations{Name: "things", FS: fstest.MapFS{
		"001_things.sql": {Data: []byte("CREATE TABLE things (id int PRIMARY KEY);\n---- create above / drop below ----\nDROP TABLE things;\n")},
		"002_more.sql":   {Data: []byte("ALTER TABLE things ADD COLUMN name text;\n")},
	}}
	for range 2 { // start-up runs it every time
		if err := pg.Migrate(ctx, pool, set); err != nil {
			t.Fatal(err)
		}
	}
	var tableSchema string
	if err := pool.QueryRow(ctx, `SELECT table_schema FROM information_schema.columns WHERE table_name = 'things' AND column_name = 'name' AND table_schema = $1`, schema).Scan(&tableSchema); err != nil {
		t.Fatalf("migrated table not found in the test's schema %s: %v", schema, err)
	}
	var version int
	if err := pool.QueryRow(ctx, `SELECT version FROM things_schema_version`).Scan(&version); err != nil || version != 2 {
		t.Errorf("version = %d, %v; want 2", version, err)
	}
}

func TestInTxJoinsTransactionInContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE t (n int)`); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The outer transaction rolls back: the inner write, which joined it,
	// must vanish with it.
	err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		inner := pg.WithTx(ctx, tx)
		if err := pg.InTx(inner, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO t VALUES (1)`)
			return err
		}); err != nil {
			return err
		}
		var n int
		if err := pg.Q(inner, pool).QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
			t.Errorf("inside the transaction Q sees %d rows, %v; want 1", n, err)
		}
		return errors.New("roll back")
	})
	if err == nil {
		t.Fatal("want the rollback error")
	}
	if n := count(); n != 0 {
		t.Errorf("rows after outer rollback = %d, want 0", n)
	}
	if err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO t VALUES (1)`)
		return err
	}); err != nil || count() != 1 {
		t.Errorf("plain InTx: err %v, rows %d; want nil, 1", err, count())
	}
}

func TestSQLState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	_, err := pool.Exec(ctx, `CREATE TABLE u (k int PRIMARY KEY); INSERT INTO u VALUES (1); INSERT INTO u VALUES (1)`)
	if got := pg.SQLState(err); got != pg.UniqueViolation {
		t.Errorf("SQLState = %q, want %q", got, pg.UniqueViolation)
	}
	if got := pg.SQLState(errors.New("plain")); got != "" {
		t.Errorf("SQLState(plain) = %q, want empty", got)
	}
}

func TestRehearseChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE t (n int)`); err != nil {
		t.Fatal(err)
	}
	var seen int
	err := pg.Rehearse(ctx, pool, func(ctx context.Context) error {
		if _, err := pg.Q(ctx, pool).Exec(ctx, `INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		return pg.Q(ctx, pool).QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&seen)
	})
	if err != nil || seen != 1 {
		t.Fatalf("Rehearse = %v, saw %d rows inside; want nil and 1", err, seen)
	}
	var after int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&after); err != nil || after != 0 {
		t.Errorf("rows after rehearsal = %d, %v; want 0", after, err)
	}
	want := errors.New("would fail")
	if err := pg.Rehearse(ctx, pool, func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Errorf("Rehearse returned %v, want the function's error", err)
	}
}

// UUIDs round-trip through a uuid[] parameter, "" as NULL, in binary.
func TestUUIDs(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.Schema(t)
	ids := []string{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "", "00000000-0000-0000-0000-000000000001"}
	arg, err := pg.UUIDs(ids)
	if err != nil {
		t.Fatal(err)
	}
	var got []*string
	if err := pool.QueryRow(context.Background(), `SELECT array_agg(u::text ORDER BY n) FROM unnest($1::uuid[]) WITH ORDINALITY AS x(u, n)`, arg).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] == nil || *got[0] != ids[0] || got[1] != nil || got[2] == nil || *got[2] != ids[2] {
		t.Fatalf("round trip gave %v", got)
	}
	if _, err := pgtype.NewMap().Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, arg, nil); err != nil {
		t.Errorf("not encodable in binary: %v", err)
	}
	if _, err := pg.UUIDs([]string{"not-a-uuid"}); err == nil || !strings.Contains(err.Error(), `"not-a-uuid" is not a UUID`) {
		t.Errorf("UUIDs(bad) error = %v", err)
	}
}
