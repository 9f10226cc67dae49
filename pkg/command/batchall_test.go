package command

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// changeAll is change for a set of items: one INSERT for all of them.
// Called with more than one item while failSets is set, it fails the
// whole set, as an unforeseen constraint would.
type changeAll struct {
	pool     *pgxpool.Pool
	calls    [][]string // the items of each call
	failSets bool
}

var errSet = errors.New("the set failed")

func (c *changeAll) apply(ctx context.Context, _ auth.Claims, items []*vettingv1.UnblockItem, resps []*wrapperspb.StringValue) ([]error, error) {
	errs := make([]error, len(items))
	var ids []string
	for i, item := range items {
		errs[i] = validate.UUID("application_id", item.GetApplicationId())
		if errs[i] == nil {
			ids = append(ids, item.GetApplicationId())
		}
	}
	c.calls = append(c.calls, ids)
	if c.failSets && len(items) > 1 {
		return nil, errSet
	}
	rows, err := pg.Q(ctx, c.pool).Query(ctx, `INSERT INTO changed SELECT DISTINCT unnest($1::uuid[]) ON CONFLICT DO NOTHING RETURNING application_id::text`, ids)
	if err != nil {
		return nil, err
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	isNew := map[string]bool{}
	for _, id := range fresh {
		isNew[id] = true
	}
	for i, item := range items {
		switch id := item.GetApplicationId(); {
		case errs[i] != nil:
		case isNew[id]:
			resps[i].Value = id
			delete(isNew, id) // the same id again is the second change
		default:
			errs[i] = errTwice
		}
	}
	return errs, nil
}

func runAll(t *testing.T, pool *pgxpool.Pool, c *changeAll, req *vettingv1.BatchUnblockRequest, dryRun bool) ([]*wrapperspb.StringValue, []error) {
	t.Helper()
	call := BatchCall{Call: Call{Method: "BatchUnblock", Roles: []auth.Role{auth.RoleVetting}}, Field: "items", ItemNoun: "cases", Max: 4, DryRun: dryRun}
	resps, errs, err := BatchAll(auth.WithClaims(context.Background(), caller), pool, call, changedRecords, req, req.GetItems(),
		func() *wrapperspb.StringValue { return &wrapperspb.StringValue{} }, c.apply)
	if err != nil {
		t.Fatalf("a well-formed batch refused: %v", err)
	}
	return resps, errs
}

// TestBatchAll: the same outcomes as Batch (TestBatch), with the items
// applied in one call of apply; a retry answers from the record; a failed
// item leaves no request id behind, so its retry applies it.
func TestBatchAll(t *testing.T) {
	t.Parallel()
	a, b := event.NewID(), event.NewID()
	req := batch(a, b, a, "nope")
	check := func(t *testing.T, errs []error) {
		t.Helper()
		var fe *validate.FieldError
		if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], errTwice) ||
			!errors.As(errs[3], &fe) || fe.Field != "items[3].application_id" {
			t.Errorf("errs = %v; want ok, ok, already changed, a field error on items[3].application_id", errs)
		}
	}

	t.Run("dry run", func(t *testing.T) {
		t.Parallel()
		pool := setup(t)
		c := &changeAll{pool: pool}
		resps, errs := runAll(t, pool, c, req, true)
		check(t, errs)
		if resps[0].GetValue() != a || len(c.calls) != 1 {
			t.Errorf("dry run: response %v in %d calls; want the would-be result, in one call", resps[0], len(c.calls))
		}
		if n := rows(t, pool, "changed") + rows(t, pool, "request_log"); n != 0 {
			t.Errorf("a dry run wrote %d rows", n)
		}
	})

	t.Run("real run, retried, and reused id", func(t *testing.T) {
		t.Parallel()
		pool := setup(t)
		c := &changeAll{pool: pool}
		first, errs := runAll(t, pool, c, req, false)
		check(t, errs)
		if len(c.calls) != 1 || rows(t, pool, "changed") != 2 {
			t.Errorf("%d calls of apply, %d changed rows; want 1 and 2", len(c.calls), rows(t, pool, "changed"))
		}
		// The batch's id and the two items that succeeded; the failed
		// items' claims are released.
		if n := rows(t, pool, "request_log"); n != 3 {
			t.Errorf("request log rows = %d, want 3", n)
		}
		c.calls = nil
		resps, again := runAll(t, pool, c, req, false)
		if fmt.Sprint(again[:2]) != fmt.Sprint(errs[:2]) || rows(t, pool, "changed") != 2 {
			t.Errorf("retry: errs %v, rows %d; want the first outcomes and no new rows", again, rows(t, pool, "changed"))
		}
		if !proto.Equal(resps[0], first[0]) || resps[1].GetValue() != b {
			t.Errorf("retry: responses %v, want %v", resps[:2], first[:2])
		}
		// Only the failed items ran again.
		if len(c.calls) != 1 || fmt.Sprint(c.calls[0]) != fmt.Sprint([]string{a}) {
			t.Errorf("retry applied %v, want only items[2] (items[3] fails before apply writes)", c.calls)
		}
		// The same request id for another batch is the whole call's
		// error, a request_id field error, and no item is tried.
		c.calls = nil
		reuse := batch(event.NewID())
		call := BatchCall{Call: Call{Method: "BatchUnblock", Roles: []auth.Role{auth.RoleVetting}}, Field: "items", ItemNoun: "cases", Max: 4}
		resps, errs, err := BatchAll(auth.WithClaims(context.Background(), caller), pool, call, changedRecords, reuse, reuse.GetItems(),
			func() *wrapperspb.StringValue { return &wrapperspb.StringValue{} }, c.apply)
		var fe *validate.FieldError
		if !errors.As(err, &fe) || fe.Field != "request_id" || !errors.Is(err, ErrBatchReused) || resps != nil || errs != nil {
			t.Errorf("reused request id: err %v, item results %v; want the call refused on request_id, no item results", err, errs)
		}
		if len(c.calls) != 0 || rows(t, pool, "changed") != 2 {
			t.Errorf("reused request id: %d calls of apply, %d changed rows; want 0 and 2", len(c.calls), rows(t, pool, "changed"))
		}
	})

	t.Run("a set that fails is applied item by item", func(t *testing.T) {
		t.Parallel()
		pool := setup(t)
		c := &changeAll{pool: pool, failSets: true}
		_, errs := runAll(t, pool, c, req, false)
		check(t, errs)
		// One call for the set, then one per item.
		if len(c.calls) != 1+len(req.GetItems()) || rows(t, pool, "changed") != 2 || rows(t, pool, "request_log") != 3 {
			t.Errorf("%d calls, %d changed rows, %d request log rows; want 5, 2, 3",
				len(c.calls), rows(t, pool, "changed"), rows(t, pool, "request_log"))
		}
		// Retried, every item answers as before, whichever way it went in.
		c.failSets = false
		_, again := runAll(t, pool, c, req, false)
		if fmt.Sprint(again[:2]) != fmt.Sprint(errs[:2]) || rows(t, pool, "changed") != 2 {
			t.Errorf("retry: errs %v, rows %d", again, rows(t, pool, "changed"))
		}
	})
}
