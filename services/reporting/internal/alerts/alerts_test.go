package alerts_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/alerts"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/rebuild"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func at(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, time.UTC) }

// scripted is the test's clock: Now is set by the test; a sleep ends only
// when the scheduler is woken (by the store's notification or Wake).
type scripted struct{ *testenv.Clock }

func (scripted) After(time.Duration) <-chan time.Time { return nil }

// env is a reporting schema, its outbox relay publishing as reporting's
// NATS user, and a reader of the stuck events on the stream.
type env struct {
	pool  *pgxpool.Pool
	clock scripted
	js    jetstream.JetStream
}

func setup(t *testing.T, start time.Time) *env {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, rebuild.Migrations...); err != nil {
		t.Fatal(err)
	}
	url := testenv.NATS(t)
	_, admin := testenv.Connect(t, url)
	if _, err := stream.Ensure(t.Context(), admin, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	// Published under reporting's own permissions (pkg/natsperm, from
	// event.Owners): a refusal would leave the relay failing and the
	// events never arriving.
	_, asReporting := testenv.ConnectAs(t, url, "reporting")
	relay := outbox.NewRelay(pool, asReporting, outbox.RelayConfig{PollInterval: 50 * time.Millisecond}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	return &env{pool: pool, clock: scripted{testenv.NewClock(start)}, js: admin}
}

// store is one replica's store, judging by the scripted clock.
func (e *env) store() *store.Store { return store.New(e.pool).WithClock(e.clock.Now) }

func (e *env) apply(t *testing.T, st *store.Store, evs ...*eventsv1.Event) {
	t.Helper()
	ctx := context.Background()
	if err := pg.InTx(ctx, e.pool, func(tx pgx.Tx) error { return st.Apply(ctx, tx, evs) }); err != nil {
		t.Fatal(err)
	}
}

// seen is a stuck event as the test compares it.
type seen struct {
	name, app  string
	rule       eventsv1.StuckRule
	stage      commonv1.Stage
	threshold  int32
	occurredAt time.Time
	assignee   string
	nextActor  commonv1.CallerRole
}

func (s seen) String() string {
	return fmt.Sprintf("%s %s rule %d stage %d %dd at %s assignee %q next %v", s.name, s.app[:8], s.rule, s.stage, s.threshold,
		s.occurredAt.Format(time.RFC3339), s.assignee, s.nextActor)
}

// onStream returns the stuck events on the stream, in stream order.
func (e *env) onStream(t *testing.T) []seen {
	t.Helper()
	cons, err := e.js.OrderedConsumer(t.Context(), "RECRUITMENT", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"recruitment.*.stuck.>"}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []seen
	for {
		batch, err := cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			ev, err := event.Unmarshal(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			if ev.GetProducer() != "reporting" || ev.GetActor().GetRole() != commonv1.CallerRole_CALLER_ROLE_SYSTEM {
				t.Errorf("event %s: producer %q actor %v", ev.GetEventId(), ev.GetProducer(), ev.GetActor())
			}
			name, _ := event.Name(ev)
			var p *eventsv1.StuckChanged
			switch x := ev.GetPayload().(type) {
			case *eventsv1.Event_StuckWarning:
				p = x.StuckWarning
			case *eventsv1.Event_StuckBreach:
				p = x.StuckBreach
			case *eventsv1.Event_StuckResolved:
				p = x.StuckResolved
			}
			out = append(out, seen{name: name, app: ev.GetApplicationId(), rule: p.GetRule(), stage: p.GetStage(), threshold: p.GetThresholdDays(),
				occurredAt: ev.GetOccurredAt().AsTime(), assignee: p.GetAssignee(), nextActor: p.GetNextActor()})
		}
		if n == 0 {
			return out
		}
	}
}

// published waits until every outbox row is published, then checks that
// the stream holds exactly want (in any order: replicas and the relay's
// batches interleave), each once.
func (e *env) published(t *testing.T, want ...seen) {
	t.Helper()
	rows := e.drained(t)
	got := e.onStream(t)
	key := func(s seen) string { return s.String() }
	gs, ws := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		gs[i] = key(got[i])
	}
	for i := range want {
		ws[i] = key(want[i])
	}
	slices.Sort(gs)
	slices.Sort(ws)
	if strings.Join(gs, "\n") != strings.Join(ws, "\n") || rows != len(want) {
		t.Fatalf("stuck events (%d outbox rows):\n got %s\nwant %s", rows, strings.Join(gs, "\n     "), strings.Join(ws, "\n     "))
	}
}

