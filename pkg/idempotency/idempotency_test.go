package idempotency

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, Migrations); err != nil {
		t.Fatal(err)
	}
	// records stands for a service's records: a call creates one and
	// answers with it.
	if _, err := pool.Exec(context.Background(), `CREATE TABLE records (id text PRIMARY KEY, version int, name text)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func count(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// call is a service's change: it stores a record named after the request
// (the personal data the log must not keep) and answers with the record.
type call struct {
	pool  *pgxpool.Pool
	calls atomic.Int32
}

func (c *call) do(ctx context.Context, k Key, req *wrapperspb.StringValue) (string, error) {
	var resp string
	err := Do(ctx, c.pool, k, req,
		func(ctx context.Context) (Ref, error) {
			n := c.calls.Add(1)
			id := fmt.Sprintf("rec-%d", n)
			if _, err := pg.Q(ctx, c.pool).Exec(ctx, `INSERT INTO records VALUES ($1, 1, $2)`, id, req.GetValue()); err != nil {
				return Ref{}, err
			}
			resp = id + " v1 " + req.GetValue()
			return Ref{ID: id, Version: 1}, nil
		},
		func(ctx context.Context, done Ref) error {
			var version int
			var name string
			if err := pg.Q(ctx, c.pool).QueryRow(ctx, `SELECT version, name FROM records WHERE id = $1`, done.ID).Scan(&version, &name); err != nil {
				return err
			}
			resp = fmt.Sprintf("%s v%d %s", done.ID, version, name)
			return nil
		})
	return resp, err
}

func TestRetryIsAnsweredFromTheRecordAndWritesNothing(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	c := &call{pool: pool}
	k := Key{Caller: "spoc-1", RequestID: "r1", Method: "Submit"}
	req := wrapperspb.String("Ada Lovelace")
	for range 3 {
		resp, err := c.do(ctx, k, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp != "rec-1 v1 Ada Lovelace" {
			t.Errorf("response = %q, want the first call's record", resp)
		}
	}
	if c.calls.Load() != 1 || count(t, pool, "records") != 1 {
		t.Errorf("calls = %d, records = %d; want 1 and 1", c.calls.Load(), count(t, pool, "records"))
	}
	var id string
	var version int64
	if err := pool.QueryRow(ctx, `SELECT record_id, record_version FROM request_log`).Scan(&id, &version); err != nil || id != "rec-1" || version != 1 {
		t.Errorf("request log holds %q v%d (%v), want rec-1 v1", id, version, err)
	}

	// A record changed since is answered as it stands now.
	if _, err := pool.Exec(ctx, `UPDATE records SET version = 2, name = 'anonymised'`); err != nil {
		t.Fatal(err)
	}
	if resp, err := c.do(ctx, k, req); err != nil || resp != "rec-1 v2 anonymised" {
		t.Errorf("retry after a change = %q, %v; want the record as it stands", resp, err)
	}

	// Another caller's identical id is a different request.
	other := k
	other.Caller = "spoc-2"
	if resp, err := c.do(ctx, other, req); err != nil || resp != "rec-2 v1 Ada Lovelace" {
		t.Errorf("other caller: %q, %v; want a fresh call", resp, err)
	}
}

func TestRequestLogKeepsNoRequestOrResponseText(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	c := &call{pool: pool}
	secret := "Ada Lovelace ada@example.org +447700900123 note: awaiting DBS"
	if _, err := c.do(ctx, Key{Caller: "spoc-1", RequestID: "r1", Method: "Submit"}, wrapperspb.String(secret)); err != nil {
		t.Fatal(err)
	}
	testenv.NoTextInRequestLog(t, pool, "Ada Lovelace", "Lovelace", "ada@example.org", "447700900123", "DBS")
}

func TestReusedIDWithDifferentRequestIsRefused(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	c := &call{pool: pool}
	k := Key{Caller: "c", RequestID: "r", Method: "Submit"}
	if _, err := c.do(ctx, k, wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		k   Key
		req *wrapperspb.StringValue
	}{
		{k, wrapperspb.String("b")},
		{Key{Caller: "c", RequestID: "r", Method: "Withdraw"}, wrapperspb.String("a")},
	} {
		if _, err := c.do(ctx, tc.k, tc.req); !errors.Is(err, ErrReused) {
			t.Errorf("Do(%v, %v) = %v, want ErrReused", tc.k, tc.req, err)
		}
	}
	if count(t, pool, "records") != 1 {
		t.Errorf("records = %d, want 1", count(t, pool, "records"))
	}
}

func TestFailedCallCanBeRetried(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	k := Key{Caller: "c", RequestID: "r", Method: "Submit"}
	err := Do(ctx, pool, k, wrapperspb.String("a"),
		func(ctx context.Context) (Ref, error) {
			if _, err := pg.Q(ctx, pool).Exec(ctx, `INSERT INTO records VALUES ('x', 1, 'a')`); err != nil {
				return Ref{}, err
			}
			return Ref{}, errors.New("validation failed")
		},
		func(context.Context, Ref) error { t.Error("a failed call was answered as a retry"); return nil })
	if err == nil {
		t.Fatal("want the call's error")
	}
	c := &call{pool: pool}
	if _, err := c.do(ctx, k, wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	if c.calls.Load() != 1 || count(t, pool, "records") != 1 {
		t.Errorf("after a failed first try: calls %d, records %d; want 1 and 1 (the failed try left nothing)", c.calls.Load(), count(t, pool, "records"))
	}
}

func TestRetryAnswerErrorIsTheRetrysError(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	c := &call{pool: pool}
	k := Key{Caller: "c", RequestID: "r", Method: "Submit"}
	if _, err := c.do(ctx, k, wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("out of region")
	err := Do(ctx, pool, k, wrapperspb.String("a"),
		func(context.Context) (Ref, error) { t.Error("a retry was applied again"); return Ref{}, nil },
		func(context.Context, Ref) error { return refused })
	if !errors.Is(err, refused) {
		t.Errorf("retry = %v, want the answer's error", err)
	}
	if count(t, pool, "request_log") != 1 || count(t, pool, "records") != 1 {
		t.Error("a refused retry changed the log or the records")
	}
}

func TestConcurrentRetriesApplyOnce(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	c := &call{pool: pool}
	k := Key{Caller: "c", RequestID: "r", Method: "Submit"}
	var wg sync.WaitGroup
	responses := make([]string, 20)
	for i := range responses {
		wg.Go(func() {
			resp, err := c.do(context.Background(), k, wrapperspb.String("a"))
			if err != nil {
				t.Error(err)
			}
			responses[i] = resp
		})
	}
	wg.Wait()
	for i, r := range responses {
		if r != "rec-1 v1 a" {
			t.Errorf("response %d = %q, want rec-1 v1 a", i, r)
		}
	}
	if c.calls.Load() != 1 || count(t, pool, "records") != 1 {
		t.Errorf("calls %d, records %d; want 1 and 1", c.calls.Load(), count(t, pool, "records"))
	}
}

// TestMigrationDropsStoredResponses: rows written when the log kept whole
// responses lose them, and a retry of one is ErrNotKept, never applied
// again.
func TestMigrationDropsStoredResponses(t *testing.T) {
	t.Parallel()
	pool, schema := testenv.Schema(t)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewMigrator(ctx, conn.Conn(), schema+".request_log_schema_version")
	if err == nil {
		err = m.LoadMigrations(Migrations.FS)
	}
	if err == nil {
		err = m.MigrateTo(ctx, 1)
	}
	conn.Release()
	if err != nil {
		t.Fatal(err)
	}
	req := wrapperspb.String("Ada Lovelace")
	fp, err := fingerprint(req)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := proto.Marshal(wrapperspb.String("Ada Lovelace, ada@example.org, +447700900123"))
	if _, err := pool.Exec(ctx, `INSERT INTO request_log (caller, request_id, method, fingerprint, response)
		VALUES ('spoc-1', 'r1', 'Submit', $1, $2)`, fp, old); err != nil {
		t.Fatal(err)
	}
	if err := pg.Migrate(ctx, pool, Migrations); err != nil {
		t.Fatal(err)
	}
	var columns int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = 'request_log' AND column_name = 'response'`, schema).Scan(&columns); err != nil || columns != 0 {
		t.Errorf("response column still there (%d, %v)", columns, err)
	}
	testenv.NoTextInRequestLog(t, pool, "Ada Lovelace", "Lovelace", "ada@example.org", "447700900123")

	if _, err := pool.Exec(ctx, `CREATE TABLE records (id text PRIMARY KEY, version int, name text)`); err != nil {
		t.Fatal(err)
	}
	c := &call{pool: pool}
	k := Key{Caller: "spoc-1", RequestID: "r1", Method: "Submit"}
	if _, err := c.do(ctx, k, req); !errors.Is(err, ErrNotKept) {
		t.Errorf("retry of a request logged before the migration = %v, want ErrNotKept", err)
	}
	if _, err := c.do(ctx, k, wrapperspb.String("someone else")); !errors.Is(err, ErrReused) {
		t.Errorf("reuse of a request id logged before the migration = %v, want ErrReused", err)
	}
	if c.calls.Load() != 0 {
		t.Errorf("a request logged before the migration was applied again")
	}
}

