package testenv

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Holding returns "<table>: <text>" for every table of schema (but those
// in except) with a row holding one of texts: in any column as text, or
// inside a bytea column (an outbox payload, say) as its bytes. It is how a
// test proves that personal data is gone from a service's schema.
func Holding(t testing.TB, pool *pgxpool.Pool, schema string, except []string, texts ...string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatalf("schema %s has no tables", schema)
	}
	var found []string
	for _, table := range tables {
		if slices.Contains(except, table) {
			continue
		}
		name := pgx.Identifier{schema, table}.Sanitize()
		for _, text := range texts {
			// A row as text shows a bytea column as \x and lower-case hex.
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+name+` r
				WHERE strpos(lower(r::text), lower($1)) > 0 OR strpos(r::text, $2) > 0`,
				text, hex.EncodeToString([]byte(text))).Scan(&n); err != nil {
				t.Fatalf("search %s: %v", name, err)
			}
			if n > 0 {
				found = append(found, fmt.Sprintf("%s: %q in %d rows", table, text, n))
			}
		}
	}
	return found
}
