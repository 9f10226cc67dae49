package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NoTextInRequestLog fails t if any column of any request_log row in
// pool's schema holds one of texts (case-insensitive; bytea columns are
// read as text and as hex), and if the log is empty: there would be
// nothing to check. Ids and digests are hex, so a text short or made of
// hex digits alone ("Ada", "0958") can turn up by chance: search for ones
// that cannot.
func NoTextInRequestLog(t testing.TB, pool *pgxpool.Pool, texts ...string) {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT r::text || ' ' || encode(fingerprint, 'escape') FROM request_log r`)
	if err != nil {
		t.Fatalf("read request log: %v", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatalf("read request log: %v", err)
		}
		for _, s := range texts {
			if strings.Contains(strings.ToLower(row), strings.ToLower(s)) || strings.Contains(row, fmt.Sprintf("%x", s)) {
				t.Errorf("request log row holds %q: %s", s, row)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read request log: %v", err)
	}
	if n == 0 {
		t.Fatal("the request log is empty: nothing to check")
	}
}
