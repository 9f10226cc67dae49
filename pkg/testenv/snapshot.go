package testenv

import (
	"context"
	"maps"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Snapshot is what a test reads of a schema to see whether a call wrote
// anything: the rows of some tables, and a text per record.
type Snapshot struct {
	Counts  map[string]int
	Records map[string]string
}

// TakeSnapshot counts the rows of tables and reads records, a query of
// two text columns (an id and what the test compares of its record, e.g.
// its status and version).
func TakeSnapshot(t testing.TB, pool *pgxpool.Pool, records string, tables ...string) Snapshot {
	t.Helper()
	ctx := context.Background()
	s := Snapshot{Counts: map[string]int{}, Records: map[string]string{}}
	for _, table := range tables {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		s.Counts[table] = n
	}
	rows, err := pool.Query(ctx, records)
	if err != nil {
		t.Fatalf("read records: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatalf("read records: %v", err)
		}
		s.Records[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read records: %v", err)
	}
	return s
}

// WantSnapshot fails unless got equals want, naming what differs.
func WantSnapshot(t testing.TB, what string, got, want Snapshot) {
	t.Helper()
	if !maps.Equal(got.Counts, want.Counts) {
		t.Errorf("%s: rows %v, want %v", what, got.Counts, want.Counts)
	}
	for id, v := range want.Records {
		if got.Records[id] != v {
			t.Errorf("%s: record %s is %q, want %q", what, id, got.Records[id], v)
		}
	}
	if len(got.Records) != len(want.Records) {
		t.Errorf("%s: %d records, want %d", what, len(got.Records), len(want.Records))
	}
}
