package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// BenchmarkOpenCases reads a person's open cases (a page of 50, every
// region, as an admin asks) and a region's open cases (its workload) from
// projections of n applications spread over the twelve regions, each
// stopped at a random stage, their sift cases and offers assigned to one of
// 20 SPOCs of the region and their vetting cases to one of 5 vetting
// contact points.
//
//	go test ./internal/store -run '^$' -bench OpenCases -benchtime 200x
func BenchmarkOpenCases(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{5_000, 40_000} {
		pool, _ := testenv.Schema(b)
		if err := pg.Migrate(ctx, pool, consumer.Migrations, store.Migrations); err != nil {
			b.Fatal(err)
		}
		st := store.New(pool)
		evs := owned(rand.New(rand.NewPCG(3, 4)), n)
		for i := 0; i < len(evs); i += 1000 {
			if _, err := consumer.ApplyBatch(ctx, pool, "reporting", evs[i:min(i+1000, len(evs))], st.Apply); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, `ANALYZE apps; ANALYZE stuck`); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("apps=%d/mine", n), func(b *testing.B) {
			found := 0
			for b.Loop() {
				rows, err := st.OpenCases(ctx, report.CaseQuery{Regions: region.All, Assignee: "london-spoc-3", Limit: 51})
				if err != nil {
					b.Fatal(err)
				}
				found = len(rows)
			}
			b.ReportMetric(float64(found), "cases")
		})
		b.Run(fmt.Sprintf("apps=%d/region", n), func(b *testing.B) {
			found := 0
			for b.Loop() {
				rows, err := st.OpenCases(ctx, report.CaseQuery{Regions: []string{"london"}})
				if err != nil {
					b.Fatal(err)
				}
				found = len(rows)
			}
			b.ReportMetric(float64(found), "cases")
		})
	}
}

// owned returns the events of n applications, each stopped at a random
// point of the pipeline, with their records assigned.
func owned(rng *rand.Rand, n int) []*eventsv1.Event {
	var out []*eventsv1.Event
	actor := event.SystemActor("bench")
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for range n {
		reg := region.All[rng.IntN(len(region.All))]
		r := event.Record{ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: reg, Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER}
		at := start.Add(time.Duration(rng.Int64N(int64(150 * 24 * time.Hour))))
		versions := map[string]int64{}
		add := func(producer string, days int, p func(*eventsv1.Event)) {
			at = at.AddDate(0, 0, days)
			versions[producer]++
			r.Version = versions[producer]
			ev := event.New(producer, actor, at, r)
			p(ev)
			out = append(out, ev)
		}
		spoc := reg + "-spoc-" + strconv.Itoa(rng.IntN(20))
		add("applications", 0, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
		})
		add("sifting", 0, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: spoc}}
		})
		steps := rng.IntN(6)
		if steps < 1 {
			continue
		}
		add("sifting", 3+rng.IntN(10), func(ev *eventsv1.Event) { ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}} })
		if steps < 2 {
			continue
		}
		add("sifting", 3+rng.IntN(15), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
		})
		add("offers", 0, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: spoc}}
		})
		if steps < 3 {
			continue
		}
		add("offers", 1+rng.IntN(7), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
		})
		add("vetting", 0, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}}
		})
		add("vetting", 0, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: reg + "-vetting-" + strconv.Itoa(rng.IntN(5))}}
		})
		if steps == 4 {
			add("vetting", 2+rng.IntN(10), func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}}
			})
			continue
		}
		if steps < 5 {
			continue
		}
		add("vetting", 5+rng.IntN(30), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
		})
		add("offers", 7, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: event.Date(at)}}
		})
	}
	return out
}