// drained waits until every outbox row is published and returns how many
// rows the outbox holds (each one event written).
func (e *env) drained(t *testing.T) int {
	t.Helper()
	testenv.Eventually(t, "the relay publishes the outbox", func() (bool, string) {
		var left int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&left)
		return err == nil && left == 0, fmt.Sprint(left, " unpublished ", err)
	})
	var rows int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// app builds one application's events.
type app struct {
	id       string
	versions map[string]int64
}

func newApp() *app { return &app{id: event.NewID(), versions: map[string]int64{}} }

func (a *app) ev(producer string, when time.Time, set func(*eventsv1.Event)) *eventsv1.Event {
	a.versions[producer]++
	ev := event.New(producer, event.SystemActor("test"), when, event.Record{ApplicationID: a.id, CampaignID: campaignID,
		Region: "london", Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Version: a.versions[producer]})
	set(ev)
	return ev
}

var campaignID = event.NewID()

func (a *app) submitted(when time.Time) *eventsv1.Event {
	return a.ev("applications", when, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	})
}

func (a *app) siftPassed(when time.Time) *eventsv1.Event {
	return a.ev("sifting", when, func(ev *eventsv1.Event) { ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}} })
}

func (a *app) siftAssigned(when time.Time, to string) *eventsv1.Event {
	return a.ev("sifting", when, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: to}}
	})
}

// blocked is an application that reached PRE_EMPLOYMENT at when, its
// vetting case blocked an hour later.
func (a *app) blocked(when time.Time) []*eventsv1.Event {
	return []*eventsv1.Event{
		a.submitted(when.Add(-30 * 24 * time.Hour)),
		a.siftPassed(when.Add(-20 * 24 * time.Hour)),
		a.ev("sifting", when.Add(-10*24*time.Hour), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
		}),
		a.ev("offers", when.Add(-5*24*time.Hour), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "b"}}
		}),
		a.ev("offers", when, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
		}),
		a.ev("vetting", when, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}}
		}),
		a.ev("vetting", when.Add(time.Hour), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}}
		}),
	}
}

const (
	warning  = "stuck.warning"
	breach   = "stuck.breach"
	resolved = "stuck.resolved"
	stage    = eventsv1.StuckRule_STUCK_RULE_STAGE
	sift     = commonv1.Stage_STAGE_SIFT
	spoc     = commonv1.CallerRole_CALLER_ROLE_SPOC
)

