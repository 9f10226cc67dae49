package command

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

var caller = auth.Claims{Subject: "vet-1", Role: auth.RoleVetting, Regions: []string{"london"}}

func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, idempotency.Migrations); err != nil {
		t.Fatal(err)
	}
	// Each application may be changed once: a second change of the same
	// one is the kind of failure a batch must report per item.
	if _, err := pool.Exec(context.Background(), `CREATE TABLE changed (application_id uuid PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func rows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var errTwice = errors.New("already changed")

// change is an item's effect.
func change(pool *pgxpool.Pool) func(ctx context.Context, _ auth.Claims, item *vettingv1.UnblockItem, resp *wrapperspb.StringValue) error {
	return func(ctx context.Context, _ auth.Claims, item *vettingv1.UnblockItem, resp *wrapperspb.StringValue) error {
		if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
			return err
		}
		tag, err := pg.Q(ctx, pool).Exec(ctx, `INSERT INTO changed VALUES ($1) ON CONFLICT DO NOTHING`, item.GetApplicationId())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errTwice
		}
		resp.Value = item.GetApplicationId()
		return nil
	}
}

// changedRecords reads an item's record again for a retry.
var changedRecords = Records[*wrapperspb.StringValue]{
	Ref: func(r *wrapperspb.StringValue) idempotency.Ref { return idempotency.Ref{ID: r.GetValue(), Version: 1} },
	Read: func(_ context.Context, _ auth.Claims, id string) (*wrapperspb.StringValue, error) {
		return wrapperspb.String(id), nil
	},
}

func batch(ids ...string) *vettingv1.BatchUnblockRequest {
	req := &vettingv1.BatchUnblockRequest{RequestId: "batch-1"}
	for _, id := range ids {
		req.Items = append(req.Items, &vettingv1.UnblockItem{ApplicationId: id, ExpectedVersion: 1})
	}
	return req
}

func run(t *testing.T, pool *pgxpool.Pool, req *vettingv1.BatchUnblockRequest, dryRun bool) ([]*wrapperspb.StringValue, []error) {
	t.Helper()
	c := BatchCall{Call: Call{Method: "BatchUnblock", Roles: []auth.Role{auth.RoleVetting}}, Field: "items", ItemNoun: "cases", Max: 4, DryRun: dryRun}
	resps, errs, err := Batch(auth.WithClaims(context.Background(), caller), pool, c, changedRecords, req, req.GetItems(),
		func() *wrapperspb.StringValue { return &wrapperspb.StringValue{} }, change(pool))
	if err != nil {
		t.Fatalf("a well-formed batch refused: %v", err)
	}
	return resps, errs
}

func TestBatch(t *testing.T) {
	t.Parallel()
	a, b := event.NewID(), event.NewID()
	// The same application twice, and a malformed id.
	req := batch(a, b, a, "nope")
	check := func(t *testing.T, errs []error) {
		t.Helper()
		var fe *validate.FieldError
		if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], errTwice) ||
			!errors.As(errs[3], &fe) || fe.Field != "items[3].application_id" {
			t.Errorf("errs = %v; want ok, ok, already changed, a field error on items[3].application_id", errs)
		}
	}

	t.Run("dry run sees earlier items and changes nothing", func(t *testing.T) {
		t.Parallel()
		pool := setup(t)
		resps, errs := run(t, pool, req, true)
		check(t, errs)
		if resps[0].GetValue() != a {
			t.Errorf("dry-run response = %v, want the would-be result", resps[0])
		}
		if n := rows(t, pool, "changed") + rows(t, pool, "request_log"); n != 0 {
			t.Errorf("a dry run wrote %d rows", n)
		}
	})

	t.Run("real run, retried, and reused id", func(t *testing.T) {
		t.Parallel()
		pool := setup(t)
		first, errs := run(t, pool, req, false)
		check(t, errs)
		if n := rows(t, pool, "changed"); n != 2 {
			t.Errorf("changed rows = %d, want 2", n)
		}
		// The retry answers from the record: the same outcomes, nothing new.
		resps, again := run(t, pool, req, false)
		if fmt.Sprint(again[:2]) != fmt.Sprint(errs[:2]) || rows(t, pool, "changed") != 2 {
			t.Errorf("retry: errs %v, rows %d; want the first outcomes and no new rows", again, rows(t, pool, "changed"))
		}
		if resps[0].GetValue() != a || resps[1].GetValue() != b || !proto.Equal(resps[0], first[0]) {
			t.Errorf("retry: responses %v, want %v", resps[:2], first[:2])
		}
		// The same request id for another batch is the whole call's
		// error, a request_id field error, and no item is tried.
		reuse := batch(event.NewID())
		c := BatchCall{Call: Call{Method: "BatchUnblock", Roles: []auth.Role{auth.RoleVetting}}, Field: "items", ItemNoun: "cases", Max: 4}
		resps, errs, err := Batch(auth.WithClaims(context.Background(), caller), pool, c, changedRecords, reuse, reuse.GetItems(),
			func() *wrapperspb.StringValue { return &wrapperspb.StringValue{} }, change(pool))
		var fe *validate.FieldError
		if !errors.As(err, &fe) || fe.Field != "request_id" || !errors.Is(err, ErrBatchReused) || resps != nil || errs != nil {
			t.Errorf("reused request id: err %v, item results %v; want the call refused on request_id, no item results", err, errs)
		}
		if n := rows(t, pool, "changed"); n != 2 {
			t.Errorf("reused request id: changed rows = %d, want 2 (nothing applied)", n)
		}

	})
}

// TestBatchRefusesWholeCalls: what is wrong with the call itself is its
// error, before any item runs or any request id is recorded.
func TestBatchRefusesWholeCalls(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	vet := auth.WithClaims(context.Background(), caller)
	spoc := auth.WithClaims(context.Background(), auth.Claims{Subject: "s", Role: auth.RoleSPOC, Regions: []string{"london"}})
	ok := BatchCall{Call: Call{Method: "BatchUnblock", Roles: []auth.Role{auth.RoleVetting}}, Field: "items", ItemNoun: "cases", Max: 2}
	invalid := ok
	invalid.Invalid = validate.Field("campaign_id", "must be a UUID")
	noID := batch(event.NewID())
	noID.RequestId = ""
	tests := []struct {
		name  string
		ctx   context.Context
		c     BatchCall
		req   *vettingv1.BatchUnblockRequest
		field string
		want  error
	}{
		{name: "no caller", ctx: context.Background(), c: ok, req: batch(event.NewID()), want: auth.ErrUnauthenticated},
		{name: "wrong role", ctx: spoc, c: ok, req: batch(event.NewID()), want: auth.ErrPermissionDenied},
		{name: "invalid request", ctx: vet, c: invalid, req: batch(event.NewID()), field: "campaign_id"},
		{name: "no items", ctx: vet, c: ok, req: batch(), field: "items"},
		{name: "too many items", ctx: vet, c: ok, req: batch(event.NewID(), event.NewID(), event.NewID()), field: "items"},
		{name: "no request id", ctx: vet, c: ok, req: noID, field: "request_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resps, errs, err := Batch(tt.ctx, pool, tt.c, changedRecords, tt.req, tt.req.GetItems(),
				func() *wrapperspb.StringValue { return &wrapperspb.StringValue{} }, change(pool))
			var fe *validate.FieldError
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("err = %v, want %v", err, tt.want)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Errorf("err = %v, want a field error on %s", err, tt.field)
			case resps != nil || errs != nil:
				t.Errorf("a refused call answered for its items: %v, %v", resps, errs)
			}
		})
	}
	if n := rows(t, pool, "changed") + rows(t, pool, "request_log"); n != 0 {
		t.Errorf("refused calls wrote %d rows", n)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	if _, err := pool.Exec(context.Background(), `ALTER TABLE changed ADD COLUMN region text NOT NULL DEFAULT 'london'`); err != nil {
		t.Fatal(err)
	}
	id := event.NewID()
	req := &vettingv1.UnblockCaseRequest{RequestId: "r1", ApplicationId: id, ExpectedVersion: 1}
	// The record is its id and region; a read checks the region as a
	// service's reads do.
	records := Records[string]{
		Ref: func(id string) idempotency.Ref { return idempotency.Ref{ID: id, Version: 1} },
		Read: func(ctx context.Context, c auth.Claims, id string) (string, error) {
			var region string
			if err := pg.Q(ctx, pool).QueryRow(ctx, `SELECT region FROM changed WHERE application_id = $1`, id).Scan(&region); err != nil {
				return "", err
			}
			return id, c.RequireRegion(region)
		},
	}
	do := func(ctx context.Context, req *vettingv1.UnblockCaseRequest) (string, error) {
		resp := &wrapperspb.StringValue{}
		c := Call{Method: "UnblockCase", Roles: []auth.Role{auth.RoleVetting}, Invalid: validate.UUID("application_id", req.GetApplicationId())}
		err := Run(ctx, pool, c, records, req, resp,
			func(ctx context.Context, c auth.Claims) (string, error) {
				_, err := pg.Q(ctx, pool).Exec(ctx, `INSERT INTO changed VALUES ($1)`, req.GetApplicationId())
				return req.GetApplicationId(), err
			}, func(c auth.Claims, v string) { resp.Value = c.Subject + ":" + v })
		return resp.GetValue(), err
	}
	ctx := auth.WithClaims(context.Background(), caller)
	for range 2 {
		got, err := do(ctx, req)
		if err != nil || got != "vet-1:"+id {
			t.Fatalf("Run = %q, %v", got, err)
		}
	}
	if rows(t, pool, "changed") != 1 {
		t.Errorf("a retried Run applied %d times, want 1", rows(t, pool, "changed"))
	}
	// The same caller, whose token no longer names London, retries: the
	// record is read again and refused as any read out of region is.
	moved := auth.WithClaims(context.Background(), auth.Claims{Subject: caller.Subject, Role: auth.RoleVetting, Regions: []string{"wales"}})
	if got, err := do(moved, req); !errors.Is(err, auth.ErrPermissionDenied) || got != "" {
		t.Errorf("retry after losing the region = %q, %v; want ErrPermissionDenied and no answer", got, err)
	}
	spoc := auth.WithClaims(context.Background(), auth.Claims{Subject: "s", Role: auth.RoleSPOC, Regions: []string{"london"}})
	if _, err := do(spoc, &vettingv1.UnblockCaseRequest{RequestId: "r2", ApplicationId: event.NewID()}); !errors.Is(err, auth.ErrPermissionDenied) {
		t.Errorf("wrong role: %v, want ErrPermissionDenied", err)
	}
	var fe *validate.FieldError
	if _, err := do(ctx, &vettingv1.UnblockCaseRequest{RequestId: "r3", ApplicationId: "x"}); !errors.As(err, &fe) || fe.Field != "application_id" {
		t.Errorf("bad id: %v, want a field error on application_id", err)
	}
	if _, err := do(ctx, &vettingv1.UnblockCaseRequest{ApplicationId: event.NewID()}); !errors.As(err, &fe) || fe.Field != "request_id" {
		t.Errorf("no request id: %v, want a field error on request_id", err)
	}
}
