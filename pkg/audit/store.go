package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/pg"
)

// entry is one row of the trail.
type entry struct {
	ID        string
	At        time.Time
	Subject   string
	Role      string
	Regions   []string
	Method    string
	Kind      string
	RecordIDs []string
	Outcome   string
}

func (r *Recorder) insert(ctx context.Context, q pg.Querier, e entry) error {
	if _, err := q.Exec(ctx, insertEvent, e.ID, e.At, e.Subject, e.Role, e.Regions, e.Method, e.Kind, e.RecordIDs, e.Outcome); err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	r.written.WithLabelValues(e.Kind, e.Outcome).Inc()
	return nil
}

// insertInTx writes e in the change's transaction that ctx carries,
// deferred (pg.Defer: it goes with the commit), or on its own if there is
// none.
func (r *Recorder) insertInTx(ctx context.Context, e entry) error {
	tx, ok := pg.TxFrom(ctx)
	if !ok {
		return r.insert(ctx, r.pool, e)
	}
	if err := pg.Defer(ctx, tx, insertEvent, e.ID, e.At, e.Subject, e.Role, e.Regions, e.Method, e.Kind, e.RecordIDs, e.Outcome); err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	r.written.WithLabelValues(e.Kind, e.Outcome).Inc()
	return nil
}

const insertEvent = `INSERT INTO audit_event (id, occurred_at, subject, role, regions, method, kind, record_ids, outcome)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// filter selects events for ListAuditEvents.
type filter struct {
	RecordID     string
	Subject      string
	Since, Until time.Time // zero: unbounded
	After        pagetoken.Key
	Limit        int
}

func (r *Recorder) list(ctx context.Context, f filter) ([]entry, error) {
	where := []string{"(occurred_at, id) > ($1, $2)"}
	args := []any{f.After.At, f.After.ID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.RecordID != "" {
		add("record_ids @> ARRAY[?::text]", f.RecordID)
	}
	if f.Subject != "" {
		add("subject = ?", f.Subject)
	}
	if !f.Since.IsZero() {
		add("occurred_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		add("occurred_at < ?", f.Until)
	}
	args = append(args, f.Limit)
	rows, err := r.pool.Query(ctx,
		`SELECT id::text, occurred_at, subject, role, regions, method, kind, record_ids, outcome
		 FROM audit_event WHERE `+strings.Join(where, " AND ")+`
		 ORDER BY occurred_at, id LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (entry, error) {
		var e entry
		err := row.Scan(&e.ID, &e.At, &e.Subject, &e.Role, &e.Regions, &e.Method, &e.Kind, &e.RecordIDs, &e.Outcome)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}

// pruneBatch bounds one DELETE, so pruning a large backlog neither holds
// locks nor bloats one transaction for long.
const pruneBatch = 5000

// Prune deletes the events that occurred before cutoff and returns how
// many it deleted.
func (r *Recorder) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := r.pool.Exec(ctx,
			`DELETE FROM audit_event WHERE id IN (
			     SELECT id FROM audit_event WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)`,
			cutoff, pruneBatch)
		if err != nil {
			return total, fmt.Errorf("prune audit events: %w", err)
		}
		total += tag.RowsAffected()
		r.pruned.Add(float64(tag.RowsAffected()))
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

// DefaultPruneInterval is how often Pruner deletes expired events.
const DefaultPruneInterval = time.Hour

// DefaultRetention is how long events are kept when the configuration
// says nothing: two years (730 days).
const DefaultRetention = 730 * 24 * time.Hour

// Pruner returns a job deleting the events older than retention (zero:
// DefaultRetention), at start
// and then every interval (zero: DefaultPruneInterval), until ctx ends;
// start it with the service (Runtime.Go). Replicas may all run it: a
// DELETE of rows another replica deleted first deletes nothing. A failed
// round is logged, and tried again next round.
func (r *Recorder) Pruner(retention, interval time.Duration) func(context.Context) error {
	if interval <= 0 {
		interval = DefaultPruneInterval
	}
	return func(ctx context.Context) error {
		switch {
		case retention < 0:
			return fmt.Errorf("AUDIT_RETENTION: must not be negative, got %s", retention)
		case retention == 0:
			retention = DefaultRetention
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			n, err := r.Prune(ctx, r.now().Add(-retention))
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				r.log.ErrorContext(ctx, "audit retention: prune failed", "err", err)
			case n > 0:
				r.log.InfoContext(ctx, "audit retention: pruned", "events", n, "retention", retention.String())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}
