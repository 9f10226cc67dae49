package grpcapi_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// heldLoads is the real store with every region load held until release
// is closed: a cache that stays cold for as long as a test needs.
type heldLoads struct {
	*store.Store
	release chan struct{}
}

func (h heldLoads) LoadRegion(ctx context.Context, region string, after int64) (report.RegionRows, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
		return report.RegionRows{}, ctx.Err()
	}
	return h.Store.LoadRegion(ctx, region, after)
}

// TestSummariesWhileTheCacheIsCold asks the region summaries of a service
// whose region loads are held (a restarted service that has loaded
// nothing yet): each must answer from the projection's aggregates and
// equal a warm service's answer, before and after a write that arrives
// during the warm-up; once the loads go through, the same service's
// answers from its cache must be equal too.
func TestSummariesWhileTheCacheIsCold(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := newScripted()
	regions := []string{"london", "wales", "north-east"}
	asOfs := []time.Time{serverNow, time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 25, 10, 0, 0, 123456789, time.UTC)}

	apps := s.apps()
	e.apply(t, s.events[:3]...)
	for _, a := range apps[:6] {
		e.apply(t, a.evs...)
	}
	held := heldLoads{Store: e.store, release: make(chan struct{})}
	cold := report.NewService(held)
	t.Cleanup(func() {
		select {
		case <-held.release:
		default:
			close(held.release) // lets the background loads end
		}
	})

	same := func(t *testing.T, what string, svc *report.Service) {
		t.Helper()
		// A report that tried to load a held region would wait for ever.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, at := range asOfs {
			got, err := svc.Summaries(ctx, regions, report.Live(at))
			if err != nil {
				t.Fatalf("%s, as of %s: %v", what, at, err)
			}
			want, err := e.reports.Summaries(context.Background(), regions, report.Live(at))
			if err != nil {
				t.Fatalf("warm summaries as of %s: %v", at, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, as of %s:\n got %+v\nwant %+v", what, at, got, want)
			}
		}
	}
	// The warm service's cache holds the regions before the write below,
	// so its later answers come from a refresh, not a first load.
	if err := e.reports.Warm(context.Background(), regions); err != nil {
		t.Fatal(err)
	}
	same(t, "cold", cold)

	// A write during the warm-up: the consumer commits and tells the
	// service, as main.go wires it.
	for _, a := range apps[6:] {
		e.apply(t, a.evs...)
	}
	cold.Changed()
	same(t, "cold, after a write", cold)

	close(held.release)
	if err := cold.Warm(context.Background(), regions); err != nil {
		t.Fatal(err)
	}
	same(t, "warmed", cold)

	// The answers must cover something, or equality proves little.
	sums, err := cold.Summaries(context.Background(), regions, report.Live(serverNow))
	if err != nil {
		t.Fatal(err)
	}
	if sums[0].TimeToHireCount == 0 || sums[0].Stuck == 0 || len(sums[0].StageCounts) == 0 || len(sums[1].StageCounts) == 0 {
		t.Fatalf("the scripted workload should give london offers, stuck candidates and stages: %+v", sums)
	}
}
