package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pg"
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
	// changes are the details the batch's events changed, kept for
	// reports as of a past time (projection.App.AsOf); latest is the
	// latest occurred_at of the batch's events per region.
	changes []appChange
	latest  map[string]time.Time
}

type appChange struct {
	app string
	projection.Change
}

type clockRow struct {
	app, region, campaign string
	role                  int32
	projection.Clock
}

func newDeltas() *deltas {
	return &deltas{counts: map[countKey]int64{}, durations: map[durationKey]int64{}, latest: map[string]time.Time{}}
}

func (d *deltas) remove(a *projection.App, c *projection.Campaign, _ projection.Thresholds) {
	d.contribute(a, c, -1)
}

// add adds what a contributes, and returns its clocks.
func (d *deltas) add(a *projection.App, c *projection.Campaign, th projection.Thresholds) []projection.Clock {
	d.contribute(a, c, 1)
	clocks := a.Clocks(th)
	for _, clk := range clocks {
		d.clocks = append(d.clocks, clockRow{app: a.ID, region: a.Region, campaign: a.CampaignID, role: int32(a.Role), Clock: clk})
	}
	return clocks
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

// write stores the records and applies the deltas: the counters and
// histograms, the touched applications' stuck clocks (replaced) and alerts,
// and the versions of the regions and campaigns changed, then wakes the
// regions' watchers. One round trip, and one more per stuck event the
// batch announces (the outbox).
func (d *deltas) write(ctx context.Context, tx pgx.Tx, apps []*projection.App, touched []string, regions map[string]bool, n *announcer) error {
	b := &pgx.Batch{}
	if err := queueSaveApps(b, apps); err != nil {
		return err
	}
	changed := map[string]string{} // campaign -> region
	if err := d.queueCounts(b, changed); err != nil {
		return err
	}
	if err := d.queueDurations(b, changed); err != nil {
		return err
	}
	touchedIDs, err := pg.UUIDs(touched)
	if err != nil {
		return fmt.Errorf("clear stuck clocks: %w", err)
	}
	queue(b, "clear stuck clocks", `DELETE FROM stuck WHERE application_id = ANY($1)`, touchedIDs)
	if err := d.queueClocks(b); err != nil {
		return err
	}
	campaigns := make([][2]string, 0, len(changed))
	for c, r := range changed {
		campaigns = append(campaigns, [2]string{c, r})
	}
	if err := d.queueChanges(b); err != nil {
		return err
	}
	regionList := keys(regions)
	latest := make([]*time.Time, len(regionList))
	for i, r := range regionList {
		if t, ok := d.latest[r]; ok {
			latest[i] = &t
		}
	}
	if err := queueVersions(b, regionList, latest, campaigns); err != nil {
		return err
	}
	if err := n.queueWrite(b); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	return n.appendEvents(ctx, tx)
}

func (d *deltas) queueClocks(b *pgx.Batch) error {
	n := len(d.clocks)
	if n == 0 {
		return nil
	}
	app, region, campaign := make([]string, n), make([]string, n), make([]string, n)
	kind, role, stage, reason, actor := make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	since, warning, breach := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	assignee := make([]string, n)
	for i, r := range d.clocks {
		assignee[i] = r.Assignee
		app[i], region[i], campaign[i] = r.app, r.region, r.campaign
		kind[i], role[i], stage[i], reason[i], actor[i] = int32(r.Kind), r.role, int32(r.Stage), int32(r.BlockedReason), int32(r.NextActor)
		since[i], warning[i], breach[i] = r.Since, r.WarningAt, r.BreachAt
	}
	appIDs, err := pg.UUIDs(app)
	if err != nil {
		return fmt.Errorf("store stuck clocks: %w", err)
	}
	campaignIDs, err := pg.UUIDs(campaign)
	if err != nil {
		return fmt.Errorf("store stuck clocks: %w", err)
	}
	queue(b, "store stuck clocks", `INSERT INTO stuck (application_id, kind, region, campaign_id, role, stage, since, warning_at,
		breach_at, blocked_reason, next_actor, assignee)
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::uuid[], $5::int[], $6::int[], $7::timestamptz[],
			$8::timestamptz[], $9::timestamptz[], $10::int[], $11::int[], $12::text[])`,
		appIDs, kind, region, campaignIDs, role, stage, since, warning, breach, reason, actor, assignee)
	return nil
}

// queueCounts queues the counter deltas and notes their campaigns in changed.
func (d *deltas) queueCounts(b *pgx.Batch, changed map[string]string) error {
	var region, campaign, kind []string
	var stage []int32
	var n []int64
	for _, k := range inKeyOrder(d.counts, compareCountKeys) {
		v := d.counts[k]
		region, campaign, kind, stage, n = append(region, k.region), append(campaign, k.campaign), append(kind, string(k.kind)), append(stage, k.stage), append(n, v)
		changed[k.campaign] = k.region
	}
	if len(n) == 0 {
		return nil
	}
	campaignIDs, err := pg.UUIDs(campaign)
	if err != nil {
		return fmt.Errorf("update counts: %w", err)
	}
	queue(b, "update counts", `INSERT INTO counts (region, campaign_id, kind, stage, n)
		SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int[], $5::bigint[])
		ON CONFLICT (region, campaign_id, kind, stage) DO UPDATE SET n = counts.n + excluded.n`,
		region, campaignIDs, kind, stage, n)
	return nil
}

// queueDurations queues the histogram deltas and notes their campaigns in
// changed.
func (d *deltas) queueDurations(b *pgx.Batch, changed map[string]string) error {
	var region, campaign []string
	var measure, role, days, work []int32
	var end []time.Time
	var n []int64
	for _, k := range inKeyOrder(d.durations, compareDurationKeys) {
		v := d.durations[k]
		region, measure, end, campaign = append(region, k.region), append(measure, k.measure), append(end, k.end), append(campaign, k.campaign)
		role, days, work, n = append(role, k.role), append(days, k.days), append(work, k.workDays), append(n, v)
		changed[k.campaign] = k.region
	}
	if len(n) == 0 {
		return nil
	}
	campaignIDs, err := pg.UUIDs(campaign)
	if err != nil {
		return fmt.Errorf("update durations: %w", err)
	}
	queue(b, "update durations", `INSERT INTO durations (region, measure, end_date, campaign_id, role, days, working_days, n)
		SELECT * FROM unnest($1::text[], $2::int[], $3::date[], $4::uuid[], $5::int[], $6::int[], $7::int[], $8::bigint[])
		ON CONFLICT (region, campaign_id, measure, end_date, role, days, working_days) DO UPDATE SET n = durations.n + excluded.n`,
		region, measure, end, campaignIDs, role, days, work, n)
	return nil
}

// queueChanges keeps the batch's changes; a change delivered again is
// already kept.
func (d *deltas) queueChanges(b *pgx.Batch) error {
	n := len(d.changes)
	if n == 0 {
		return nil
	}
	app := make([]string, n)
	field, reason := make([]int32, n), make([]int32, n)
	version := make([]int64, n)
	at := make([]time.Time, n)
	interview, start, due := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	subject, blocked := make([]bool, n), make([]bool, n)
	assignee := make([]string, n)
	for i, c := range d.changes {
		app[i], field[i], version[i], at[i] = c.app, int32(c.Field), c.Version, c.At
		interview[i], start[i], subject[i], due[i] = c.InterviewAt, c.StartDate, c.SubjectToVetting, c.VettingDueBy
		blocked[i], reason[i], assignee[i] = c.Blocked, int32(c.BlockedReason), c.Assignee
	}
	appIDs, err := pg.UUIDs(app)
	if err != nil {
		return fmt.Errorf("store changes: %w", err)
	}
	queue(b, "store changes", `INSERT INTO app_changes (application_id, field, version, occurred_at, interview_at, start_date,
			subject_to_vetting, vetting_due_by, blocked, blocked_reason, assignee)
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::date[],
			$7::bool[], $8::date[], $9::bool[], $10::int[], $11::text[])
		ON CONFLICT (application_id, field, version) DO NOTHING`,
		appIDs, field, version, at, interview, start, subject, due, blocked, reason, assignee)
	return nil
}

// inKeyOrder returns the keys of the non-zero deltas, sorted as the
// table's primary key: PostgreSQL then upserts them walking the index in
// order, each page once, instead of at random.
func inKeyOrder[K comparable](deltas map[K]int64, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(deltas))
	for k, v := range deltas {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compare)
	return keys
}

