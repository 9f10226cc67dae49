package report

import (
	"context"
	"sync"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// Cold load. A region's snapshot holds every histogram row of its
// campaigns: at 1M applications loading all twelve took 5 s, and the first
// report after a restart waited for it. The region summaries — what a
// dashboard asks first — need three small figures, which PostgreSQL sums
// from its indexes in milliseconds. So while a region has no snapshot of
// the projection's epoch, its summary is read straight from the
// aggregates (Store.RegionSummary), in one snapshot, as exact as the cached
// one and at least as new as the versions the report began with; and the
// region's load starts in the background, the asked regions ahead of the
// start-up warm-up still working through the rest. Every other report
// loads the regions it covers on demand, as before (cache.snapshots).

// SummaryRows is a region's summary read straight from the projection.
type SummaryRows struct {
	Epoch   string
	Version int64
	// Current applications per stage (the regions' `current` counters
	// with a nonzero row).
	Current map[commonv1.Stage]int
	// TimeToHire is the calendar-day histogram of offers made in the
	// window, over every campaign and role: TimeToHire[i] offers took
	// Days[i] days.
	Days, TimeToHire []int32
	// Stuck is how many applications have a clock past its warning.
	Stuck int
}

// summaryReader reads a region's summary from the projection's aggregates
// (Store.RegionSummary); a store without it makes every summary wait for
// its region's load.
type summaryReader interface {
	RegionSummary(ctx context.Context, region string, m projection.Measure, fromDay, toDay int32, asOf time.Time) (SummaryRows, error)
}

// cold returns the indexes of the regions with no snapshot of epoch.
func (c *cache) cold(epoch string, regions []string) []int {
	var out []int
	for i, r := range regions {
		if s := c.region(r).snap.Load(); s == nil || s.epoch != epoch {
			out = append(out, i)
		}
	}
	return out
}

// prefetch loads region in the background unless a prefetch of it is
// already running; the load is one the next report would otherwise wait
// for.
func (c *cache) prefetch(region string, v Versions) {
	cr := c.region(region)
	if !cr.prefetching.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer cr.prefetching.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), prefetchTimeout)
		defer cancel()
		_, _ = cr.current(ctx, c.load, region, v.Epoch, v.Of[region]) // a failure is retried by the next report
	}()
}

// prefetchTimeout bounds a background load (a whole region at 1M
// applications takes about a second on an idle machine).
const prefetchTimeout = 5 * time.Minute

// coldSummaries returns the live Summary of each region as of at, in
// order, reading the cold regions' from the projection's aggregates (see
// above); ok is false when there is no cold region, when a region is
// asked of its past (pointintime.go), or when the store cannot read
// summaries: the caller answers from snapshots then.
func (s *Service) coldSummaries(ctx context.Context, regions []string, at AsOf, f filter) (out []Summary, ok bool, err error) {
	sr, can := s.store.(summaryReader)
	if !can {
		return nil, false, nil
	}
	v, err := s.versions.get(ctx)
	if err != nil {
		return nil, true, err
	}
	for _, r := range regions {
		if past(v, r, at) { // derived for at, never from the live aggregates
			return nil, false, nil
		}
	}
	asOf := at.At
	cold := s.cache.cold(v.Epoch, regions)
	if len(cold) == 0 {
		return nil, false, nil
	}
	isCold := make([]bool, len(regions))
	for _, i := range cold {
		isCold[i] = true
		s.cache.prefetch(regions[i], v)
	}
	out = make([]Summary, len(regions))
	var warm []string
	var warmAt []int
	for i, r := range regions {
		if !isCold[i] {
			warm, warmAt = append(warm, r), append(warmAt, i)
		}
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for _, i := range cold {
		wg.Go(func() {
			rows, err := sr.RegionSummary(ctx, regions[i], projection.TimeToHire, f.from, f.to, asOf.Truncate(time.Microsecond))
			// Read after the versions, so at least as new (a rebuild swapped in
			// since is newer still, and as exact).
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = err
				return
			}
			var h counts
			for k, d := range rows.Days {
				h.add(d, rows.TimeToHire[k])
			}
			tth := h.summary()
			out[i] = Summary{Region: regions[i], StageCounts: rows.Current, Stuck: rows.Stuck,
				MedianTimeToHireDays: tth.Median, TimeToHireCount: tth.Count, AsOf: asOf}
		})
	}
	if len(warm) > 0 {
		snaps, err := s.cache.snapshots(ctx, v, warm)
		if err != nil {
			wg.Wait()
			return nil, true, err
		}
		for k, snap := range snaps {
			out[warmAt[k]] = snapshotSummary(warm[k], snap, asOf, f)
		}
	}
	wg.Wait()
	if firstErr != nil {
		return nil, true, firstErr
	}
	return out, true, nil
}

// snapshotSummary is a region's Summary from its snapshot.
func snapshotSummary(region string, snap *snapshot, asOf time.Time, f filter) Summary {
	tth := snap.timeToHire(f)
	return Summary{Region: region, StageCounts: currentCounts([]*snapshot{snap}, ""),
		Stuck: snap.stuckAsOf(asOf.Truncate(time.Microsecond)), MedianTimeToHireDays: tth.Median, TimeToHireCount: tth.Count, AsOf: asOf}
}
