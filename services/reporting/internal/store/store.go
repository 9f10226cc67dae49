// Package store keeps the reporting projection in PostgreSQL (schema
// reporting): one row per application and campaign, and the counters,
// duration histograms and stuck clocks the reports read, all updated
// together, a batch of events per transaction.
package store

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/record"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the projection's tables.
var Migrations = pg.Embedded("projection", migrations, "migrations")

// Store reads and writes the projection.
type Store struct {
	pool *pgxpool.Pool
	// now judges which stuck thresholds a clock has crossed.
	now func() time.Time
	// quiet records crossings as announced without writing their events.
	quiet bool
	// settle is how long a crossing found in an imported history waits.
	settle time.Duration
}

// DefaultImportSettle is how long, by default, a stuck crossing found in
// an imported application's history waits before it is announced: longer
// than an import batch's history takes to arrive (STUCK_IMPORT_SETTLE).
const DefaultImportSettle = 10 * time.Minute

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, now: time.Now, settle: DefaultImportSettle}
}

// WithImportSettle returns a Store that holds the stuck crossings its
// batches find for an imported application for d, until the rest of the
// history has arrived; the scheduler announces them then if the clock is
// still past its threshold (docs/design.md, "Stuck events").
func (s *Store) WithImportSettle(d time.Duration) *Store {
	c := *s
	c.settle = d
	return &c
}

// WithClock returns a Store that judges crossings by now (a scripted clock
// in tests).
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// Quiet returns a Store that records the crossings its batches cause as
// announced without publishing them: a rebuild's replay, whose crossings
// happened long ago and were announced by the projection it replaces
// (docs/design.md, "Stuck events").
func (s *Store) Quiet() *Store {
	c := *s
	c.quiet = true
	return &c
}

// limitsJSON is how thresholds are stored: days per stage number, and the
// vetting-blocked limit.
type limitsJSON struct {
	Stages  map[commonv1.Stage]projection.Limit `json:"stages"`
	Blocked projection.Limit                    `json:"blocked"`
	Roles   map[commonv1.JobRole]roleJSON       `json:"roles,omitempty"`
	// Checks is absent from thresholds stored before the rule existed:
	// then the default.
	Checks *projection.Limit `json:"checks,omitempty"`
}

// roleJSON is a job role's overrides.
type roleJSON struct {
	Stages  map[commonv1.Stage]projection.Limit `json:"stages,omitempty"`
	Blocked *projection.Limit                   `json:"blocked,omitempty"`
	Checks  *projection.Limit                   `json:"checks,omitempty"`
}

// AllThresholds returns the thresholds set for regions
// (projection.ThresholdsFor gives the defaults for the others).
func (s *Store) AllThresholds(ctx context.Context) (map[string]projection.Thresholds, error) {
	rows, err := s.pool.Query(ctx, thresholdsSQL)
	if err != nil {
		return nil, fmt.Errorf("read thresholds: %w", err)
	}
	return scanThresholds(rows)
}

const thresholdsSQL = `SELECT region, limits, version FROM thresholds`

func scanThresholds(rows pgx.Rows) (map[string]projection.Thresholds, error) {
	defer rows.Close()
	out := map[string]projection.Thresholds{}
	for rows.Next() {
		var region string
		var raw []byte
		var version int64
		if err := rows.Scan(&region, &raw, &version); err != nil {
			return nil, fmt.Errorf("read thresholds: %w", err)
		}
		var l limitsJSON
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("read thresholds of %s: %w", region, err)
		}
		th := projection.Thresholds{Stages: l.Stages, Blocked: l.Blocked, Checks: projection.DefaultChecks, Version: version}
		if l.Checks != nil {
			th.Checks = *l.Checks
		}
		for role, o := range l.Roles {
			if th.Roles == nil {
				th.Roles = map[commonv1.JobRole]projection.Overrides{}
			}
			th.Roles[role] = projection.Overrides{Stages: o.Stages, Blocked: o.Blocked, Checks: o.Checks}
		}
		out[region] = th
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read thresholds: %w", err)
	}
	return out, nil
}

