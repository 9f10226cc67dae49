package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// Apply folds a batch of events into the projection inside tx: campaigns
// first (a changed closing date re-measures the campaign's applications),
// then each touched application. For every application it takes away what
// the old record contributed to the counters, histograms and stuck clocks
// and adds what the new one does, so the aggregates are always the sum
// over the records, whatever the order of events.
//
// Batches are applied one at a time (a transaction-scoped advisory lock):
// two replicas folding events of the same new application at once would
// each write a record missing the other's events.
func (s *Store) Apply(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
	if err := lockProjection(ctx, tx); err != nil {
		return err
	}
	evs = withoutOwn(evs)
	changedCampaigns, err := applyCampaigns(ctx, tx, evs)
	if err != nil {
		return err
	}
	if err := applyTitles(ctx, tx, evs); err != nil {
		return err
	}
	if err := applyEarlyStartPolicies(ctx, tx, evs); err != nil {
		return err
	}
	byApp := map[string][]*eventsv1.Event{}
	for _, ev := range evs {
		if ev.GetApplicationId() != "" {
			byApp[ev.GetApplicationId()] = append(byApp[ev.GetApplicationId()], ev)
		}
	}
	ids := make([]string, 0, len(byApp))
	for id := range byApp {
		ids = append(ids, id)
	}
	if len(changedCampaigns) > 0 {
		more, err := appsOfCampaigns(ctx, tx, changedCampaigns)
		if err != nil {
			return err
		}
		for _, id := range more {
			if _, ok := byApp[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return notify(ctx, tx, regionsOfCampaigns(changedCampaigns))
	}
	slices.Sort(ids)

	// The campaigns of the events (an application's campaign is its first
	// event's); loadState adds those of the stored records.
	campaignIDs := map[string]bool{}
	for _, evs := range byApp {
		campaignIDs[evs[0].GetCampaignId()] = true
	}
	old, campaigns, thresholds, alerts, err := s.loadState(ctx, tx, ids, keys(campaignIDs))
	if err != nil {
		return err
	}
	n := &announcer{st: alerts, now: s.now(), quiet: s.quiet, settle: s.settle}
	// Before this batch, a changed campaign measured with its old dates.
	oldCampaigns := maps(campaigns)
	for id, c := range changedCampaigns {
		oldCampaigns[id] = c.before
	}

	d := newDeltas()
	apps := make([]*projection.App, 0, len(ids))
	for _, id := range ids {
		a, existed := old[id]
		if existed {
			d.remove(a, oldCampaigns[a.CampaignID], projection.ThresholdsFor(thresholds, a.Region).For(a.Role))
		} else {
			a = &projection.App{}
		}
		var stoppedAt time.Time
		for _, ev := range byApp[id] {
			a.Apply(ev)
			if at := ev.GetOccurredAt().AsTime(); at.After(stoppedAt) {
				stoppedAt = at
			}
			if c, ok := projection.ChangeOf(ev); ok {
				d.changes = append(d.changes, appChange{id, c})
			}
		}
		if !stoppedAt.IsZero() && a.Region != "" && stoppedAt.After(d.latest[a.Region]) {
			d.latest[a.Region] = stoppedAt.UTC().Truncate(time.Microsecond)
		}
		if stoppedAt.IsZero() {
			stoppedAt = n.now // re-measured for its campaign; no event of its own
		}
		clocks := d.add(a, campaigns[a.CampaignID], projection.ThresholdsFor(thresholds, a.Region).For(a.Role))
		n.advance(a, clocks, stoppedAt.UTC().Truncate(time.Microsecond))
		apps = append(apps, a)
	}
	regions := regionsOfCampaigns(changedCampaigns)
	for _, a := range apps {
		regions[a.Region] = true
	}
	return d.write(ctx, tx, apps, ids, regions, n)
}

// withoutOwn drops reporting's own stuck.* events: the consumer reads every
// subject, and they describe the projection, they do not change it
// (folded, they would only rewrite their records). The inbox still records
// them, so they are acknowledged, never retried as poison.
func withoutOwn(evs []*eventsv1.Event) []*eventsv1.Event {
	out := evs[:0:0]
	for _, ev := range evs {
		switch ev.GetPayload().(type) {
		case *eventsv1.Event_StuckWarning, *eventsv1.Event_StuckBreach, *eventsv1.Event_StuckResolved:
			continue
		}
		out = append(out, ev)
	}
	return out
}

// loadState reads, in one round trip, the stored records of ids, the
// campaigns of campaignIDs and of those records, the thresholds, and the
// records' stuck alerts (locked) and clocks.
func (s *Store) loadState(ctx context.Context, tx pgx.Tx, ids, campaignIDs []string) (
	map[string]*projection.App, map[string]*projection.Campaign, map[string]projection.Thresholds, *alertState, error) {
	var (
		apps       map[string]*projection.App
		campaigns  map[string]*projection.Campaign
		thresholds map[string]projection.Thresholds
		alerts     = &alertState{}
	)
	appIDs, err := pg.UUIDs(ids)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("read applications: %w", err)
	}
	campaignArg, err := pg.UUIDs(campaignIDs)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("read campaigns: %w", err)
	}
	b := &pgx.Batch{}
	b.Queue(loadAppsSQL, appIDs).Query(func(rows pgx.Rows) (err error) {
		apps, err = scanApps(rows, len(ids))
		return err
	})
	b.Queue(`SELECT campaign_id::text, region, role, opens_on, closes_on, posts, version FROM campaigns
		WHERE campaign_id = ANY($1::uuid[] || ARRAY(SELECT campaign_id FROM apps WHERE application_id = ANY($2::uuid[])))`,
		campaignArg, appIDs).Query(func(rows pgx.Rows) (err error) {
		campaigns, err = scanCampaigns(rows)
		return err
	})
	b.Queue(thresholdsSQL).Query(func(rows pgx.Rows) (err error) {
		thresholds, err = scanThresholds(rows)
		return err
	})
	queueLoadAlerts(b, appIDs, alerts)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, nil, nil, err
	}
	return apps, campaigns, thresholds, alerts, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

