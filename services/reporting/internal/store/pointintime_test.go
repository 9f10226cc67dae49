package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"
	"pgregory.net/rapid"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

var pitStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// pitHistory is the events of one region's applications as the services
// would publish them.
type pitHistory struct {
	campaign string
	events   []*eventsv1.Event
}

type pitApp struct {
	h        *pitHistory
	id       string
	role     commonv1.JobRole
	at       time.Time
	versions map[string]int64
}

func (a *pitApp) add(t *rapid.T, producer string, set func(*eventsv1.Event)) {
	a.at = a.at.Add(time.Duration(rapid.IntRange(1, 12*24*60).Draw(t, "minutes")) * time.Minute)
	a.versions[producer]++
	ev := event.New(producer, event.SystemActor("test"), a.at, event.Record{ApplicationID: a.id, CampaignID: a.h.campaign,
		Region: "london", Role: a.role, Version: a.versions[producer]})
	set(ev)
	a.h.events = append(a.h.events, ev)
}

func (a *pitApp) assignments(t *rapid.T, producer string) {
	for range rapid.IntRange(0, 2).Draw(t, producer+"Assignments") {
		to := rapid.SampledFrom([]string{"", "staff-1", "staff-2"}).Draw(t, "assignee")
		a.add(t, producer, func(e *eventsv1.Event) {
			switch {
			case producer == "sifting" && to == "":
				e.Payload = &eventsv1.Event_SiftUnassigned{SiftUnassigned: &eventsv1.CaseUnassigned{}}
			case producer == "sifting":
				e.Payload = &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: to}}
			case producer == "offers" && to == "":
				e.Payload = &eventsv1.Event_OfferUnassigned{OfferUnassigned: &eventsv1.CaseUnassigned{}}
			case producer == "offers":
				e.Payload = &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: to}}
			case to == "":
				e.Payload = &eventsv1.Event_VettingUnassigned{VettingUnassigned: &eventsv1.VettingUnassigned{}}
			default:
				e.Payload = &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: to}}
			}
		})
	}
}

// drawApp adds a random, causally valid history of one application: every
// path through the pipeline, with a withdrawal racing any step, interviews
// rebooked, vetting blocked and unblocked, start dates moved, assignees
// changed.
func drawApp(t *rapid.T, h *pitHistory, start time.Time) {
	a := &pitApp{h: h, id: event.NewID(), at: start, versions: map[string]int64{},
		role: rapid.SampledFrom([]commonv1.JobRole{commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR}).Draw(t, "role")}
	a.add(t, "applications", func(e *eventsv1.Event) {
		e.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	})
	withdrawAt, step := rapid.IntRange(0, 8).Draw(t, "withdrawAt"), 0
	next := func() bool {
		step++
		if step != withdrawAt {
			return false
		}
		a.add(t, "applications", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "x"}}
		})
		return true
	}
	a.assignments(t, "sifting")
	if next() || rapid.IntRange(0, 3).Draw(t, "siftFail") == 0 {
		if withdrawAt != step {
			a.add(t, "sifting", func(e *eventsv1.Event) {
				e.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "r"}}
			})
		}
		return
	}
	a.add(t, "sifting", func(e *eventsv1.Event) { e.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}} })
	for range rapid.IntRange(0, 2).Draw(t, "bookings") {
		ahead := time.Duration(rapid.IntRange(0, 20*24).Draw(t, "hoursAhead")) * time.Hour
		a.add(t, "sifting", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{
				ScheduledFor: timestamppb.New(e.GetOccurredAt().AsTime().Add(ahead))}}
		})
	}
	if next() {
		return
	}
	if rapid.IntRange(0, 3).Draw(t, "interviewFail") == 0 {
		a.add(t, "sifting", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: "r"}}
		})
		return
	}
	a.add(t, "sifting", func(e *eventsv1.Event) {
		e.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
	})
	if next() {
		return
	}
	a.add(t, "offers", func(e *eventsv1.Event) {
		e.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "b"}}
	})
	a.assignments(t, "offers")
	if next() {
		return
	}
	if rapid.IntRange(0, 4).Draw(t, "declined") == 0 {
		a.add(t, "offers", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: "d"}}
		})
		return
	}
	a.add(t, "offers", func(e *eventsv1.Event) {
		e.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	})
	a.add(t, "vetting", func(e *eventsv1.Event) {
		e.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}}
	})
	a.assignments(t, "vetting")
	if rapid.Bool().Draw(t, "forms") {
		a.add(t, "vetting", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
		})
	}
	for range rapid.IntRange(0, 2).Draw(t, "blocks") {
		if next() {
			return
		}
		reason := commonv1.BlockReason(rapid.IntRange(1, 6).Draw(t, "reason"))
		a.add(t, "vetting", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: reason}}
		})
		if rapid.Bool().Draw(t, "unblock") {
			a.add(t, "vetting", func(e *eventsv1.Event) {
				e.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
			})
		}
	}
	startOn := func() *commonv1.Date {
		d := projectionDay(a.at).AddDate(0, 0, rapid.IntRange(0, 30).Draw(t, "startInDays"))
		return &commonv1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
	}
	for range rapid.IntRange(0, 2).Draw(t, "startDates") {
		s, subject := startOn(), rapid.Bool().Draw(t, "subject")
		due := &commonv1.Date{Year: s.GetYear(), Month: s.GetMonth(), Day: 28}
		a.add(t, "offers", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{StartDate: s, SubjectToVetting: subject, VettingDueBy: due}}
		})
	}
	switch rapid.IntRange(0, 2).Draw(t, "ending") {
	case 0:
		a.add(t, "vetting", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
		})
		s := startOn()
		a.add(t, "offers", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: s}}
		})
	case 1:
		s := startOn()
		due := &commonv1.Date{Year: s.GetYear(), Month: s.GetMonth(), Day: 28}
		a.add(t, "offers", func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: s, SubjectToVetting: true, VettingDueBy: due}}
		})
		if rapid.Bool().Draw(t, "failsLater") {
			a.add(t, "vetting", func(e *eventsv1.Event) {
				e.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: "f"}}
			})
			a.add(t, "offers", func(e *eventsv1.Event) {
				e.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}}
			})
		}
	}
}

func projectionDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// pitProjection is a schema with the projection's tables.
func pitProjection(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, outbox.Migrations, consumer.Migrations, store.Migrations); err != nil {
		t.Fatal(err)
	}
	return pool
}

// pitReset empties the projection between two histories.
func pitReset(t *rapid.T, pool *pgxpool.Pool) {
	if _, err := pool.Exec(context.Background(), `TRUNCATE apps, app_changes, campaigns, counts, durations, stuck, stuck_alerts,
		region_versions, campaign_versions, campaign_titles, outbox`); err != nil {
		t.Fatal(err)
	}
}

// fold applies evs to the projection in batches of a few, in the order given.
func fold(t *rapid.T, pool *pgxpool.Pool, evs []*eventsv1.Event) {
	ctx := context.Background()
	st := store.New(pool).Quiet()
	for len(evs) > 0 {
		n := min(len(evs), rapid.IntRange(1, 8).Draw(t, "batch"))
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(ctx, tx, evs[:n]); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		evs = evs[n:]
	}
}

// pitReports are every report of the region, as of a time.
type pitReports struct {
	Summary   report.Summary
	Stuck     []report.StuckRow
	Warnings  int
	Breaches  int
	Funnel    []report.FunnelStage
	Campaign  []report.FunnelStage
	Measures  []report.MeasureResult
	Early     int
	Durations []report.StageDuration
}

func reportsAt(t *rapid.T, svc *report.Service, campaign string, at report.AsOf) pitReports {
	ctx := context.Background()
	var out pitReports
	var err error
	if out.Summary, err = svc.Summary(ctx, "london", at); err != nil {
		t.Fatal(err)
	}
	if out.Stuck, out.Warnings, out.Breaches, err = svc.Stuck(ctx, report.StuckFilter{Region: "london", AsOf: at.At, Chosen: at.Chosen, Limit: 10000}); err != nil {
		t.Fatal(err)
	}
	if out.Funnel, err = svc.Funnel(ctx, []string{"london"}, "", at); err != nil {
		t.Fatal(err)
	}
	if out.Campaign, err = svc.Funnel(ctx, []string{"london"}, campaign, at); err != nil {
		t.Fatal(err)
	}
	tth, err := svc.TimeToHire(ctx, report.TimeToHireQuery{Regions: []string{"london"}, AsOf: at})
	if err != nil {
		t.Fatal(err)
	}
	out.Measures, out.Early = tth.Measures, tth.StartedEarly
	if out.Durations, err = svc.StageDurations(ctx, report.DurationsQuery{Regions: []string{"london"}, AsOf: at}); err != nil {
		t.Fatal(err)
	}
	out.Summary.AsOf = time.Time{}
	return out
}