// step runs one scheduler pass at the clock's time.
func step(t *testing.T, s *alerts.Scheduler) {
	t.Helper()
	if _, err := s.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestCohortWalksPastThresholds: a scripted clock walks a cohort past its
// SIFT thresholds (10/14 days): each crossing is published once, at its
// moment, naming the assignee; a clock stopped after its warning is
// resolved, one stopped before it is not; a restart of the scheduler in
// the middle publishes nothing twice.
func TestCohortWalksPastThresholds(t *testing.T) {
	t.Parallel()
	e := setup(t, at(time.April, 1, 10))
	st := e.store()
	sched := alerts.New(e.pool, st, e.clock, alerts.Config{}, quiet)
	// a: submitted 1/4 09:00, assigned; warns 11/4 09:00, breaches 15/4 09:00.
	// b: submitted 3/4 09:00, sift passed 12/4 10:00: before its warning.
	// c: submitted 2/4 09:00, warns 12/4 09:00, sift passed 14/4 09:00: resolved.
	a, b, c := newApp(), newApp(), newApp()
	e.apply(t, st, a.submitted(at(time.April, 1, 9)), a.siftAssigned(at(time.April, 1, 9), "spoc-1"), c.submitted(at(time.April, 2, 9)))
	e.clock.Set(at(time.April, 3, 9))
	e.apply(t, st, b.submitted(at(time.April, 3, 9)))
	step(t, sched)

	e.clock.Set(at(time.April, 11, 9))
	step(t, sched)
	aWarned := seen{warning, a.id, stage, sift, 10, at(time.April, 11, 9), "spoc-1", spoc}
	e.published(t, aWarned)

	// A restart: a new store and scheduler on the same schema, at the same
	// moment, find nothing due.
	st = e.store()
	sched = alerts.New(e.pool, st, e.clock, alerts.Config{}, quiet)
	step(t, sched)
	e.published(t, aWarned)

	e.clock.Set(at(time.April, 12, 10))
	step(t, sched)
	e.apply(t, st, b.siftPassed(at(time.April, 12, 10)))
	cWarned := seen{warning, c.id, stage, sift, 10, at(time.April, 12, 9), "", spoc}
	e.published(t, aWarned, cWarned)

	e.clock.Set(at(time.April, 14, 9))
	e.apply(t, st, c.siftPassed(at(time.April, 14, 9)))
	cResolved := seen{resolved, c.id, stage, sift, 10, at(time.April, 14, 9), "", spoc}
	e.published(t, aWarned, cWarned, cResolved)

	e.clock.Set(at(time.April, 15, 9))
	step(t, sched)
	aBreached := seen{breach, a.id, stage, sift, 14, at(time.April, 15, 9), "spoc-1", spoc}
	e.published(t, aWarned, cWarned, cResolved, aBreached)
	// Nothing more is due before b's and c's INTERVIEW warnings (14 days).
	step(t, sched)
	e.published(t, aWarned, cWarned, cResolved, aBreached)
	next, _, _, err := st.NextDue(context.Background(), e.clock.Now())
	if err != nil || next == nil || !next.Equal(at(time.April, 26, 10)) {
		t.Errorf("next crossing %v (%v), want b's INTERVIEW warning on 26/4 10:00", next, err)
	}
}

// TestThresholdChangeMovesPendingCrossing: lowering a region's SIFT
// thresholds moves a pending warning earlier, and it is published at its
// new moment with the new threshold.
func TestThresholdChangeMovesPendingCrossing(t *testing.T) {
	t.Parallel()
	e := setup(t, at(time.April, 20, 10))
	st := e.store()
	sched := alerts.New(e.pool, st, e.clock, alerts.Config{}, quiet)
	a := newApp()
	e.apply(t, st, a.submitted(at(time.April, 20, 9)))
	th := projection.DefaultThresholds()
	th.Stages[sift] = projection.Limit{WarningDays: 5, BreachDays: 7}
	if _, err := st.SetThresholds(context.Background(), "london", 0, th); err != nil {
		t.Fatal(err)
	}
	next, pending, _, err := st.NextDue(context.Background(), e.clock.Now())
	if err != nil || next == nil || !next.Equal(at(time.April, 25, 9)) || pending != 1 {
		t.Fatalf("next crossing %v of %d (%v), want 25/4 09:00 (5 days), not 30/4", next, pending, err)
	}
	e.clock.Set(at(time.April, 25, 9))
	step(t, sched)
	e.published(t, seen{warning, a.id, stage, sift, 5, at(time.April, 25, 9), "", spoc})
}

// TestReplicasPublishEachCrossingOnce: two reporting replicas (two stores
// and schedulers on one schema) running side by side, woken together at
// every step of the clock, publish each crossing exactly once.
func TestReplicasPublishEachCrossingOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, at(time.April, 1, 10))
	one, two := e.store(), e.store()
	var apps []*app
	var evs []*eventsv1.Event
	for i := range 40 {
		a := newApp()
		apps = append(apps, a)
		evs = append(evs, a.submitted(at(time.April, 1, 9).Add(time.Duration(i)*time.Minute)))
	}
	e.apply(t, one, evs[:20]...)
	e.apply(t, two, evs[20:]...)
	scheds := []*alerts.Scheduler{
		alerts.New(e.pool, one, e.clock, alerts.Config{Batch: 3}, quiet),
		alerts.New(e.pool, two, e.clock, alerts.Config{Batch: 3}, quiet),
	}
	var want []seen
	for i, a := range apps {
		when := at(time.April, 11, 9).Add(time.Duration(i) * time.Minute)
		want = append(want, seen{warning, a.id, stage, sift, 10, when, "", spoc})
		want = append(want, seen{breach, a.id, stage, sift, 14, when.Add(4 * 24 * time.Hour), "", spoc})
	}
	// And applications with two clocks each (time in PRE_EMPLOYMENT, 28/42
	// days, and blocked, 3/5), both past their breach at the last step:
	// the replicas claim a row each of one application.
	var twoClocks []*eventsv1.Event
	for i := range 10 {
		a := newApp()
		when := at(time.April, 15, 9).Add(time.Duration(i) * time.Minute)
		twoClocks = append(twoClocks, a.blocked(when)...)
		vet := commonv1.CallerRole_CALLER_ROLE_VETTING
		pre := commonv1.Stage_STAGE_PRE_EMPLOYMENT
		want = append(want, seen{breach, a.id, stage, pre, 42, when.Add(42 * 24 * time.Hour), "", vet})
		want = append(want, seen{breach, a.id, eventsv1.StuckRule_STUCK_RULE_VETTING_BLOCKED, pre, 5, when.Add(time.Hour + 5*24*time.Hour), "", vet})
	}
	e.apply(t, one, twoClocks...)
	for _, now := range []time.Time{at(time.April, 11, 9).Add(20 * time.Minute), at(time.April, 12, 0), at(time.April, 16, 0), at(time.June, 30, 0)} {
		e.clock.Set(now)
		var wg sync.WaitGroup
		for _, s := range scheds {
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.Step(context.Background()); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
	}
	e.published(t, want...)
}

