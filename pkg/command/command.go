// Package command runs the mutating calls of the stage services the same
// way: the caller's role, the record id, and at most one application per
// client-chosen request id, in one transaction with the change and its
// event; and batches of such changes, each item on its own.
package command

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// Run performs a change to the record applicationID: the caller must hold
// one of roles (admins always may), and fn runs at most once per caller and
// request id, with set putting its result into resp. A retry gets the
// first response back. Errors are returned unmapped.
func Run[T any](ctx context.Context, pool *pgxpool.Pool, method string, req idempotency.Request, applicationID string,
	roles []auth.Role, resp proto.Message, fn func(context.Context, auth.Claims) (T, error), set func(T)) error {
	caller, err := auth.Require(ctx, "", roles...)
	if err != nil {
		return err
	}
	if err := validate.UUID("application_id", applicationID); err != nil {
		return err
	}
	return idempotency.Once(ctx, pool, caller.Subject, method, req, resp, func(ctx context.Context) error {
		v, err := fn(ctx, caller)
		set(v)
		return err
	})
}

// Batch applies each item on its own, in order, and returns each item's
// error (nil for success) and response.
//
// With dryRun the whole batch runs in one transaction that is rolled back,
// each item in a savepoint of its own: the answers are exactly what the
// real call would give, later items seeing earlier ones (the same case
// twice in a batch is caught), and nothing changes.
//
// Otherwise the batch's request id is first recorded against the whole
// request, so reusing it for a different batch is ErrReused; then each
// item runs in its own transaction, its response recorded under the
// request id and the item's position, so a retried batch (say after a
// crash part-way) answers finished items from the record and applies the
// rest. Field errors name the item, e.g. "items[3].reason".
func Batch[I proto.Message](ctx context.Context, pool *pgxpool.Pool, caller auth.Claims, method string, req idempotency.Request,
	dryRun bool, field string, items []I, newResp func() proto.Message,
	apply func(ctx context.Context, item I, resp proto.Message) error) ([]proto.Message, []error) {
	resps := make([]proto.Message, len(items))
	errs := make([]error, len(items))
	runItem := func(ctx context.Context, i int) error {
		return apistatus.WithFieldPrefix(apply(ctx, items[i], resps[i]), field+"["+strconv.Itoa(i)+"].")
	}
	for i := range items {
		resps[i] = newResp()
	}
	if dryRun {
		err := pg.Rehearse(ctx, pool, func(ctx context.Context) error {
			for i := range items {
				errs[i] = pg.InTx(ctx, pool, func(tx pgx.Tx) error { return runItem(pg.WithTx(ctx, tx), i) })
			}
			return nil
		})
		fillErr(errs, err)
		return resps, errs
	}
	batch := idempotency.Key{Caller: caller.Subject, RequestID: req.GetRequestId(), Method: method}
	if err := idempotency.Do(ctx, pool, batch, req, &emptypb.Empty{}, func(context.Context) error { return nil }); err != nil {
		fillErr(errs, err)
		return resps, errs
	}
	for i, item := range items {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		// Request ids cannot hold spaces, so no single call's id collides with an item's.
		k := idempotency.Key{Caller: caller.Subject, RequestID: req.GetRequestId() + " #" + strconv.Itoa(i), Method: method}
		errs[i] = idempotency.Do(ctx, pool, k, item, resps[i], func(ctx context.Context) error { return runItem(ctx, i) })
	}
	return resps, errs
}

// fillErr gives every item without an outcome err.
func fillErr(errs []error, err error) {
	if err == nil {
		return
	}
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
}