// SetThresholds stores a region's thresholds if expectedVersion is its
// current version (0 for the defaults), and moves every stuck clock of the
// region to them.
func (s *Store) SetThresholds(ctx context.Context, region string, expectedVersion int64, th projection.Thresholds) (projection.Thresholds, error) {
	stored := limitsJSON{Stages: th.Stages, Blocked: th.Blocked, Checks: &th.Checks}
	for role, o := range th.Roles {
		if stored.Roles == nil {
			stored.Roles = map[commonv1.JobRole]roleJSON{}
		}
		stored.Roles[role] = roleJSON{Stages: o.Stages, Blocked: o.Blocked, Checks: o.Checks}
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return th, fmt.Errorf("encode thresholds: %w", err)
	}
	err = pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// The projection's lock: a batch that read the old thresholds must
		// not commit clocks after this moves them.
		if err := lockProjection(ctx, tx); err != nil {
			return err
		}
		var current int64
		err := tx.QueryRow(ctx, `SELECT version FROM thresholds WHERE region = $1 FOR UPDATE`, region).Scan(&current)
		if err != nil && err != pgx.ErrNoRows {
			return fmt.Errorf("read thresholds: %w", err)
		}
		if current != expectedVersion {
			return record.StaleError(expectedVersion, current)
		}
		th.Version = current + 1
		if _, err := tx.Exec(ctx, `INSERT INTO thresholds (region, limits, version) VALUES ($1, $2, $3)
			ON CONFLICT (region) DO UPDATE SET limits = excluded.limits, version = excluded.version`, region, raw, th.Version); err != nil {
			return fmt.Errorf("store thresholds: %w", err)
		}
		return s.moveClocks(ctx, tx, region, th)
	})
	return th, err
}

// moveClocks re-times the region's stuck clocks to new thresholds, each
// job role's by its own where it overrides them; the overdue-vetting clock
// has none.
func (s *Store) moveClocks(ctx context.Context, tx pgx.Tx, region string, th projection.Thresholds) error {
	// set re-times the clocks of kind (and stage) whose role is in roles
	// (in is true) or is not (in is false).
	set := func(kind projection.StuckKind, stage commonv1.Stage, l projection.Limit, roles []int32, in bool) error {
		// Hours, not days: a day interval is a calendar day in the
		// session's time zone, while clocks are set n × 24 hours on.
		_, err := tx.Exec(ctx, `UPDATE stuck SET warning_at = since + make_interval(hours => 24 * $4), breach_at = since + make_interval(hours => 24 * $5)
			WHERE region = $1 AND kind = $2 AND ($3 = 0 OR stage = $3) AND (role = ANY($6::int[])) = $7`,
			region, int(kind), int(stage), l.WarningDays, l.BreachDays, roles, in)
		if err != nil {
			return fmt.Errorf("move stuck clocks: %w", err)
		}
		return nil
	}
	// limit sets one limit: the roles overriding it first, then the rest.
	limit := func(kind projection.StuckKind, stage commonv1.Stage, l projection.Limit, override func(projection.Overrides) (projection.Limit, bool)) error {
		overridden := []int32{}
		for role, o := range th.Roles {
			if ol, ok := override(o); ok {
				overridden = append(overridden, int32(role))
				if err := set(kind, stage, ol, []int32{int32(role)}, true); err != nil {
					return err
				}
			}
		}
		return set(kind, stage, l, overridden, false)
	}
	for stage, l := range th.Stages {
		err := limit(projection.StuckStage, stage, l, func(o projection.Overrides) (projection.Limit, bool) {
			ol, ok := o.Stages[stage]
			return ol, ok
		})
		if err != nil {
			return err
		}
	}
	err := limit(projection.StuckVettingBlocked, 0, th.Blocked, func(o projection.Overrides) (projection.Limit, bool) {
		if o.Blocked == nil {
			return projection.Limit{}, false
		}
		return *o.Blocked, true
	})
	if err != nil {
		return err
	}
	err = limit(projection.StuckCheckOutstanding, 0, th.Checks, func(o projection.Overrides) (projection.Limit, bool) {
		if o.Checks == nil {
			return projection.Limit{}, false
		}
		return *o.Checks, true
	})
	if err != nil {
		return err
	}
	// The pending crossings move with their clocks (waiting for any the
	// scheduler has claimed, then judging by what it announced); one
	// already past is due at once, and the scheduler is woken to publish it.
	// A crossing held while an imported history settles stays held.
	if _, err := tx.Exec(ctx, `UPDATE stuck_alerts a SET due_at = GREATEST(CASE a.level WHEN 0 THEN s.warning_at ELSE s.breach_at END, a.settles_at)
		FROM stuck s WHERE s.application_id = a.application_id AND s.kind = a.kind AND s.region = $1
			AND a.since IS NOT NULL AND a.level < 2`, region); err != nil {
		return fmt.Errorf("move stuck crossings: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify(current_schema() || '`+DueChannel+`', '')`); err != nil {
		return fmt.Errorf("wake the stuck scheduler: %w", err)
	}
	b := &pgx.Batch{}
	if err := queueVersions(b, []string{region}, []*time.Time{nil}, nil); err != nil {
		return err
	}
	return tx.SendBatch(ctx, b).Close()
}

// RebuildNeeded returns why the projection must be rebuilt before every
// report follows the current rules (a migration that added facts the
// stored records lack says so); none when it need not be.
func (s *Store) RebuildNeeded(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT reason FROM rebuild_needed ORDER BY reason`)
	if err != nil {
		return nil, fmt.Errorf("read rebuild needed: %w", err)
	}
	reasons, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read rebuild needed: %w", err)
	}
	return reasons, nil
}
