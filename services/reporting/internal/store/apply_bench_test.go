package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// BenchmarkApply folds a generated workload (the shape of bench/'s: whole
// histories of campaigns of about 300 applications, in stream order) into
// a fresh projection, in batches of each size, as the live consumer does,
// inbox included, and reports events per second. It measures the store
// alone; bench/ measures the service.
//
//	go test ./internal/store -run '^$' -bench Apply -benchtime 1x
func BenchmarkApply(b *testing.B) {
	evs := generate(rand.New(rand.NewPCG(1, 2)), 20_000)
	ctx := context.Background()
	for _, batch := range []int{500, 1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				pool, _ := testenv.Schema(b)
				if err := pg.Migrate(ctx, pool, outbox.Migrations, consumer.Migrations, store.Migrations); err != nil {
					b.Fatal(err)
				}
				// Quiet: the workload's events are from 2024, so judged
				// now every clock would be announced at once (a backlog,
				// not the live consumer's steady state). The alerts are
				// still read, advanced and written.
				st := store.New(pool).Quiet()
				b.StartTimer()
				start := time.Now()
				for i := 0; i < len(evs); i += batch {
					if _, err := consumer.ApplyBatch(ctx, pool, "reporting", evs[i:min(i+batch, len(evs))], st.Apply); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(evs))/time.Since(start).Seconds(), "events/s")
			}
		})
	}
}

// generate returns the events of campaigns holding about n applications.
func generate(rng *rand.Rand, n int) []*eventsv1.Event {
	var out []*eventsv1.Event
	epoch := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	roles := []commonv1.JobRole{commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR}
	actor := event.SystemActor("bench")
	for made := 0; made < n; {
		rec := event.Record{CampaignID: event.NewID(), Region: region.All[rng.IntN(len(region.All))], Role: roles[rng.IntN(len(roles))], Version: 1}
		opens := epoch.AddDate(0, 0, rng.IntN(900))
		closes := opens.AddDate(0, 0, 14+rng.IntN(28))
		c := event.New("applications", actor, opens, rec)
		c.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: &eventsv1.CampaignDetails{
			Title: "c", Posts: 10, OpensOn: event.Date(opens), ClosesOn: event.Date(closes)}}}
		out = append(out, c)
		for range 150 + rng.IntN(300) {
			made++
			versions := map[string]int64{}
			at := opens.Add(time.Duration(rng.Int64N(int64(closes.Sub(opens)))))
			r := rec
			r.ApplicationID = event.NewID()
			add := func(producer string, days float64, set func(*eventsv1.Event)) {
				at = at.Add(time.Duration(days * 24 * float64(time.Hour)))
				versions[producer]++
				r.Version = versions[producer]
				ev := event.New(producer, actor, at, r)
				set(ev)
				out = append(out, ev)
			}
			gap := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
			add("applications", 0, func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
			})
			if rng.IntN(10) < 3 {
				add("sifting", gap(2, 20), func(ev *eventsv1.Event) { ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{}} })
				continue
			}
			add("sifting", gap(2, 20), func(ev *eventsv1.Event) { ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}} })
			add("sifting", gap(5, 20), func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
			})
			add("offers", gap(1, 14), func(ev *eventsv1.Event) { ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{}} })
			add("offers", gap(1, 7), func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
			})
			add("vetting", 0.01, func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}}
			})
			if rng.IntN(5) == 0 {
				add("vetting", gap(1, 10), func(ev *eventsv1.Event) {
					ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason(1 + rng.IntN(5))}}
				})
				continue
			}
			add("vetting", gap(5, 40), func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
			})
			start := at.AddDate(0, 0, 14)
			add("offers", gap(0.5, 2), func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{StartDate: event.Date(start)}}
			})
			add("offers", 14.1, func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: event.Date(start)}}
			})
		}
	}
	return out
}