func TestPruneRemovesOldRowsOnly(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	c := &call{pool: pool}
	for i, age := range []string{"8 days", "7 days 1 minute", "6 days 23 hours", "1 minute"} {
		k := Key{Caller: "c", RequestID: fmt.Sprintf("r%d", i), Method: "Submit"}
		if _, err := c.do(ctx, k, wrapperspb.String("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE request_log SET created_at = now() - $2::interval WHERE request_id = $1`, k.RequestID, age); err != nil {
			t.Fatal(err)
		}
	}
	n, err := Prune(ctx, pool, DefaultRetention)
	if err != nil || n != 2 {
		t.Errorf("Prune = %d, %v; want 2 rows", n, err)
	}
	rows, err := pool.Query(ctx, `SELECT request_id FROM request_log ORDER BY request_id`)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left = append(left, id)
	}
	if fmt.Sprint(left) != "[r2 r3]" {
		t.Errorf("left %v, want [r2 r3] (the rows younger than 7 days)", left)
	}
	// A pruned request id is forgotten: the same id is a new request.
	if resp, err := c.do(ctx, Key{Caller: "c", RequestID: "r0", Method: "Submit"}, wrapperspb.String("b")); err != nil || !strings.HasSuffix(resp, " b") {
		t.Errorf("a pruned id reused: %q, %v; want a new call", resp, err)
	}
}

