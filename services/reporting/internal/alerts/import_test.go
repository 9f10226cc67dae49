package alerts_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/alerts"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// past is an application's history, each step in days before the moment
// it reaches reporting (0: it did not happen).
type past struct {
	submitted, siftPassed, siftFailed               float64
	interviewBooked, interviewAt, interviewPassed   float64
	offerMade, offerAccepted                        float64
	blocked, unblocked, cleared, started, withdrawn float64
	withdrawnStage                                  commonv1.Stage
}

// history returns a's events for h, grouped as an import publishes them:
// applications' application.submitted (carrying the history when
// imported), then what sifting replays of it, then offers, then vetting,
// then a withdrawal after the sift, which applications publishes once the
// owners have reported the stage it happened in. A live application's
// events are the same, without the history attached.
func (a *app) history(now time.Time, h past, imported bool) [][]*eventsv1.Event {
	ago := func(d float64) time.Time { return now.Add(-time.Duration(d * float64(24*time.Hour))) }
	var history *commonv1.ImportedHistory
	if imported {
		history = &commonv1.ImportedHistory{}
	}
	var applications, sifting, offers, vetting, withdrawal []*eventsv1.Event
	applications = append(applications, a.ev("applications", ago(h.submitted), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{Imported: history}}
	}))
	if h.siftPassed > 0 {
		sifting = append(sifting, a.siftPassed(ago(h.siftPassed)))
	}
	if h.siftFailed > 0 {
		sifting = append(sifting, a.ev("sifting", ago(h.siftFailed), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "criteria"}}
		}))
	}
	if h.interviewBooked > 0 {
		sifting = append(sifting, a.ev("sifting", ago(h.interviewBooked), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(ago(h.interviewAt))}}
		}))
	}
	if h.interviewPassed > 0 {
		sifting = append(sifting, a.ev("sifting", ago(h.interviewPassed), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{Imported: history}}
		}))
	}
	if h.offerMade > 0 {
		offers = append(offers, a.ev("offers", ago(h.offerMade), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "b"}}
		}))
	}
	if h.offerAccepted > 0 {
		offers = append(offers, a.ev("offers", ago(h.offerAccepted), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{Imported: history}}
		}))
		vetting = append(vetting, a.ev("vetting", ago(h.offerAccepted), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}}
		}))
	}
	if h.started > 0 {
		start := ago(h.started)
		offers = append(offers, a.ev("offers", start, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{
				StartDate: &commonv1.Date{Year: int32(start.Year()), Month: int32(start.Month()), Day: int32(start.Day())}}}
		}))
	}
	if h.blocked > 0 {
		vetting = append(vetting, a.ev("vetting", ago(h.blocked), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}}
		}))
	}
	if h.unblocked > 0 {
		vetting = append(vetting, a.ev("vetting", ago(h.unblocked), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
		}))
	}
	if h.cleared > 0 {
		vetting = append(vetting, a.ev("vetting", ago(h.cleared), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
		}))
	}
	if h.withdrawn > 0 {
		withdrawal = append(withdrawal, a.ev("applications", ago(h.withdrawn), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "moved", Stage: h.withdrawnStage}}
		}))
	}
	return [][]*eventsv1.Event{applications, sifting, offers, vetting, withdrawal}
}

// Histories of delays long resolved: a sift that took 20 days and failed;
// a hire whose every stage overran (30 days in SIFT, 30 in INTERVIEW, 9 in
// OFFER, blocked 9 days, 50 in PRE_EMPLOYMENT); a candidate who withdrew
// after 30 days in INTERVIEW.
var (
	failedSlowly = past{submitted: 100, siftFailed: 80}
	hiredSlowly  = past{submitted: 230, siftPassed: 200, interviewBooked: 199, interviewAt: 190, interviewPassed: 160,
		offerMade: 155, offerAccepted: 151, blocked: 150, unblocked: 141, cleared: 110, started: 101}
	withdrewSlowly = past{submitted: 100, siftPassed: 80, withdrawn: 50, withdrawnStage: commonv1.Stage_STAGE_INTERVIEW}
	// Stuck now: interviewed 55 days ago with no outcome recorded (its
	// breach, 21 days, passed 34 days ago).
	stuckAtInterview = past{submitted: 90, siftPassed: 60, interviewBooked: 59, interviewAt: 55}
	// Stuck now: blocked for 6 days (its breach, 5 days, passed a day ago).
	blockedNow = past{submitted: 40, siftPassed: 30, interviewPassed: 20, offerMade: 15, offerAccepted: 10, blocked: 6}
)

// importInPieces applies groups as reporting would learn them from an
// import, a minute apart, the scheduler stepping between; it returns the
// moment of the last batch.
func (e *env) importInPieces(t *testing.T, st *store.Store, sched *alerts.Scheduler, groups [][]*eventsv1.Event) time.Time {
	t.Helper()
	var last time.Time
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		last = e.clock.Now()
		e.apply(t, st, g...)
		step(t, sched)
		e.clock.Advance(time.Minute)
	}
	return last
}

