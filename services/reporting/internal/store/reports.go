package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// The reports read the projection through an in-process cache of each
// region's aggregates (internal/report). Every read first asks Versions,
// one small query, and reloads with LoadRegion only what changed since
// the version it holds, so an answer is never older than the last batch
// committed before the read began.

// Versions reads the epoch and the versions of every region.
func (s *Store) Versions(ctx context.Context) (report.Versions, error) {
	rows, err := s.pool.Query(ctx, `SELECT e.epoch::text, v.region, v.version, v.latest_event_at
		FROM projection_epoch e LEFT JOIN region_versions v ON true`)
	if err != nil {
		return report.Versions{}, fmt.Errorf("read versions: %w", err)
	}
	defer rows.Close()
	out := report.Versions{Of: map[string]int64{}, Latest: map[string]time.Time{}}
	for rows.Next() {
		var region *string
		var version *int64
		var latest *time.Time
		if err := rows.Scan(&out.Epoch, &region, &version, &latest); err != nil {
			return report.Versions{}, fmt.Errorf("read versions: %w", err)
		}
		if region != nil && version != nil {
			out.Of[*region] = *version
		}
		if region != nil && latest != nil {
			out.Latest[*region] = latest.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return report.Versions{}, fmt.Errorf("read versions: %w", err)
	}
	if out.Epoch == "" {
		return report.Versions{}, fmt.Errorf("read versions: the projection has no epoch")
	}
	return out, nil
}

// LoadRegion reads region's aggregates in one snapshot: every campaign's
// if after is 0, else only those of campaigns changed after version after.
func (s *Store) LoadRegion(ctx context.Context, region string, after int64) (report.RegionRows, error) {
	out := report.RegionRows{Full: after == 0}
	// One snapshot for the version and the rows it stands for.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return out, fmt.Errorf("load region: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only; Commit below on success

	// Campaigns whose rows to read: all, or those changed after the version.
	which, args := ``, []any{region}
	if !out.Full {
		which, args = ` AND campaign_id IN (SELECT campaign_id FROM campaign_versions WHERE region = $1 AND version > $2)`, []any{region, after}
	}
	b := &pgx.Batch{}
	// Plans for these arguments: how many campaigns changed decides between
	// probing the index per campaign and reading the region.
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`)
	b.Queue(`SELECT (SELECT epoch::text FROM projection_epoch), coalesce((SELECT version FROM region_versions WHERE region = $1), 0)`,
		region).QueryRow(func(r pgx.Row) error {
		return wrap("read region version", r.Scan(&out.Epoch, &out.Version))
	})
	if !out.Full {
		b.Queue(`SELECT campaign_id FROM campaign_versions WHERE region = $1 AND version > $2`, region, after).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id pgtype.UUID
				if err := rows.Scan(&id); err != nil {
					return wrap("read changed campaigns", err)
				}
				out.Campaigns = append(out.Campaigns, id.Bytes)
			}
			return wrap("read changed campaigns", rows.Err())
		})
	}
	// end_date as a day number: cheaper to decode, and what the cache keeps.
	b.Queue(`SELECT campaign_id, measure, end_date - DATE '1970-01-01', role, days, working_days, n FROM durations
		WHERE region = $1 AND n <> 0`+which, args...).Query(func(rows pgx.Rows) error {
		var id pgtype.UUID
		var r report.DurationRow
		var measure, role int32
		var n int64
		for rows.Next() {
			if err := rows.Scan(&id, &measure, &r.End, &role, &r.Days, &r.WorkingDays, &n); err != nil {
				return wrap("read durations", err)
			}
			r.Campaign, r.Measure, r.Role, r.N = id.Bytes, projection.Measure(measure), commonv1.JobRole(role), int32(n)
			out.Durations = append(out.Durations, r)
		}
		return wrap("read durations", rows.Err())
	})
	b.Queue(`SELECT campaign_id, kind, stage, n FROM counts WHERE region = $1 AND n <> 0`+which, args...).Query(func(rows pgx.Rows) error {
		var id pgtype.UUID
		var c report.CountRow
		var kind string
		var stage int32
		for rows.Next() {
			if err := rows.Scan(&id, &kind, &stage, &c.N); err != nil {
				return wrap("read counts", err)
			}
			c.Campaign, c.Kind, c.Stage = id.Bytes, projection.CountKind(kind), commonv1.Stage(stage)
			out.Counts = append(out.Counts, c)
		}
		return wrap("read counts", rows.Err())
	})
	b.Queue(`SELECT application_id::text, kind, coalesce(campaign_id::text, ''), role, stage, since, warning_at, breach_at,
			blocked_reason, next_actor, assignee
		FROM stuck WHERE region = $1 ORDER BY warning_at, application_id, kind`, region).Query(func(rows pgx.Rows) error {
		var err error
		out.Stuck, err = pgx.CollectRows(rows, scanStuck)
		return wrap("read stuck clocks", err)
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return out, fmt.Errorf("load region %s: %w", region, err)
	}
	if out.Full {
		seen := map[report.CampaignKey]bool{}
		for _, r := range out.Durations {
			seen[r.Campaign] = true
		}
		for _, c := range out.Counts {
			seen[c.Campaign] = true
		}
		for c := range seen {
			out.Campaigns = append(out.Campaigns, c)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return out, fmt.Errorf("load region %s: %w", region, err)
	}
	return out, nil
}

func scanStuck(r pgx.CollectableRow) (report.StuckRow, error) {
	var row report.StuckRow
	var kind, role, stage, reason, actor int32
	err := r.Scan(&row.ApplicationID, &kind, &row.CampaignID, &role, &stage, &row.Since, &row.WarningAt, &row.BreachAt, &reason, &actor, &row.Assignee)
	row.Kind, row.Role, row.Stage = projection.StuckKind(kind), commonv1.JobRole(role), commonv1.Stage(stage)
	row.BlockedReason, row.NextActor = commonv1.BlockReason(reason), projection.NextActor(actor)
	// Reported in UTC whatever the session's time zone.
	row.Since, row.WarningAt, row.BreachAt = row.Since.UTC(), row.WarningAt.UTC(), row.BreachAt.UTC()
	return row, err
}

// wrap names the action that failed; nil stays nil.
func wrap(action string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", action, err)
}

// RegionSummary reads, in one snapshot, what a region's summary needs
// straight from the aggregates, for the reports while the region's cache
// is cold: its current applications per stage, measure m's calendar-day
// histogram over the days fromDay..toDay (since 1970-01-01) of every
// campaign and role, and how many applications have a stuck clock past its
// warning at asOf. Each reads a range of an index: milliseconds where
// LoadRegion takes a second at 1M applications.
func (s *Store) RegionSummary(ctx context.Context, region string, m projection.Measure, fromDay, toDay int32, asOf time.Time) (report.SummaryRows, error) {
	out := report.SummaryRows{Current: map[commonv1.Stage]int{}}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return out, fmt.Errorf("read region summary: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only; Commit below on success
	b := &pgx.Batch{}
	b.Queue(`SELECT (SELECT epoch::text FROM projection_epoch), coalesce((SELECT version FROM region_versions WHERE region = $1), 0)`,
		region).QueryRow(func(r pgx.Row) error {
		return wrap("read region version", r.Scan(&out.Epoch, &out.Version))
	})
	// The rows LoadRegion would read (n <> 0), summed as the cache sums them.
	b.Queue(`SELECT stage, sum(n)::bigint FROM counts WHERE region = $1 AND kind = $2 AND n <> 0 GROUP BY stage`,
		region, string(projection.Current)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var stage int32
			var n int64
			if err := rows.Scan(&stage, &n); err != nil {
				return wrap("read current counts", err)
			}
			out.Current[commonv1.Stage(stage)] = int(n)
		}
		return wrap("read current counts", rows.Err())
	})
	b.Queue(`SELECT days, sum(n)::bigint FROM durations
		WHERE region = $1 AND measure = $2 AND end_date BETWEEN DATE '1970-01-01' + $3::int AND DATE '1970-01-01' + $4::int AND n <> 0
		GROUP BY days ORDER BY days`, region, int32(m), fromDay, toDay).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var days int32
			var n int64
			if err := rows.Scan(&days, &n); err != nil {
				return wrap("read time to hire", err)
			}
			out.Days, out.TimeToHire = append(out.Days, days), append(out.TimeToHire, int32(n))
		}
		return wrap("read time to hire", rows.Err())
	})
	b.Queue(`SELECT count(DISTINCT application_id) FROM stuck WHERE region = $1 AND warning_at <= $2`, region, asOf).QueryRow(func(r pgx.Row) error {
		return wrap("count stuck", r.Scan(&out.Stuck))
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return out, fmt.Errorf("read region summary %s: %w", region, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return out, fmt.Errorf("read region summary %s: %w", region, err)
	}
	return out, nil
}
