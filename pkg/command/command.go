// Package command runs the mutating calls of the stage services the same
// way: the caller's role, the record id, and at most one application per
// client-chosen request id, in one transaction with the change and its
// event; and batches of such changes, each item on its own.
package command

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Call is a mutating call of a service.
type Call struct {
	// Method names the call in the request log, keeping different calls
	// with the same request id apart.
	Method string
	// Roles may make the call; admins always may, and with none listed
	// only admins may.
	Roles []auth.Role
	// Invalid is what is wrong with the request, found while decoding it
	// (nil if nothing): reported once the caller is known to be allowed,
	// before anything runs.
	Invalid error
}

// OnApplication is a call by one of roles that changes the record of
// applicationID (which must be a UUID).
func OnApplication(method string, roles []auth.Role, applicationID string) Call {
	return Call{Method: method, Roles: roles, Invalid: validate.UUID("application_id", applicationID)}
}

// Records says how a call's result is noted in the request log and read
// again for a retry: the log keeps only which record the first call
// changed, never the response (see pkg/idempotency).
type Records[T any] struct {
	// Ref names the record a result is, with its version.
	Ref func(T) idempotency.Ref
	// Read reads the record id as caller may see it now: the read every
	// other call of the record makes, its region checked, so a caller who
	// has lost the region since is refused as for any record out of
	// region.
	Read func(ctx context.Context, caller auth.Claims, id string) (T, error)
}

// Run performs a change: the caller must hold one of c.Roles, the request
// must be valid, and fn runs at most once per caller and request id, with
// set putting its result into resp as the caller may see it, and the
// call's audit event (pkg/audit) written in the change's transaction. A retry
// reads the changed record again with rec.Read and answers with it as it
// stands: the first response while the record is unchanged, the record at
// its later version once other changes have followed (the retry is never
// applied again). Errors are returned unmapped.
func Run[T any](ctx context.Context, pool *pgxpool.Pool, c Call, rec Records[T], req idempotency.Request, resp proto.Message,
	fn func(context.Context, auth.Claims) (T, error), set func(auth.Claims, T)) error {
	caller, err := auth.Require(ctx, "", c.Roles...)
	if err != nil {
		return err
	}
	if c.Invalid != nil {
		return c.Invalid
	}
	return idempotency.Once(ctx, pool, caller.Subject, c.Method, req,
		func(ctx context.Context) (idempotency.Ref, error) {
			v, err := fn(ctx, caller)
			set(caller, v)
			if err != nil {
				return idempotency.Ref{}, err
			}
			// The change commits only with its audit event.
			if err := audit.RecordChange(ctx, resp); err != nil {
				return idempotency.Ref{}, err
			}
			return rec.Ref(v), nil
		},
		func(ctx context.Context, done idempotency.Ref) error {
			v, err := rec.Read(ctx, caller, done.ID)
			if err != nil {
				return err
			}
			set(caller, v)
			return nil
		})
}