// merge joins the histories of several applications group by group, as
// the import's services publish them.
func merge(hs ...[][]*eventsv1.Event) [][]*eventsv1.Event {
	out := make([][]*eventsv1.Event, len(hs[0]))
	for _, h := range hs {
		for i, g := range h {
			out[i] = append(out[i], g...)
		}
	}
	return out
}

// TestImportedHistoryOfResolvedDelaysAnnouncesNothing: imported
// applications whose histories hold breaches long resolved publish no
// stuck event, not when their pieces arrive and not once they have
// settled (before the settle period, each old delay was a breach followed
// by its resolution).
func TestImportedHistoryOfResolvedDelaysAnnouncesNothing(t *testing.T) {
	t.Parallel()
	now := at(time.September, 1, 10)
	e := setup(t, now)
	st := e.store()
	sched := alerts.New(e.pool, st, e.clock, alerts.Config{}, quiet)
	last := e.importInPieces(t, st, sched, merge(
		newApp().history(now, failedSlowly, true), newApp().history(now, hiredSlowly, true), newApp().history(now, withdrewSlowly, true)))
	e.published(t)
	e.clock.Set(last.Add(store.DefaultImportSettle))
	step(t, sched)
	e.clock.Set(last.Add(30 * 24 * time.Hour))
	step(t, sched)
	e.published(t)
}

