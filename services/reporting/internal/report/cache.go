package report

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/stats"
)

// The cache keeps each region's aggregates in memory — its campaigns'
// histogram rows and counters, and its stuck clocks — as of a version of
// the projection. Summing tens of thousands of histogram rows per report in
// PostgreSQL was the cost of the summary reports; in memory it is a loop.
//
// Every report starts from the regions' versions (Store.Versions, one
// small query, shared by concurrent reports and skipped while no change
// has been noticed since the last: see versions.go). A region it covers
// whose version has moved past the cached one is brought up to date before
// the report is computed: only the campaigns changed since
// (Store.LoadRegion reads those in one snapshot, with the version they
// stand for), and the region's stuck clocks. So a report reflects every
// batch this process committed before it began, and those of other
// replicas once their notification has arrived. A projection with another
// epoch (a rebuild swapped in) is loaded afresh.

// regionLoader reads a region's aggregates (Store.LoadRegion).
type regionLoader interface {
	LoadRegion(ctx context.Context, region string, after int64) (RegionRows, error)
}

// cache holds the regions' snapshots.
type cache struct {
	load regionLoader

	mu      sync.Mutex
	regions map[string]*cachedRegion
}

// snapshotIDs numbers snapshots.
var snapshotIDs atomic.Uint64

// cachedRegion is one region's latest snapshot; mu lets one caller at a
// time refresh it while the others wait for its result.
type cachedRegion struct {
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
	// prefetching is set while a background load runs (coldload.go).
	prefetching atomic.Bool
}

// snapshot is a region's aggregates at one version. It is never modified
// once published: a refresh builds a new one, sharing unchanged campaigns.
type snapshot struct {
	// id is unique to the snapshot in this process.
	id        uint64
	epoch     string
	version   int64
	campaigns map[CampaignKey]*campaignAgg
	// totals sums the counters of every campaign.
	totals map[counter]int
	weeklyCache
	// stuck are the clocks ordered by warning time, application and kind
	// (the list's order); firstWarning the earliest warning time of each
	// application with a clock, ascending.
	stuck        []stuckClock
	firstWarning []time.Time

	// tth memoises the time to hire (calendar days) by window, for the
	// summaries: asked of every region, for the same 90 days, all day.
	tthMu sync.Mutex
	tth   map[[2]int32]stats.Summary
}

// maxMemoWindows bounds a snapshot's memoised windows.
const maxMemoWindows = 32

// timeToHire summarises the time to hire of offers made in f's window
// (f names no campaign or role).
func (s *snapshot) timeToHire(f filter) stats.Summary {
	key := [2]int32{f.from, f.to}
	s.tthMu.Lock()
	v, ok := s.tth[key]
	s.tthMu.Unlock()
	if ok {
		return v
	}
	var t tally
	sum([]*snapshot{s}, projection.TimeToHire, f, &t)
	v = t.cal.summary()
	s.tthMu.Lock()
	if s.tth == nil || len(s.tth) >= maxMemoWindows {
		s.tth = map[[2]int32]stats.Summary{}
	}
	s.tth[key] = v
	s.tthMu.Unlock()
	return v
}

// campaignAgg is one campaign's histogram rows, per measure in end-day
// order, and its counters.
type campaignAgg struct {
	measures [maxMeasure + 1][]cell
	counts   map[counter]int
}

// maxMeasure is the largest projection.Measure.
const maxMeasure = projection.MaxMeasure

// cell is one histogram row: n applications of role ended on day end
// after days calendar and work working days.
type cell struct {
	end, days, work, n int32
	role               commonv1.JobRole
}

type counter struct {
	kind  projection.CountKind
	stage commonv1.Stage
}

type stuckClock struct {
	StuckRow
	app uuid.UUID
	// warning and breach are WarningAt and BreachAt in Unix microseconds,
	// for the list's scan.
	warning, breach int64
}

// loadConcurrency is how many regions one report refreshes at once: a
// region's load is a query in PostgreSQL and the decoding of its rows
// here, so a few at a time keep both busy (a cold load of twelve regions
// one by one took 10 s at 1.4M applications).
const loadConcurrency = 3