// Reply is a handler's answer: resp, or only the error if there is one.
func Reply[T any](resp *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// BatchCall is a call that applies a list of items, each on its own.
type BatchCall struct {
	Call
	// Field names the list in errors, e.g. "items"; ItemNoun says what
	// the items are, e.g. "cases".
	Field, ItemNoun string
	// Max is the most items one call may carry (at least 1).
	Max int
	// DryRun reports what each item would do and changes nothing.
	DryRun bool
}

// Batch applies each item on its own, in order, after checking what the
// whole call needs (the caller, c.Invalid, the number of items, and a
// request id unless it is a dry run; a failure there is returned as err).
// It returns each item's response and error (nil for success).
//
// With DryRun the whole batch runs in one transaction that is rolled back,
// each item in a savepoint of its own: the answers are exactly what the
// real call would give, later items seeing earlier ones (the same case
// twice in a batch is caught), and nothing changes.
//
// Otherwise the batch's request id is first recorded against the whole
// request, so reusing it for a different batch is an error of the whole
// call (ErrBatchReused, a request_id field error), and nothing is applied; then each
// item runs in its own transaction, its response recorded under the
// request id and the item's position, so a retried batch (say after a
// crash part-way) answers finished items from the record and applies the
// rest; a finished item's response is read again with rec.Read, as for
// Run. Field errors name the item, e.g. "items[3].reason".
func Batch[I, R proto.Message](ctx context.Context, pool *pgxpool.Pool, c BatchCall, rec Records[R], req idempotency.Request, items []I,
	newResp func() R, apply func(ctx context.Context, caller auth.Claims, item I, resp R) error) (resps []R, errs []error, err error) {
	b, err := startBatch(ctx, pool, c, rec, req, items, newResp)
	if err != nil {
		return nil, nil, err
	}
	b.apply = func(ctx context.Context, is []int) ([]error, error) {
		return []error{apply(ctx, b.caller, items[is[0]], b.resps[is[0]])}, nil
	}
	if c.DryRun {
		err := pg.Rehearse(ctx, pool, func(ctx context.Context) error {
			for i := range items {
				b.errs[i] = pg.InTx(ctx, pool, func(tx pgx.Tx) error { return b.runItems(pg.WithTx(ctx, tx), []int{i})[0] })
			}
			return nil
		})
		fillErr(b.errs, err)
		return b.resps, b.errs, nil
	}
	if err := b.recordBatch(); err != nil {
		return nil, nil, err
	}
	b.oneByOne(all(len(items)))
	return b.resps, b.errs, nil
}

// BatchAll is Batch for items that are applied best together: with
// set-based statements (one read of every item's record, one multi-row
// insert) in one transaction, rather than a transaction each. apply is
// given the items still to do, by index, and returns each one's error
// (nil for success) — an item's error leaves nothing of that item behind,
// so apply writes only the items that succeed — or an error of the whole
// set. The items' request ids are claimed and completed together in the
// same transaction (idempotency.ClaimAll), so what a retry, a dry run,
// field errors and the answers are is exactly as for Batch.
//
// A whole set that fails (an error of apply, or of the transaction) is
// rolled back and applied again one item at a time, each in its own
// transaction as Batch does, so that one item the set-based statements
// could not take (a constraint nobody checked first) fails alone.
func BatchAll[I, R proto.Message](ctx context.Context, pool *pgxpool.Pool, c BatchCall, rec Records[R], req idempotency.Request, items []I,
	newResp func() R, apply func(ctx context.Context, caller auth.Claims, items []I, resps []R) ([]error, error)) (resps []R, errs []error, err error) {
	b, err := startBatch(ctx, pool, c, rec, req, items, newResp)
	if err != nil {
		return nil, nil, err
	}
	b.apply = func(ctx context.Context, is []int) ([]error, error) {
		some, out := make([]I, len(is)), make([]R, len(is))
		for k, i := range is {
			some[k], out[k] = items[i], b.resps[i]
		}
		return apply(ctx, b.caller, some, out)
	}
	if c.DryRun {
		err := pg.Rehearse(ctx, pool, func(ctx context.Context) error {
			errs, err := b.applySet(ctx, all(len(items)))
			if err != nil {
				return err
			}
			copy(b.errs, errs)
			return nil
		})
		fillErr(b.errs, err)
		return b.resps, b.errs, nil
	}
	if err := b.recordBatch(); err != nil {
		return nil, nil, err
	}
	err = pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		txCtx := pg.WithTx(ctx, tx)
		claims, err := idempotency.ClaimAll(ctx, tx, b.caller.Subject, b.keys(), b.messages())
		if err != nil {
			return err
		}
		var todo []int
		for i, cl := range claims {
			switch {
			case cl.Err != nil:
				b.errs[i] = cl.Err
			case !cl.Claimed:
				b.errs[i] = b.answer(txCtx, i, cl.Done)
			default:
				todo = append(todo, i)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		errs, err := b.applySet(txCtx, todo)
		if err != nil {
			return err
		}
		var done, failed []idempotency.Key
		var refs []idempotency.Ref
		for k, i := range todo {
			b.errs[i] = errs[k]
			if errs[k] != nil {
				failed = append(failed, b.key(i))
				continue
			}
			done, refs = append(done, b.key(i)), append(refs, rec.Ref(b.resps[i]))
		}
		if err := idempotency.ReleaseAll(ctx, tx, b.caller.Subject, failed); err != nil {
			return err
		}
		return idempotency.CompleteAll(ctx, tx, b.caller.Subject, done, refs)
	})
	if err != nil {
		// Rolled back: every item is to do again, on its own.
		for i := range items {
			b.resps[i], b.errs[i] = newResp(), nil
		}
		b.oneByOne(all(len(items)))
	}
	return b.resps, b.errs, nil
}

// batchRun is one call of Batch or BatchAll.
type batchRun[I, R proto.Message] struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	c      BatchCall
	rec    Records[R]
	req    idempotency.Request
	caller auth.Claims
	items  []I
	resps  []R
	errs   []error
	// apply applies the items at indexes is (for Batch, one).
	apply func(ctx context.Context, is []int) ([]error, error)
}

// startBatch checks what the whole call needs: the caller, c.Invalid,
// the number of items, and a request id unless it is a dry run.
func startBatch[I, R proto.Message](ctx context.Context, pool *pgxpool.Pool, c BatchCall, rec Records[R], req idempotency.Request, items []I,
	newResp func() R) (*batchRun[I, R], error) {
	if c.Max < 1 {
		panic("command.Batch: BatchCall.Max must be at least 1") // a programming error any test of the call finds
	}
	caller, err := auth.Require(ctx, "", c.Roles...)
	switch {
	case err != nil:
	case c.Invalid != nil:
		err = c.Invalid
	case len(items) == 0 || len(items) > c.Max:
		err = validate.Field(c.Field, fmt.Sprintf("must hold 1-%d %s, not %d", c.Max, c.ItemNoun, len(items)))
	case !c.DryRun:
		err = validate.RequestID(req.GetRequestId())
	}
	if err != nil {
		return nil, err
	}
	b := &batchRun[I, R]{ctx: ctx, pool: pool, c: c, rec: rec, req: req, caller: caller, items: items, resps: make([]R, len(items)), errs: make([]error, len(items))}
	for i := range items {
		b.resps[i] = newResp()
	}
	return b, nil
}