// TestOnlyReportingMayPublishStuckEvents: reporting's NATS user (its
// permissions built from event.Owners by pkg/natsperm) may publish
// stuck.*; another service's may not, so nobody can forge an alert.
func TestOnlyReportingMayPublishStuckEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.NATS(t)
	_, admin := testenv.Connect(t, url)
	if _, err := stream.Ensure(ctx, admin, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{warning, resolved} {
		subject := "recruitment.london." + name
		for service, allowed := range map[string]bool{"reporting": true, "sifting": false, "vetting": false} {
			_, js := testenv.ConnectAs(t, url, service)
			// A refusal arrives as no acknowledgement, as in pkg/natsperm's tests.
			pubCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.Publish(pubCtx, subject, []byte("x"), jetstream.WithMsgID(event.NewID()))
			cancel()
			if allowed && err != nil {
				t.Errorf("%s publishing %s: %v", service, subject, err)
			}
			if !allowed && err == nil {
				t.Errorf("%s published %s: want the server to refuse it", service, subject)
			}
		}
	}
}

// TestRunWakesForAnEarlierCrossing: a running scheduler, asleep until a
// crossing days away (its scripted sleep never ends by itself), is woken by
// the threshold change that moves the crossing into the past, and
// publishes it.
func TestRunWakesForAnEarlierCrossing(t *testing.T) {
	t.Parallel()
	e := setup(t, at(time.April, 26, 10))
	st := e.store()
	a := newApp()
	e.apply(t, st, a.submitted(at(time.April, 20, 9))) // warns 30/4 by default
	reg := prometheus.NewRegistry()
	sched := alerts.New(e.pool, st, e.clock, alerts.Config{Registerer: reg}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})
	// Its first look is done (the gauge is set after it) and found one
	// crossing to come: from here only a wake-up can make it look again.
	testenv.Eventually(t, "the scheduler's first look", func() (bool, string) {
		v, err := gauge(reg, "stuck_crossings_pending")
		return err == nil && v == 1, fmt.Sprint(v, err)
	})
	testenv.Eventually(t, "the scheduler listens", func() (bool, string) {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' || current_schema() || '_stuck_due%'`).Scan(&n)
		return err == nil && n == 1, fmt.Sprint(n, err)
	})
	th := projection.DefaultThresholds()
	th.Stages[sift] = projection.Limit{WarningDays: 5, BreachDays: 7}
	if _, err := st.SetThresholds(context.Background(), "london", 0, th); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the warning is written", func() (bool, string) {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n)
		return err == nil && n == 1, fmt.Sprint(n, err)
	})
	e.published(t, seen{warning, a.id, stage, sift, 5, at(time.April, 25, 9), "", spoc})
}

// gauge reads a gauge's value from reg.
func gauge(reg *prometheus.Registry, name string) (float64, error) {
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("no gauge %s", name)
}