// snapshots returns an up-to-date snapshot of each region, in order.
func (c *cache) snapshots(ctx context.Context, v Versions, regions []string) ([]*snapshot, error) {
	out := make([]*snapshot, len(regions))
	var stale []int
	for i, r := range regions {
		if s := c.region(r).snap.Load(); s.fresh(v.Epoch, v.Of[r]) {
			out[i] = s
		} else {
			stale = append(stale, i)
		}
	}
	if len(stale) == 0 { // the common case: nothing to load
		return out, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadConcurrency)
	for _, i := range stale {
		r := regions[i]
		g.Go(func() (err error) {
			out[i], err = c.region(r).current(gctx, c.load, r, v.Epoch, v.Of[r])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *cache) region(r string) *cachedRegion {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.regions == nil {
		c.regions = map[string]*cachedRegion{}
	}
	cr := c.regions[r]
	if cr == nil {
		cr = &cachedRegion{}
		c.regions[r] = cr
	}
	return cr
}

// current returns the region's snapshot if it is at least at version of
// epoch, and otherwise refreshes it.
func (cr *cachedRegion) current(ctx context.Context, load regionLoader, region, epoch string, version int64) (*snapshot, error) {
	if s := cr.snap.Load(); s.fresh(epoch, version) {
		return s, nil
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	old := cr.snap.Load()
	if old.fresh(epoch, version) { // refreshed while this caller waited
		return old, nil
	}
	after := int64(0)
	if old != nil && old.epoch == epoch {
		after = old.version
	}
	rows, err := load.LoadRegion(ctx, region, after)
	if err != nil {
		return nil, err
	}
	if !rows.Full && rows.Epoch != epoch {
		// A rebuild was swapped in between the two reads: start again.
		if rows, err = load.LoadRegion(ctx, region, 0); err != nil {
			return nil, err
		}
	}
	s := old.with(rows)
	cr.snap.Store(s)
	return s, nil
}

// fresh reports whether s (which may be nil) is at least at version of
// epoch.
func (s *snapshot) fresh(epoch string, version int64) bool {
	return s != nil && s.epoch == epoch && s.version >= version
}

// with returns the snapshot brought forward by rows: their campaigns
// replaced (or every campaign, for a full load), the stuck clocks taken
// whole.
func (s *snapshot) with(rows RegionRows) *snapshot {
	n := &snapshot{id: snapshotIDs.Add(1), epoch: rows.Epoch, version: rows.Version, totals: map[counter]int{}}
	if s == nil || rows.Full {
		n.campaigns = make(map[CampaignKey]*campaignAgg, len(rows.Campaigns))
	} else {
		n.campaigns = maps.Clone(s.campaigns)
	}
	fresh := make(map[CampaignKey]*campaignAgg, len(rows.Campaigns))
	for _, c := range rows.Campaigns {
		delete(n.campaigns, c)
		fresh[c] = &campaignAgg{counts: map[counter]int{}}
	}
	agg := func(c CampaignKey) *campaignAgg {
		a := fresh[c]
		if a == nil { // not listed as changed: cannot happen, but never touch a shared campaign
			a = &campaignAgg{counts: map[counter]int{}}
			fresh[c] = a
		}
		return a
	}
	for _, r := range rows.Durations {
		if r.Measure < 0 || r.Measure > maxMeasure {
			continue
		}
		a := agg(r.Campaign)
		a.measures[r.Measure] = append(a.measures[r.Measure], cell{end: r.End, days: r.Days, work: r.WorkingDays, n: r.N, role: r.Role})
	}
	for _, r := range rows.Counts {
		agg(r.Campaign).counts[counter{r.Kind, r.Stage}] += r.N
	}
	for c, a := range fresh {
		if a.empty() {
			continue
		}
		for _, cells := range a.measures {
			if !slices.IsSortedFunc(cells, byEnd) {
				slices.SortFunc(cells, byEnd)
			}
		}
		n.campaigns[c] = a
	}
	for _, a := range n.campaigns {
		for k, v := range a.counts {
			n.totals[k] += v
		}
	}
	n.stuck = make([]stuckClock, len(rows.Stuck))
	earliest := map[uuid.UUID]time.Time{}
	for i, r := range rows.Stuck {
		id, _ := uuid.Parse(r.ApplicationID) // read from a uuid column
		n.stuck[i] = stuckClock{StuckRow: r, app: id, warning: r.WarningAt.UnixMicro(), breach: r.BreachAt.UnixMicro()}
		if t, ok := earliest[id]; !ok || r.WarningAt.Before(t) {
			earliest[id] = r.WarningAt
		}
	}
	n.firstWarning = make([]time.Time, 0, len(earliest))
	for _, t := range earliest {
		n.firstWarning = append(n.firstWarning, t)
	}
	sort.Slice(n.firstWarning, func(i, j int) bool { return n.firstWarning[i].Before(n.firstWarning[j]) })
	return n
}

func byEnd(a, b cell) int { return cmp.Compare(a.end, b.end) }

func (a *campaignAgg) empty() bool {
	if len(a.counts) > 0 {
		return false
	}
	for _, cells := range a.measures {
		if len(cells) > 0 {
			return false
		}
	}
	return true
}

// window returns the cells of measure m that ended in [from, to], as a
// subslice (cells are in end-day order).
func (a *campaignAgg) window(m projection.Measure, from, to int32) []cell {
	cells := a.measures[m]
	i := sort.Search(len(cells), func(i int) bool { return cells[i].end >= from })
	j := sort.Search(len(cells), func(j int) bool { return cells[j].end > to })
	if i >= j {
		return nil
	}
	return cells[i:j]
}

// stuckAsOf counts the applications with a clock past its warning at asOf.
func (s *snapshot) stuckAsOf(asOf time.Time) int {
	return sort.Search(len(s.firstWarning), func(i int) bool { return s.firstWarning[i].After(asOf) })
}
