package idempotency

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
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
	if _, err := pool.Exec(context.Background(), `CREATE TABLE effects (n int)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func effects(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM effects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// write is a call whose effect is a row and whose response counts calls.
func write(pool *pgxpool.Pool, calls *atomic.Int32, resp *wrapperspb.Int32Value) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		resp.Value = calls.Add(1)
		_, err := pg.Q(ctx, pool).Exec(ctx, `INSERT INTO effects VALUES (1)`)
		return err
	}
}

func TestRetryReturnsFirstResponseAndWritesNothing(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	k := Key{Caller: "spoc-1", RequestID: "r1", Method: "Submit"}
	req := wrapperspb.String("body")
	var calls atomic.Int32
	for range 3 {
		resp := &wrapperspb.Int32Value{}
		if err := Do(ctx, pool, k, req, resp, write(pool, &calls, resp)); err != nil {
			t.Fatal(err)
		}
		if resp.Value != 1 {
			t.Errorf("response = %d, want the first response (1)", resp.Value)
		}
	}
	if calls.Load() != 1 || effects(t, pool) != 1 {
		t.Errorf("calls = %d, effects = %d; want 1 and 1", calls.Load(), effects(t, pool))
	}

	// Another caller's identical id is a different request.
	other := k
	other.Caller = "spoc-2"
	resp := &wrapperspb.Int32Value{}
	if err := Do(ctx, pool, other, req, resp, write(pool, &calls, resp)); err != nil || resp.Value != 2 {
		t.Errorf("other caller: resp %d, err %v; want a fresh call", resp.Value, err)
	}
}

func TestReusedIDWithDifferentRequestIsRefused(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	var calls atomic.Int32
	k := Key{Caller: "c", RequestID: "r", Method: "Submit"}
	resp := &wrapperspb.Int32Value{}
	if err := Do(ctx, pool, k, wrapperspb.String("a"), resp, write(pool, &calls, resp)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		k   Key
		req proto.Message
	}{
		{k, wrapperspb.String("b")},
		{Key{Caller: "c", RequestID: "r", Method: "Withdraw"}, wrapperspb.String("a")},
	} {
		err := Do(ctx, pool, tc.k, tc.req, resp, write(pool, &calls, resp))
		if !errors.Is(err, ErrReused) {
			t.Errorf("Do(%v) = %v, want ErrReused", tc.k, err)
		}
	}
	if effects(t, pool) != 1 {
		t.Errorf("effects = %d, want 1", effects(t, pool))
	}
}

func TestFailedCallCanBeRetried(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	k := Key{Caller: "c", RequestID: "r", Method: "Submit"}
	err := Do(ctx, pool, k, wrapperspb.String("a"), &wrapperspb.Int32Value{}, func(ctx context.Context) error {
		if _, err := pg.Q(ctx, pool).Exec(ctx, `INSERT INTO effects VALUES (1)`); err != nil {
			return err
		}
		return errors.New("validation failed")
	})
	if err == nil {
		t.Fatal("want the call's error")
	}
	var calls atomic.Int32
	resp := &wrapperspb.Int32Value{}
	if err := Do(ctx, pool, k, wrapperspb.String("a"), resp, write(pool, &calls, resp)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || effects(t, pool) != 1 {
		t.Errorf("after a failed first try: calls %d, effects %d; want 1 and 1 (the failed try left nothing)", calls.Load(), effects(t, pool))
	}
}

func TestConcurrentRetriesApplyOnce(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	k := Key{Caller: "c", RequestID: "r", Method: "Submit"}
	var calls atomic.Int32
	var wg sync.WaitGroup
	responses := make([]int32, 20)
	for i := range responses {
		wg.Go(func() {
			resp := &wrapperspb.Int32Value{}
			if err := Do(context.Background(), pool, k, wrapperspb.String("a"), resp, write(pool, &calls, resp)); err != nil {
				t.Error(err)
			}
			responses[i] = resp.Value
		})
	}
	wg.Wait()
	for i, r := range responses {
		if r != 1 {
			t.Errorf("response %d = %d, want 1", i, r)
		}
	}
	if calls.Load() != 1 || effects(t, pool) != 1 {
		t.Errorf("calls %d, effects %d; want 1 and 1", calls.Load(), effects(t, pool))
	}
}