// A report as of a past time T equals the same report of a second
// projection that was given only the events that had occurred by T — every
// report: the region summary (stage counts, stuck count, median time to
// hire), the stuck list with each clock's times and assignee and the
// warning and breach counts, the funnel (of the region and of a campaign),
// the time to hire measures and the stage durations. The events reach each
// projection in a random order and in random batches, and T falls
// anywhere, on an event's time too. A future T is today's projection with
// the clocks run on.
func TestReportsAsOfEqualReportsOfTheEventsByThen(t *testing.T) {
	t.Parallel()
	full, truncated := pitProjection(t), pitProjection(t)
	rapid.Check(t, func(rt *rapid.T) {
		pitReset(rt, full)
		pitReset(rt, truncated)
		h := &pitHistory{campaign: event.NewID()}
		closes := pitStart.AddDate(0, 0, rapid.IntRange(-5, 40).Draw(rt, "closesInDays"))
		campaign := event.New("applications", event.SystemActor("test"), pitStart.Add(-time.Hour),
			event.Record{CampaignID: h.campaign, Region: "london", Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Version: 1})
		campaign.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: &eventsv1.CampaignDetails{
			Title: "t", Posts: 3, OpensOn: &commonv1.Date{Year: 2026, Month: 2, Day: 1},
			ClosesOn: &commonv1.Date{Year: int32(closes.Year()), Month: int32(closes.Month()), Day: int32(closes.Day())}}}}
		for range rapid.IntRange(1, 6).Draw(rt, "apps") {
			drawApp(rt, h, pitStart.Add(time.Duration(rapid.IntRange(0, 60*24).Draw(rt, "startsInHours"))*time.Hour))
		}
		var at time.Time
		if rapid.Bool().Draw(rt, "onAnEvent") {
			at = rapid.SampledFrom(h.events).Draw(rt, "event").GetOccurredAt().AsTime()
		} else {
			at = pitStart.Add(time.Duration(rapid.IntRange(-24, 200*24).Draw(rt, "hours")) * time.Hour)
		}
		byThen := []*eventsv1.Event{campaign}
		for _, ev := range h.events {
			if !ev.GetOccurredAt().AsTime().After(at) {
				byThen = append(byThen, ev)
			}
		}
		fold(rt, full, append([]*eventsv1.Event{campaign}, rapid.Permutation(h.events).Draw(rt, "order")...))
		fold(rt, truncated, rapid.Permutation(byThen).Draw(rt, "truncatedOrder"))

		got := reportsAt(rt, report.NewService(store.New(full)), h.campaign, report.At(at))
		want := reportsAt(rt, report.NewService(store.New(truncated)), h.campaign, report.Live(at))
		if !reflect.DeepEqual(got, want) {
			rt.Fatalf("as of %v (%d of %d events by then):\n got %+v\nwant %+v", at, len(byThen)-1, len(h.events), got, want)
		}
		// A future as_of: today's records, the clocks run on to then.
		later := h.events[len(h.events)-1].GetOccurredAt().AsTime()
		for _, ev := range h.events {
			if at := ev.GetOccurredAt().AsTime(); at.After(later) {
				later = at
			}
		}
		later = later.Add(time.Duration(rapid.IntRange(0, 90*24).Draw(rt, "futureHours")) * time.Hour)
		fullSvc := report.NewService(store.New(full))
		if got, want := reportsAt(rt, fullSvc, h.campaign, report.At(later)), reportsAt(rt, fullSvc, h.campaign, report.Live(later)); !reflect.DeepEqual(got, want) {
			rt.Fatalf("as of %v, after every event:\n got %+v\nwant %+v", later, got, want)
		}
	})
}
