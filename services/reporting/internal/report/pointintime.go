package report

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// Point in time. Every report takes an as_of (AsOf). A report at no chosen
// time, or at a time no earlier than the latest event folded into a region
// (Versions.Latest), is answered from the region's live aggregates (the
// cache): nothing in it had yet to happen, and a later time only runs the
// stuck clocks on. A report as of an earlier time derives the region as it
// stood then: each record that had begun by then, as it stood
// (projection.App.AsOf: its milestones by then and its details as the
// changes by then left them), summed into a snapshot by the same code that
// keeps the live aggregates (its counters, histograms and stuck clocks), so
// every report reads the two alike. The projection keeps the times; no
// report reads the event stream.

// AsOf is a report's point in time: At, and whether the caller chose it.
// A report at a time nobody chose is the live one, whatever the clocks of
// the services that stamped the events say (one a little ahead must not
// send every report down the slower path).
type AsOf struct {
	At     time.Time
	Chosen bool
}

// Live is a report as of now (t: the server's clock).
func Live(t time.Time) AsOf { return AsOf{At: t} }

// At is a report as of a time the caller chose.
func At(t time.Time) AsOf { return AsOf{At: t, Chosen: true} }

// PastLoader reads what a region's past is derived from (Store.LoadRegionAt).
type PastLoader interface {
	LoadRegionAt(ctx context.Context, region string, asOf time.Time) (PastRegion, error)
}

// past reports whether a report of region as of at must derive the region
// as it stood then.
func past(v Versions, region string, at AsOf) bool {
	latest, ok := v.Latest[region]
	return at.Chosen && ok && at.At.Before(latest)
}

// regionsAt returns a snapshot of each region as of at: the live one, or
// one derived for at (see the top of this file).
func (s *Service) regionsAt(ctx context.Context, regions []string, at AsOf) ([]*snapshot, error) {
	v, err := s.versions.get(ctx)
	if err != nil {
		return nil, err
	}
	var pastOnes []int
	var live []string
	for i, r := range regions {
		if past(v, r, at) {
			pastOnes = append(pastOnes, i)
		} else {
			live = append(live, r)
		}
	}
	liveSnaps, err := s.cache.snapshots(ctx, v, live)
	if err != nil {
		return nil, err
	}
	out := make([]*snapshot, len(regions))
	for i, j := 0, 0; i < len(regions); i++ {
		if !past(v, regions[i], at) {
			out[i] = liveSnaps[j]
			j++
		}
	}
	if len(pastOnes) == 0 {
		return out, nil
	}
	asOf := at.At.UTC().Truncate(time.Microsecond)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadConcurrency)
	for _, i := range pastOnes {
		g.Go(func() (err error) {
			out[i], err = s.pasts.get(gctx, s.store, regions[i], v, asOf)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// pastMemo keeps the snapshots derived for past times lately asked, by
// region, time and the projection's version: a dashboard asks each of its
// reports as of the same date, and a stuck list is read page by page.
type pastMemo struct {
	mu sync.Mutex
	m  map[pastKey]*snapshot
}

type pastKey struct {
	region, epoch string
	version       int64
	at            int64
}

// maxPasts bounds the memo; when full it starts again.
const maxPasts = 32

func (p *pastMemo) get(ctx context.Context, load PastLoader, region string, v Versions, asOf time.Time) (*snapshot, error) {
	key := pastKey{region, v.Epoch, v.Of[region], asOf.UnixMicro()}
	p.mu.Lock()
	snap, ok := p.m[key]
	p.mu.Unlock()
	if ok {
		return snap, nil
	}
	pr, err := load.LoadRegionAt(ctx, region, asOf)
	if err != nil {
		return nil, err
	}
	snap = (*snapshot)(nil).with(RowsAsOf(pr, asOf))
	// Keyed by what was read, which a batch committed since may have moved
	// past v: such a snapshot is as exact, under its own version.
	p.mu.Lock()
	if p.m == nil || len(p.m) >= maxPasts {
		p.m = map[pastKey]*snapshot{}
	}
	p.m[pastKey{region, pr.Epoch, pr.Version, key.at}] = snap
	p.mu.Unlock()
	return snap, nil
}

// RowsAsOf sums the region's records as they stood at asOf into the rows a
// snapshot is made of, as the projection sums the live records: each
// record with a region and campaign counts in its campaign's counters and
// histograms, and every record's stuck clocks are listed (ordered by
// warning time, application and kind, as stored).
func RowsAsOf(pr PastRegion, asOf time.Time) RegionRows {
	// Most records run a clock or two: one allocation, not a doubling
	// series copying tens of thousands of rows.
	out := RegionRows{Epoch: pr.Epoch, Version: pr.Version, Full: true, Stuck: make([]StuckRow, 0, len(pr.Apps)+len(pr.Apps)/4)}
	type durKey struct {
		campaign        CampaignKey
		measure         projection.Measure
		end, days, work int32
		role            commonv1.JobRole
	}
	type countKey struct {
		campaign CampaignKey
		kind     projection.CountKind
		stage    commonv1.Stage
	}
	durations, counts := map[durKey]int32{}, map[countKey]int{}
	campaigns := map[CampaignKey]bool{}
	for _, rec := range pr.Apps {
		a := rec.AsOf(asOf, pr.Changes[rec.ID])
		if a.Began().IsZero() {
			continue
		}
		for _, c := range a.Clocks(projection.ThresholdsFor(pr.Thresholds, a.Region).For(a.Role)) {
			c.Since, c.WarningAt, c.BreachAt = c.Since.UTC(), c.WarningAt.UTC(), c.BreachAt.UTC()
			out.Stuck = append(out.Stuck, StuckRow{ApplicationID: a.ID, CampaignID: a.CampaignID, Role: a.Role, Clock: c})
		}
		if a.Region == "" || a.CampaignID == "" {
			continue
		}
		id, err := uuid.Parse(a.CampaignID)
		if err != nil {
			continue // read from a uuid column
		}
		key := CampaignKey(id)
		campaigns[key] = true
		for _, n := range a.Counts() {
			counts[countKey{key, n.Kind, n.Stage}]++
		}
		for _, m := range a.Durations(pr.Campaigns[a.CampaignID]) {
			durations[durKey{key, m.Measure, dayNumber(m.End), int32(m.Days), int32(m.WorkingDays), a.Role}]++
		}
	}
	for k, n := range counts {
		out.Counts = append(out.Counts, CountRow{Campaign: k.campaign, Kind: k.kind, Stage: k.stage, N: n})
	}
	for k, n := range durations {
		out.Durations = append(out.Durations, DurationRow{Campaign: k.campaign, Measure: k.measure, End: k.end, Role: k.role,
			Days: k.days, WorkingDays: k.work, N: n})
	}
	for k := range campaigns {
		out.Campaigns = append(out.Campaigns, k)
	}
	slices.SortFunc(out.Stuck, func(a, b StuckRow) int {
		return cmp.Or(a.WarningAt.Compare(b.WarningAt), cmp.Compare(a.ApplicationID, b.ApplicationID), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// String names the point in time, for logs.
func (a AsOf) String() string {
	if !a.Chosen {
		return "now"
	}
	return a.At.UTC().Format(time.RFC3339Nano)
}