// ErrBatchReused is the error of a batch call whose request id was used
// before for a different batch (other items, or the same items in another
// order or with other values). It is the whole call's error, never an
// item's: every item failing alike under an OK call reads as a batch that
// was tried, when none of it was (the import refuses it the same way).
var ErrBatchReused = validate.Field("request_id",
	"was already used for a different batch: choose a new request id, and reuse one only to retry the same batch")

// recordBatch records the batch's request id against the whole request.
// An error is the whole call's: ErrBatchReused when the id was used for
// a different batch; then no item is applied.
func (b *batchRun[I, R]) recordBatch() error {
	k := idempotency.Key{Caller: b.caller.Subject, RequestID: b.req.GetRequestId(), Method: b.c.Method}
	err := idempotency.Do(b.ctx, b.pool, k, b.req,
		func(context.Context) (idempotency.Ref, error) { return idempotency.Ref{}, nil },
		func(context.Context, idempotency.Ref) error { return nil })
	if errors.Is(err, idempotency.ErrReused) {
		return ErrBatchReused
	}
	return err
}

// key is item i's request id: the batch's and the item's position.
// Request ids cannot hold spaces, so no single call's id collides with an item's.
func (b *batchRun[I, R]) key(i int) idempotency.Key {
	return idempotency.Key{Caller: b.caller.Subject, RequestID: b.req.GetRequestId() + " #" + strconv.Itoa(i), Method: b.c.Method}
}

// messages are the items, whose fingerprints their request ids keep.
func (b *batchRun[I, R]) messages() []proto.Message {
	ms := make([]proto.Message, len(b.items))
	for i, item := range b.items {
		ms[i] = item
	}
	return ms
}

func (b *batchRun[I, R]) keys() []idempotency.Key {
	ks := make([]idempotency.Key, len(b.resps))
	for i := range ks {
		ks[i] = b.key(i)
	}
	return ks
}

// runItems applies the items at indexes is, their field errors naming
// each item, e.g. "items[3].reason"; an error of the whole set is every
// item's.
func (b *batchRun[I, R]) runItems(ctx context.Context, is []int) []error {
	errs, err := b.applySet(ctx, is)
	if err != nil {
		errs = make([]error, len(is))
		fillErr(errs, err)
	}
	return errs
}

// applySet applies the items at indexes is, their field errors named.
func (b *batchRun[I, R]) applySet(ctx context.Context, is []int) ([]error, error) {
	errs, err := b.apply(ctx, is)
	if err != nil {
		return nil, err
	}
	if len(errs) != len(is) {
		return nil, fmt.Errorf("command: %d errors for %d items", len(errs), len(is))
	}
	for k, i := range is {
		errs[k] = apistatus.WithFieldPrefix(errs[k], b.c.Field+"["+strconv.Itoa(i)+"].")
	}
	return errs, nil
}

// answer answers item i, applied before, by reading its record again.
func (b *batchRun[I, R]) answer(ctx context.Context, i int, done idempotency.Ref) error {
	r, err := b.rec.Read(ctx, b.caller, done.ID)
	if err != nil {
		return err
	}
	b.resps[i] = r
	return nil
}

// oneByOne applies the items at indexes is each in its own transaction,
// its response recorded under its own request id (key), so a retried
// batch (say after a crash part-way) answers finished items from the
// record and applies the rest.
func (b *batchRun[I, R]) oneByOne(is []int) {
	for _, i := range is {
		if b.ctx.Err() != nil {
			b.errs[i] = b.ctx.Err()
			continue
		}
		b.errs[i] = idempotency.Do(b.ctx, b.pool, b.key(i), b.items[i],
			func(ctx context.Context) (idempotency.Ref, error) {
				if err := b.runItems(ctx, []int{i})[0]; err != nil {
					return idempotency.Ref{}, err
				}
				return b.rec.Ref(b.resps[i]), nil
			},
			func(ctx context.Context, done idempotency.Ref) error { return b.answer(ctx, i, done) })
	}
}

func all(n int) []int {
	is := make([]int, n)
	for i := range is {
		is[i] = i
	}
	return is
}

// Tally reports a batch's outcomes in item order: add gets each item's
// index, its status as the caller sees it (toStatus maps errs[i], nil
// being OK), and whether it succeeded. It returns how many did and did not.
func Tally(ctx context.Context, errs []error, toStatus func(context.Context, error) error,
	add func(i int, st *commonv1.ItemStatus, ok bool)) (succeeded, failed int32) {
	for i, err := range errs {
		add(i, apistatus.ItemStatus(toStatus(ctx, err)), err == nil)
		if err == nil {
			succeeded++
		} else {
			failed++
		}
	}
	return succeeded, failed
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