// TestImportedStuckApplicationBreachesOnceAfterSettling: an imported
// application stuck past its breach now is announced once, by the
// scheduler, when its history has settled (the settle period after the
// last piece of it arrived); restarts and a second replica during and
// after the settle period publish nothing twice.
func TestImportedStuckApplicationBreachesOnceAfterSettling(t *testing.T) {
	t.Parallel()
	now := at(time.September, 1, 10)
	e := setup(t, now)
	one := e.store()
	a := newApp()
	last := e.importInPieces(t, one, alerts.New(e.pool, one, e.clock, alerts.Config{}, quiet), a.history(now, stuckAtInterview, true))
	e.published(t)

	// A restart during the settle period: a new store and scheduler find
	// nothing due yet.
	one = e.store()
	e.clock.Set(last.Add(store.DefaultImportSettle - time.Second))
	step(t, alerts.New(e.pool, one, e.clock, alerts.Config{}, quiet))
	e.published(t)

	// Settled: two replicas step together; the breach is written once.
	e.clock.Set(last.Add(store.DefaultImportSettle))
	two := e.store()
	var wg sync.WaitGroup
	for _, s := range []*alerts.Scheduler{alerts.New(e.pool, one, e.clock, alerts.Config{}, quiet), alerts.New(e.pool, two, e.clock, alerts.Config{}, quiet)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Step(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	interview := commonv1.Stage_STAGE_INTERVIEW
	breached := seen{breach, a.id, stage, interview, 21, now.Add(-55 * 24 * time.Hour).Add(21 * 24 * time.Hour), "", spoc}
	e.published(t, breached)

	// Another restart later: nothing more.
	e.clock.Set(last.Add(time.Hour))
	step(t, alerts.New(e.pool, e.store(), e.clock, alerts.Config{}, quiet))
	e.published(t, breached)
}

// TestLiveBackdatedBlockBreachesAtOnce: a live application's block
// recorded six days late is a breach at once, in the batch that learns it
// (unchanged by the settle period); the same history imported waits for
// the settle period, and the scheduler announces it then.
func TestLiveBackdatedBlockBreachesAtOnce(t *testing.T) {
	t.Parallel()
	now := at(time.September, 1, 10)
	e := setup(t, now)
	st := e.store()
	live, imported := newApp(), newApp()
	var all []*eventsv1.Event
	for _, g := range live.history(now, blockedNow, false) {
		all = append(all, g...)
	}
	e.apply(t, st, all...)
	pre := commonv1.Stage_STAGE_PRE_EMPLOYMENT
	blockedRule := eventsv1.StuckRule_STUCK_RULE_VETTING_BLOCKED
	vet := commonv1.CallerRole_CALLER_ROLE_VETTING
	breachAt := now.Add(-6 * 24 * time.Hour).Add(5 * 24 * time.Hour)
	liveBreach := seen{breach, live.id, blockedRule, pre, 5, breachAt, "", vet}
	e.published(t, liveBreach)

	all = nil
	for _, g := range imported.history(now, blockedNow, true) {
		all = append(all, g...)
	}
	e.apply(t, st, all...)
	sched := alerts.New(e.pool, st, e.clock, alerts.Config{}, quiet)
	step(t, sched)
	e.published(t, liveBreach)
	e.clock.Set(now.Add(store.DefaultImportSettle))
	step(t, sched)
	e.published(t, liveBreach, seen{breach, imported.id, blockedRule, pre, 5, breachAt, "", vet})
}

// TestImportOfAHundredApplications: a hundred applications imported with
// old delays, their events arriving as the import publishes them (every
// application's submission, then each stage owner's replay, a batch of 25
// at a time), publish only the crossings of those still stuck when the
// history has settled — one event per stuck clock, none for the history —
// and the clocks go on with time alone.
func TestImportOfAHundredApplications(t *testing.T) {
	t.Parallel()
	now := at(time.September, 1, 10)
	e := setup(t, now)
	st := e.store()
	sched := alerts.New(e.pool, st, e.clock, alerts.Config{}, quiet)
	type kind struct {
		past past
		// want is what is published once settled: event, rule and stage.
		want []string
		// later is what the clocks announce with time alone, nine days on.
		later []string
	}
	kinds := []kind{
		{past: failedSlowly},
		{past: hiredSlowly},
		{past: withdrewSlowly},
		{past: stuckAtInterview, want: []string{"stuck.breach STAGE INTERVIEW"}},
		// Blocked 6 days, 10 in PRE_EMPLOYMENT (whose warning, 28 days,
		// comes on day 18).
		{past: blockedNow, want: []string{"stuck.breach VETTING_BLOCKED PRE_EMPLOYMENT"}},
		// 30 days in PRE_EMPLOYMENT: warned (28), breach (42) in 12 days.
		{past: past{submitted: 60, siftPassed: 50, interviewPassed: 40, offerMade: 35, offerAccepted: 30},
			want: []string{"stuck.warning STAGE PRE_EMPLOYMENT"}},
		// In SIFT for 3 days: nothing yet; its warning (10) on day 7.
		{past: past{submitted: 3}, later: []string{"stuck.warning STAGE SIFT"}},
	}
	var histories [][][]*eventsv1.Event
	var want, later []string
	for i := range 105 {
		k := kinds[i%len(kinds)]
		a := newApp()
		histories = append(histories, a.history(now, k.past, true))
		for _, w := range k.want {
			want = append(want, a.id+" "+w)
		}
		for _, w := range k.later {
			later = append(later, a.id+" "+w)
		}
	}
	// Each service publishes its part for every application, and
	// reporting takes them 25 at a time, a batch every five seconds: the
	// whole history arrives well within the settle period.
	for _, g := range merge(histories...) {
		for chunk := range slices.Chunk(g, 25) {
			e.apply(t, st, chunk...)
			step(t, sched)
			e.clock.Advance(5 * time.Second)
		}
	}
	e.published(t)
	e.clock.Advance(store.DefaultImportSettle)
	step(t, sched)
	e.counted(t, want)

	e.clock.Set(now.Add(9 * 24 * time.Hour))
	step(t, sched)
	e.counted(t, append(want, later...))
}

// counted waits for the outbox to be published, then checks that the
// stream holds exactly want, each "application event RULE STAGE" once.
func (e *env) counted(t *testing.T, want []string) {
	t.Helper()
	rows := e.drained(t)
	var got []string
	for _, s := range e.onStream(t) {
		got = append(got, fmt.Sprintf("%s %s %s %s", s.app, s.name,
			strings.TrimPrefix(s.rule.String(), "STUCK_RULE_"), strings.TrimPrefix(s.stage.String(), "STAGE_")))
	}
	want = slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || rows != len(want) {
		t.Fatalf("stuck events: %d (%d outbox rows), want %d\n got %s\nwant %s", len(got), rows, len(want), strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestThresholdChangeKeepsAnImportSettling: lowering the thresholds while
// an imported crossing settles moves the crossing with its clock but not
// before the end of the settle period; it is announced then, once, at the
// new threshold.
func TestThresholdChangeKeepsAnImportSettling(t *testing.T) {
	t.Parallel()
	now := at(time.September, 1, 10)
	e := setup(t, now)
	st := e.store()
	sched := alerts.New(e.pool, st, e.clock, alerts.Config{}, quiet)
	a := newApp()
	last := e.importInPieces(t, st, sched, a.history(now, past{submitted: 11}, true)) // in SIFT 11 days: warned (10)
	th := projection.DefaultThresholds()
	th.Stages[sift] = projection.Limit{WarningDays: 5, BreachDays: 7}
	if _, err := st.SetThresholds(context.Background(), "london", 0, th); err != nil {
		t.Fatal(err)
	}
	settled := last.Add(store.DefaultImportSettle)
	next, _, _, err := st.NextDue(context.Background(), e.clock.Now())
	if err != nil || next == nil || !next.Equal(settled) {
		t.Fatalf("next crossing %v (%v), want the end of the settle period %v", next, err, settled)
	}
	step(t, sched)
	e.published(t)
	e.clock.Set(settled)
	step(t, sched)
	e.published(t, seen{breach, a.id, stage, sift, 7, now.Add(-4 * 24 * time.Hour), "", spoc})
}