// compareCountKeys orders as counts' primary key (region, campaign_id,
// kind, stage); uuid strings sort as the uuids do.
func compareCountKeys(a, b countKey) int {
	return cmp.Or(cmp.Compare(a.region, b.region), cmp.Compare(a.campaign, b.campaign),
		cmp.Compare(a.kind, b.kind), cmp.Compare(a.stage, b.stage))
}

// compareDurationKeys orders as durations' primary key (region,
// campaign_id, measure, end_date, role, days, working_days).
func compareDurationKeys(a, b durationKey) int {
	return cmp.Or(cmp.Compare(a.region, b.region), cmp.Compare(a.campaign, b.campaign),
		cmp.Compare(a.measure, b.measure), a.end.Compare(b.end), cmp.Compare(a.role, b.role),
		cmp.Compare(a.days, b.days), cmp.Compare(a.workDays, b.workDays))
}

// queueVersions queues one new version for the regions and campaigns
// (id, region) a transaction changed, and the regions' notifications; a
// region's latest event time moves to latest's (nil: no event of its own)
// if later.
// Drawn under the projection lock, versions grow in commit order, which is
// what lets the report cache ask "what changed after version v?".
func queueVersions(b *pgx.Batch, regions []string, latest []*time.Time, campaigns [][2]string) error {
	ids, of := make([]string, len(campaigns)), make([]string, len(campaigns))
	for i, c := range campaigns {
		ids[i], of[i] = c[0], c[1]
	}
	campaignIDs, err := pg.UUIDs(ids)
	if err != nil {
		return fmt.Errorf("record versions: %w", err)
	}
	queue(b, "record versions", `WITH v AS (SELECT nextval('projection_version') AS v),
		r AS (INSERT INTO region_versions (region, version, latest_event_at)
			SELECT r.region, v, r.latest FROM v, unnest($1::text[], $4::timestamptz[]) AS r(region, latest)
			ON CONFLICT (region) DO UPDATE SET version = excluded.version,
				latest_event_at = greatest(region_versions.latest_event_at, excluded.latest_event_at)),
		c AS (INSERT INTO campaign_versions (campaign_id, region, version) SELECT c.id, c.region, v FROM v, unnest($2::uuid[], $3::text[]) AS c(id, region)
			ON CONFLICT (campaign_id) DO UPDATE SET version = excluded.version)
		SELECT notify_region(r) FROM unnest($1::text[]) AS r`, regions, campaignIDs, of, latest)
	return nil
}

// queue adds a statement to b whose failure names action.
func queue(b *pgx.Batch, action, sql string, args ...any) {
	b.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return wrap(action, err)
	}
}
