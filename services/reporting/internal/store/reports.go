package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// StuckFilter selects stuck clocks that have passed AsOf.
type StuckFilter struct {
	Region string
	// Stage, if set, keeps clocks of applications in that stage.
	Stage commonv1.Stage
	// Breach: nil for all, true for breaches only, false for warnings only.
	Breach    *bool
	AsOf      time.Time
	After     pagetoken.Key
	AfterKind projection.StuckKind
	Limit     int
}

// StuckRow is one passed clock.
type StuckRow struct {
	ApplicationID string
	CampaignID    string
	Role          commonv1.JobRole
	projection.Clock
}

// Key is the row's position in the list (most overdue first): the time
// and application, then the kind.
func (r StuckRow) Key() (pagetoken.Key, projection.StuckKind) {
	return pagetoken.Key{At: r.WarningAt, ID: r.ApplicationID}, r.Kind
}

// Stuck lists the clocks past their warning at AsOf, the longest past
// first, with the number of warnings and breaches in all.
func (s *Store) Stuck(ctx context.Context, f StuckFilter) (rows []StuckRow, warnings, breaches int, err error) {
	stage := int32(f.Stage)
	q, err := s.pool.Query(ctx, `SELECT application_id::text, kind, coalesce(campaign_id::text, ''), role, stage, since,
			warning_at, breach_at, blocked_reason, next_actor
		FROM stuck
		WHERE region = $1 AND warning_at <= $2 AND ($3 = 0 OR stage = $3)
		  AND ($4::bool IS NULL OR (breach_at <= $2) = $4)
		  AND (warning_at, application_id, kind) > ($5, $6::uuid, $7)
		ORDER BY warning_at, application_id, kind LIMIT $8`,
		f.Region, f.AsOf, stage, f.Breach, f.After.At, f.After.ID, int32(f.AfterKind), f.Limit)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list stuck: %w", err)
	}
	rows, err = pgx.CollectRows(q, func(r pgx.CollectableRow) (StuckRow, error) {
		var row StuckRow
		var kind, role, stage, reason, actor int32
		err := r.Scan(&row.ApplicationID, &kind, &row.CampaignID, &role, &stage, &row.Since, &row.WarningAt, &row.BreachAt, &reason, &actor)
		row.Kind, row.Role, row.Stage = projection.StuckKind(kind), commonv1.JobRole(role), commonv1.Stage(stage)
		row.BlockedReason, row.NextActor = commonv1.BlockReason(reason), projection.NextActor(actor)
		return row, err
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list stuck: %w", err)
	}
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE breach_at > $2), count(*) FILTER (WHERE breach_at <= $2)
		FROM stuck WHERE region = $1 AND warning_at <= $2 AND ($3 = 0 OR stage = $3)`,
		f.Region, f.AsOf, stage).Scan(&warnings, &breaches)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("count stuck: %w", err)
	}
	return rows, warnings, breaches, nil
}

// StuckApplications counts the region's applications with a clock past its
// warning at asOf.
func (s *Store) StuckApplications(ctx context.Context, region string, asOf time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT application_id) FROM stuck WHERE region = $1 AND warning_at <= $2`,
		region, asOf).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count stuck: %w", err)
	}
	return n, nil
}

// DurationFilter selects histogram rows.
type DurationFilter struct {
	Regions    []string
	Measures   []projection.Measure
	CampaignID string
	Role       commonv1.JobRole
	// From and To bound the measure's end date, inclusive.
	From, To time.Time
}

// Bucket is how many applications completed a measure after Days calendar
// and WorkingDays working days; Week is the Monday of the week it ended in
// when asked for by week.
type Bucket struct {
	Measure     projection.Measure
	Week        time.Time
	Days        int
	WorkingDays int
	N           int
}

// Durations sums the histograms over the filter, by week if byWeek.
func (s *Store) Durations(ctx context.Context, f DurationFilter, byWeek bool) ([]Bucket, error) {
	measures := make([]int32, len(f.Measures))
	for i, m := range f.Measures {
		measures[i] = int32(m)
	}
	week := `'0001-01-01'::date`
	if byWeek {
		week = `date_trunc('week', end_date)::date`
	}
	var campaign *string
	if f.CampaignID != "" {
		campaign = &f.CampaignID
	}
	rows, err := s.pool.Query(ctx, `SELECT measure, `+week+` AS week, days, working_days, sum(n)::int
		FROM durations
		WHERE region = ANY($1) AND measure = ANY($2) AND end_date BETWEEN $3 AND $4
		  AND ($5::uuid IS NULL OR campaign_id = $5) AND ($6 = 0 OR role = $6)
		GROUP BY measure, week, days, working_days HAVING sum(n) > 0`,
		f.Regions, measures, f.From, f.To, campaign, int32(f.Role))
	if err != nil {
		return nil, fmt.Errorf("read durations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Bucket, error) {
		var b Bucket
		var m int32
		err := r.Scan(&m, &b.Week, &b.Days, &b.WorkingDays, &b.N)
		b.Measure = projection.Measure(m)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("read durations: %w", err)
	}
	return out, nil
}

// CountRow is one funnel counter summed over campaigns.
type CountRow struct {
	Kind  projection.CountKind
	Stage commonv1.Stage
	N     int
}

// Counts sums the counters of regions (and one campaign, if given).
func (s *Store) Counts(ctx context.Context, regions []string, campaignID string) ([]CountRow, error) {
	var campaign *string
	if campaignID != "" {
		campaign = &campaignID
	}
	rows, err := s.pool.Query(ctx, `SELECT kind, stage, sum(n)::int FROM counts
		WHERE region = ANY($1) AND ($2::uuid IS NULL OR campaign_id = $2) GROUP BY kind, stage`, regions, campaign)
	if err != nil {
		return nil, fmt.Errorf("read counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CountRow, error) {
		var c CountRow
		var stage int32
		err := r.Scan(&c.Kind, &stage, &c.N)
		c.Stage = commonv1.Stage(stage)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read counts: %w", err)
	}
	return out, nil
}