func TestPrunerRunsAtOnceAndRefusesShortRetention(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := NewPruner(pool, 59*time.Minute, time.Hour, log); err == nil {
		t.Error("a retention under an hour was accepted")
	}
	if _, err := NewPruner(pool, DefaultRetention, 0, log); err == nil {
		t.Error("a zero interval was accepted")
	}
	c := &call{pool: pool}
	ctx := context.Background()
	for _, id := range []string{"old", "new"} {
		if _, err := c.do(ctx, Key{Caller: "c", RequestID: id, Method: "Submit"}, wrapperspb.String(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE request_log SET created_at = now() - interval '2 hours' WHERE request_id = 'old'`); err != nil {
		t.Fatal(err)
	}
	p, err := NewPruner(pool, time.Hour, time.Hour, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	testenv.Eventually(t, "the old row pruned", func() (bool, string) {
		n := count(t, pool, "request_log")
		return n == 1, fmt.Sprintf("%d rows", n)
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	var id string
	if err := pool.QueryRow(context.Background(), `SELECT request_id FROM request_log`).Scan(&id); err != nil || id != "new" {
		t.Errorf("left %q (%v), want new", id, err)
	}
}

// TestClaimAll: many requests claimed at once answer as Claim does each —
// new ones claimed, completed ones with their record, a reused id refused
// — and a released claim is claimed afresh.
func TestClaimAll(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	c := &call{pool: pool}
	done := Key{Caller: "c", RequestID: "r #0", Method: "Import"}
	if _, err := c.do(ctx, done, wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	ks := []Key{done, {Caller: "c", RequestID: "r #1", Method: "Import"}, {Caller: "c", RequestID: "r #2", Method: "Import"}}
	claimAll := func(reqs ...proto.Message) []Claimed {
		t.Helper()
		var out []Claimed
		if err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
			var err error
			if out, err = ClaimAll(ctx, tx, "c", ks, reqs); err != nil {
				return err
			}
			if err := CompleteAll(ctx, tx, "c", ks[1:2], []Ref{{ID: "rec-9", Version: 2}}); err != nil {
				return err
			}
			return ReleaseAll(ctx, tx, "c", ks[2:])
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := claimAll(wrapperspb.String("a"), wrapperspb.String("b"), wrapperspb.String("c"))
	if got[0].Claimed || got[0].Err != nil || got[0].Done != (Ref{ID: "rec-1", Version: 1}) || !got[1].Claimed || !got[2].Claimed {
		t.Fatalf("ClaimAll = %+v; want the first answered from its record, the others claimed", got)
	}
	// Again: the completed one answers, the released one is claimed
	// afresh, and one with another request is refused.
	got = claimAll(wrapperspb.String("a"), wrapperspb.String("b"), wrapperspb.String("c"))
	if got[1].Claimed || got[1].Done != (Ref{ID: "rec-9", Version: 2}) || !got[2].Claimed {
		t.Errorf("ClaimAll again = %+v; want items 1 answered (rec-9 v2) and 2 claimed", got)
	}
	if err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		got, err := ClaimAll(ctx, tx, "c", ks[:1], []proto.Message{wrapperspb.String("changed")})
		if err == nil && !errors.Is(got[0].Err, ErrReused) {
			t.Errorf("a reused id: %+v, want ErrReused", got[0])
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ClaimAll(ctx, nil, "c", []Key{{Caller: "other", RequestID: "x"}}, []proto.Message{wrapperspb.String("a")}); err == nil {
		t.Error("ClaimAll took another caller's key")
	}
	// The first, the completed one; the released one is gone.
	if n := count(t, pool, "request_log"); n != 2 {
		t.Errorf("request log rows = %d, want 2", n)
	}
}
