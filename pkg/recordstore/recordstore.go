// Package recordstore keeps a stage service's records (see pkg/record) in
// PostgreSQL: one row per application, its history in the history table,
// and the events of each change in the outbox of the same transaction.
// Writes join a transaction carried by ctx (pg.WithTx), so a request's
// idempotency record or a consumer's inbox row commits with them.
package recordstore

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/record"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the history table in a service's schema; a service
// lists it before its own.
var Migrations = pg.Embedded("history", migrations, "migrations")

// Table keeps one kind of stage record, keyed by application id. The
// service gives the SQL that is its own (its columns); the table does the
// rest the same way for every service. Build it with NewTable, which checks
// that every field is set.
type Table[R record.Headed[S], S record.State] struct {
	Pool *pgxpool.Pool
	// Select reads one record: `SELECT <columns> FROM <table> WHERE
	// application_id = $1`, and nothing after it (GetIn and UpdateIn add a
	// condition on the table's region column, Update FOR UPDATE).
	Select string
	// Scan reads a row of Select (and of the service's own lists).
	Scan func(pgx.Row) (R, error)
	// Insert stores a new record unless the application has one, and
	// reports whether it did.
	Insert func(ctx context.Context, tx pgx.Tx, r R) (bool, error)
	// Save stores what a change may have changed. Its tx defers every
	// Exec (pg.Deferring): the statement goes with the change's other
	// writes in one round trip, and its command tag is empty.
	Save func(ctx context.Context, tx pgx.Tx, r R) error
	// Unknown is the error of a change to a record not here (yet); it
	// matches record.ErrNotYet and says which event opens one.
	Unknown error
	// Noun names the record in the NotFound of a read, e.g. "sift case".
	Noun string
}

// NewTable returns t after checking that every field is set: a missing one
// is a programming error, which panics at start-up rather than on the
// first change.
func NewTable[R record.Headed[S], S record.State](t Table[R, S]) *Table[R, S] {
	switch {
	case t.Pool == nil, t.Select == "", t.Scan == nil, t.Insert == nil, t.Save == nil, t.Unknown == nil, t.Noun == "":
		panic(fmt.Sprintf("recordstore.NewTable %q: every field must be set", t.Noun))
	case !errors.Is(t.Unknown, record.ErrNotYet):
		panic(fmt.Sprintf("recordstore.NewTable %q: Unknown must match record.ErrNotYet", t.Noun))
	}
	return &t
}

// Open stores a new record, every field as r holds it, with its history
// and events, unless the application has a record already (a redelivered
// or late event): then it does nothing.
func (t *Table[R, S]) Open(ctx context.Context, r R, evs ...*eventsv1.Event) error {
	return pg.Join(ctx, t.Pool, func(tx pgx.Tx) error {
		inserted, err := t.Insert(ctx, tx, r)
		if err != nil {
			return fmt.Errorf("open %s: %w", t.Noun, err)
		}
		if !inserted {
			return nil
		}
		// A record may open with changes already made to it (an imported
		// history, pkg/imported.Open): Save stores every field that
		// changes, whatever Insert covers (deferred: no round trip).
		if err := t.Save(ctx, pg.Deferring(tx), r); err != nil {
			return fmt.Errorf("open %s: %w", t.Noun, err)
		}
		h := r.Head()
		if err := appendHistory(ctx, tx, h.ApplicationID, h.History...); err != nil {
			return err
		}
		return outbox.Append(ctx, tx, evs...)
	})
}

// inRegions limits Select to records in $2, or every region when $2 is
// NULL: a record elsewhere is no row, just like a missing one.
const inRegions = ` AND ($2::text[] IS NULL OR region = ANY($2::text[]))`

// Update loads the record applicationID under a row lock, applies fn, and
// stores the record, its new history entries and fn's event in one
// transaction; it returns the record as stored, with its whole history. A
// missing record is t.Unknown; fn's error (record.ErrUnchanged among them)
// stores nothing and is returned. It reaches every region: it is for the
// service's own changes (a consumer's); a caller's go through UpdateIn.
func (t *Table[R, S]) Update(ctx context.Context, applicationID string, fn func(R) (*eventsv1.Event, error)) (R, error) {
	return t.UpdateIn(ctx, applicationID, nil, fn)
}