func maps(m map[string]*projection.Campaign) map[string]*projection.Campaign {
	out := make(map[string]*projection.Campaign, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func notify(ctx context.Context, tx pgx.Tx, regions map[string]bool) error {
	if len(regions) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT notify_region(r) FROM unnest($1::text[]) r`, keys(regions)); err != nil {
		return fmt.Errorf("notify regions: %w", err)
	}
	return nil
}

// campaignChange is a campaign the batch changed, with its state before.
type campaignChange struct {
	region string
	before *projection.Campaign // nil if new
}

func regionsOfCampaigns(m map[string]campaignChange) map[string]bool {
	out := map[string]bool{}
	for _, c := range m {
		out[c.region] = true
	}
	return out
}

// applyCampaigns stores campaign events newer than what is held.
func applyCampaigns(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) (map[string]campaignChange, error) {
	changed := map[string]campaignChange{}
	for _, ev := range evs {
		var d *eventsv1.CampaignDetails
		switch p := ev.GetPayload().(type) {
		case *eventsv1.Event_CampaignCreated:
			d = p.CampaignCreated.GetCampaign()
		case *eventsv1.Event_CampaignUpdated:
			d = p.CampaignUpdated.GetCampaign()
		case *eventsv1.Event_CampaignStatusChanged:
			d = p.CampaignStatusChanged.GetCampaign()
		default:
			continue
		}
		before, err := loadCampaigns(ctx, tx, []string{ev.GetCampaignId()})
		if err != nil {
			return nil, err
		}
		c := &projection.Campaign{
			ID: ev.GetCampaignId(), Region: ev.GetRegion(), Role: ev.GetRole(), Posts: int(d.GetPosts()),
			OpensOn: dateOr(d.GetOpensOn()), ClosesOn: dateOf(d.GetClosesOn()), Version: ev.GetAggregateVersion(),
		}
		tag, err := tx.Exec(ctx, `INSERT INTO campaigns (campaign_id, region, role, opens_on, closes_on, posts, version, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (campaign_id) DO UPDATE SET opens_on = excluded.opens_on, closes_on = excluded.closes_on,
				posts = excluded.posts, version = excluded.version, status = excluded.status
			WHERE campaigns.version < excluded.version`,
			c.ID, c.Region, int32(c.Role), c.OpensOn, c.ClosesOn, c.Posts, c.Version, int32(campaignStatus(d)))
		if err != nil {
			return nil, fmt.Errorf("store campaign: %w", err)
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		if err := putCampaignRegions(ctx, tx, ev, d); err != nil {
			return nil, err
		}
		if prev, seen := changed[c.ID]; seen {
			changed[c.ID] = prev // keep the state before the whole batch
		} else {
			changed[c.ID] = campaignChange{region: c.Region, before: before[c.ID]}
		}
	}
	return changed, nil
}

func dateOf(d *commonv1.Date) *time.Time {
	if d == nil || d.GetYear() == 0 {
		return nil
	}
	t := time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
	return &t
}

func dateOr(d *commonv1.Date) time.Time {
	if t := dateOf(d); t != nil {
		return *t
	}
	return time.Time{}
}

func appsOfCampaigns(ctx context.Context, tx pgx.Tx, changed map[string]campaignChange) ([]string, error) {
	ids := make([]string, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	arg, err := pg.UUIDs(ids)
	if err != nil {
		return nil, fmt.Errorf("read campaign applications: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT application_id::text FROM apps WHERE campaign_id = ANY($1)`, arg)
	if err != nil {
		return nil, fmt.Errorf("read campaign applications: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read campaign applications: %w", err)
	}
	return out, nil
}

func loadCampaigns(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ids []string) (map[string]*projection.Campaign, error) {
	arg, err := pg.UUIDs(ids)
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT campaign_id::text, region, role, opens_on, closes_on, posts, version
		FROM campaigns WHERE campaign_id = ANY($1)`, arg)
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	return scanCampaigns(rows)
}

func scanCampaigns(rows pgx.Rows) (map[string]*projection.Campaign, error) {
	defer rows.Close()
	out := map[string]*projection.Campaign{}
	for rows.Next() {
		c := &projection.Campaign{}
		var role int32
		if err := rows.Scan(&c.ID, &c.Region, &role, &c.OpensOn, &c.ClosesOn, &c.Posts, &c.Version); err != nil {
			return nil, fmt.Errorf("read campaigns: %w", err)
		}
		c.Role = commonv1.JobRole(role)
		out[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	return out, nil
}

// lockProjection serialises writers of the projection for the rest of tx,
// and has each of tx's statements planned for its own arguments: a generic
// plan cached while the tables were small (a sequential scan of apps, say)
// would otherwise outlive their growth (measured: 4× slower reads of the
// batch's records at 20,000 applications).
func lockProjection(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.projection', 0)),
		set_config('plan_cache_mode', 'force_custom_plan', true)`); err != nil {
		return fmt.Errorf("take projection lock: %w", err)
	}
	return nil
}
