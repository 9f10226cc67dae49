package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

type countKey struct {
	region, campaign string
	kind             projection.CountKind
	stage            int32
}

type durationKey struct {
	region         string
	measure        int32
	end            time.Time
	campaign       string
	role           int32
	days, workDays int32
}

// deltas gathers a batch's changes to the aggregates, and the stuck clocks
// of the applications it touched.
type deltas struct {
	counts    map[countKey]int64
	durations map[durationKey]int64
	clocks    []clockRow
}

type clockRow struct {
	app, region, campaign string
	role                  int32
	projection.Clock
}

func newDeltas() *deltas {
	return &deltas{counts: map[countKey]int64{}, durations: map[durationKey]int64{}}
}

func (d *deltas) remove(a *projection.App, c *projection.Campaign, _ projection.Thresholds) {
	d.contribute(a, c, -1)
}

func (d *deltas) add(a *projection.App, c *projection.Campaign, th projection.Thresholds) {
	d.contribute(a, c, 1)
	for _, clk := range a.Clocks(th) {
		d.clocks = append(d.clocks, clockRow{app: a.ID, region: a.Region, campaign: a.CampaignID, role: int32(a.Role), Clock: clk})
	}
}

func (d *deltas) contribute(a *projection.App, c *projection.Campaign, sign int64) {
	if a.Region == "" || a.CampaignID == "" {
		return
	}
	for _, n := range a.Counts() {
		d.counts[countKey{a.Region, a.CampaignID, n.Kind, int32(n.Stage)}] += sign
	}
	for _, m := range a.Durations(c) {
		d.durations[durationKey{a.Region, int32(m.Measure), m.End, a.CampaignID, int32(a.Role), int32(m.Days), int32(m.WorkingDays)}] += sign
	}
}

// write applies the deltas and replaces the touched applications' clocks.
func (d *deltas) write(ctx context.Context, tx pgx.Tx, touched []string) error {
	if err := d.writeCounts(ctx, tx); err != nil {
		return err
	}
	if err := d.writeDurations(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM stuck WHERE application_id = ANY($1)`, touched); err != nil {
		return fmt.Errorf("clear stuck clocks: %w", err)
	}
	n := len(d.clocks)
	if n == 0 {
		return nil
	}
	app, region, campaign := make([]string, n), make([]string, n), make([]*string, n)
	kind, role, stage, reason, actor := make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	since, warning, breach := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	for i, r := range d.clocks {
		app[i], region[i] = r.app, r.region
		if r.campaign != "" {
			campaign[i] = &d.clocks[i].campaign
		}
		kind[i], role[i], stage[i], reason[i], actor[i] = int32(r.Kind), r.role, int32(r.Stage), int32(r.BlockedReason), int32(r.NextActor)
		since[i], warning[i], breach[i] = r.Since, r.WarningAt, r.BreachAt
	}
	if _, err := tx.Exec(ctx, `INSERT INTO stuck (application_id, kind, region, campaign_id, role, stage, since, warning_at,
		breach_at, blocked_reason, next_actor)
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::uuid[], $5::int[], $6::int[], $7::timestamptz[],
			$8::timestamptz[], $9::timestamptz[], $10::int[], $11::int[])`,
		app, kind, region, campaign, role, stage, since, warning, breach, reason, actor); err != nil {
		return fmt.Errorf("store stuck clocks: %w", err)
	}
	return nil
}

func (d *deltas) writeCounts(ctx context.Context, tx pgx.Tx) error {
	var region, campaign, kind []string
	var stage []int32
	var n []int64
	for k, v := range d.counts {
		if v == 0 {
			continue
		}
		region, campaign, kind, stage, n = append(region, k.region), append(campaign, k.campaign), append(kind, string(k.kind)), append(stage, k.stage), append(n, v)
	}
	if len(n) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO counts (region, campaign_id, kind, stage, n)
		SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::bigint[])
		ON CONFLICT (region, campaign_id, kind, stage) DO UPDATE SET n = counts.n + excluded.n`,
		region, campaign, kind, stage, n); err != nil {
		return fmt.Errorf("update counts: %w", err)
	}
	return nil
}

func (d *deltas) writeDurations(ctx context.Context, tx pgx.Tx) error {
	var region, campaign []string
	var measure, role, days, work []int32
	var end []time.Time
	var n []int64
	for k, v := range d.durations {
		if v == 0 {
			continue
		}
		region, measure, end, campaign = append(region, k.region), append(measure, k.measure), append(end, k.end), append(campaign, k.campaign)
		role, days, work, n = append(role, k.role), append(days, k.days), append(work, k.workDays), append(n, v)
	}
	if len(n) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO durations (region, measure, end_date, campaign_id, role, days, working_days, n)
		SELECT * FROM unnest($1::text[], $2::int[], $3::date[], $4::uuid[], $5::int[], $6::int[], $7::int[], $8::bigint[])
		ON CONFLICT (region, measure, end_date, campaign_id, role, days, working_days) DO UPDATE SET n = durations.n + excluded.n`,
		region, measure, end, campaign, role, days, work, n); err != nil {
		return fmt.Errorf("update durations: %w", err)
	}
	return nil
}