// UpdateIn is Update of a record in one of regions (nil: any): a record in
// another region is t.Unknown, as if it did not exist (a record.ScopedUpdate).
func (t *Table[R, S]) UpdateIn(ctx context.Context, applicationID string, regions []string, fn func(R) (*eventsv1.Event, error)) (R, error) {
	var out R
	if uuid.Validate(applicationID) != nil {
		return out, t.Unknown
	}
	// The record's writes are deferred (pg.Defer, pg.Deferring): they go
	// with the read of its history, one round trip after the locked read.
	// A failure fails the whole change: no savepoint (pg.Join).
	err := pg.Join(ctx, t.Pool, func(tx pgx.Tx) error {
		r, err := t.scan(tx.QueryRow(ctx, t.Select+inRegions+` FOR UPDATE`, applicationID, regions), t.Unknown)
		if err != nil {
			return err
		}
		h := r.Head()
		before := h.Version
		ev, err := fn(r)
		if err != nil {
			return err
		}
		if err := t.Save(ctx, pg.Deferring(tx), r); err != nil {
			return fmt.Errorf("update %s: %w", t.Noun, err)
		}
		if err := appendHistory(ctx, tx, h.ApplicationID, history.Since(h.History, before)...); err != nil {
			return err
		}
		if ev != nil {
			if err := outbox.Append(ctx, tx, ev); err != nil {
				return err
			}
		}
		// Read back inside the transaction, so the caller sees the record
		// as it will commit (with the caller's own transaction, which this
		// joins), history of earlier changes included.
		if h.History, err = loadHistory(ctx, tx, h.ApplicationID); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// Get returns the record applicationID with its history, or an error
// matching record.ErrNotFound; it reaches every region.
func (t *Table[R, S]) Get(ctx context.Context, applicationID string) (R, error) {
	return t.GetIn(ctx, applicationID, nil)
}

// GetIn is Get of a record in one of regions (nil: any): a record in
// another region is the NotFound of a missing one, word for word (a
// record.ScopedGet).
func (t *Table[R, S]) GetIn(ctx context.Context, applicationID string, regions []string) (R, error) {
	var zero R
	// No id in the message: the caller has it, and the message of every
	// missing record is then the same.
	missing := record.NotFound(fmt.Sprintf("no %s for this application_id", t.Noun))
	if uuid.Validate(applicationID) != nil {
		return zero, missing
	}
	q := pg.Q(ctx, t.Pool)
	r, err := t.scan(q.QueryRow(ctx, t.Select+inRegions, applicationID, regions), missing)
	if err != nil {
		return zero, err
	}
	if r.Head().History, err = loadHistory(ctx, q, applicationID); err != nil {
		return zero, err
	}
	return r, nil
}

// Assigned lists a page of f's work list: the records assigned to
// f.Assignee in f.Regions (nil: any) for which the condition open holds
// (a constant SQL condition naming the open states, so that a partial
// index on them serves the query), oldest first by the column since, then
// by application id. from is the table's `SELECT <columns> FROM <table>`.
func (t *Table[R, S]) Assigned(ctx context.Context, from, open, since string, f assign.Filter) ([]R, error) {
	return t.List(ctx, from+` WHERE assignee = $1 AND assignee <> '' AND (`+open+`)
		AND ($2::text[] IS NULL OR region = ANY($2::text[]))
		AND (`+since+`, application_id) > ($3, $4::uuid) ORDER BY `+since+`, application_id LIMIT $5`,
		f.Assignee, f.Regions, f.After.At, f.After.ID, f.Limit)
}

// List runs a query of the service's whose rows Scan reads.
func (t *Table[R, S]) List(ctx context.Context, query string, args ...any) ([]R, error) {
	rows, err := pg.Q(ctx, t.Pool).Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.Noun, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (R, error) { return t.Scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.Noun, err)
	}
	return out, nil
}

func (t *Table[R, S]) scan(row pgx.Row, missing error) (R, error) {
	r, err := t.Scan(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return r, missing
	case err != nil:
		return r, fmt.Errorf("read %s: %w", t.Noun, err)
	}
	return r, nil
}

func appendHistory(ctx context.Context, tx pgx.Tx, recordID string, entries ...history.Entry) error {
	for _, e := range entries {
		if err := pg.Defer(ctx, tx, `INSERT INTO history (record_id, version, event, actor_subject, actor_role, occurred_at, reason_code)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			recordID, e.Version, e.Event, e.Actor.GetSubject(), int32(e.Actor.GetRole()), e.OccurredAt, e.ReasonCode); err != nil {
			return fmt.Errorf("record history: %w", err)
		}
	}
	return nil
}

func loadHistory(ctx context.Context, q pg.Querier, recordID string) ([]history.Entry, error) {
	rows, err := q.Query(ctx, `SELECT version, event, actor_subject, actor_role, occurred_at, reason_code
		FROM history WHERE record_id = $1 ORDER BY version`, recordID)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (history.Entry, error) {
		var e history.Entry
		var subject string
		var role int32
		err := r.Scan(&e.Version, &e.Event, &subject, &role, &e.OccurredAt, &e.ReasonCode)
		e.Actor = &commonv1.Actor{Subject: subject, Role: commonv1.CallerRole(role)}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return entries, nil
}
