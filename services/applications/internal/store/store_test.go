package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // Europe/London whatever the host's zoneinfo

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
	"github.com/probation-recruitment/pipeline/services/applications/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// now is the fixed clock: a Monday in November, when London is on UTC.
var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

var (
	admin = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	spoc  = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
)

type env struct {
	pool  *pgxpool.Pool
	store *store.Store
	svc   *intake.Service
}

// setup gives the test its own schema with every table the service
// migrates at start-up.
func setup(t *testing.T) env {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, service.Migrations(store.Migrations)...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	return env{pool: pool, store: st, svc: intake.NewService(st, func() time.Time { return now }, loc)}
}

func (e env) campaign(t *testing.T, region string) *intake.Campaign {
	t.Helper()
	closes := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	c, err := e.svc.CreateCampaign(context.Background(), admin, intake.NewCampaign{Role: intake.RoleProbationOfficer,
		CampaignDetails: intake.CampaignDetails{Title: "Probation officers", Regions: []intake.RegionPosts{{Region: region, Posts: 12}}, OpensOn: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ClosesOn: &closes}})
	if err != nil {
		t.Fatalf("create campaign: %v", err)
	}
	return c
}

func (e env) submit(t *testing.T, campaignID, email string) *intake.Application {
	t.Helper()
	a, err := e.svc.Submit(context.Background(), spoc, campaignID, "", intake.Candidate{Name: "Ada Lovelace", Email: email, Phone: "020 7946 0958"}, "")
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return a
}

func (e env) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func (e env) app(t *testing.T, id string) *intake.Application {
	t.Helper()
	a, err := e.store.Application(context.Background(), id, nil)
	if err != nil {
		t.Fatalf("read application %s: %v", id, err)
	}
	return a
}

func TestCampaignAndApplicationRoundTrip(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.campaign(t, "london")

	got, err := e.store.Campaign(ctx, c.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Region != "london" || got.Role != intake.RoleProbationOfficer || got.Posts != 12 || got.Version != 1 ||
		!got.OpensOn.Equal(c.OpensOn) || got.ClosesOn == nil || !got.ClosesOn.Equal(*c.ClosesOn) ||
		!got.CreatedAt.Equal(now) || got.CreatedBy != "admin-1" {
		t.Errorf("campaign read back as %+v, want %+v", got, c)
	}

	a := e.submit(t, c.ID, "ada@example.org")
	back := e.app(t, a.ID)
	if back.Candidate != a.Candidate || back.Stage != intake.StageSift || back.Version != 1 || back.CampaignID != c.ID ||
		back.Region != "london" || !back.SubmittedAt.Equal(now) || back.SubmittedBy != "spoc-london" || back.WithdrawnAt != nil {
		t.Errorf("application read back as %+v, want %+v", back, a)
	}
	if n := e.count(t, "outbox"); n != 2 {
		t.Errorf("outbox holds %d rows, want 2 (campaign.created, application.submitted)", n)
	}
}

func TestInsertApplicationDuplicateEmail(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.campaign(t, "london")
	other := e.campaign(t, "london")
	first := e.submit(t, c.ID, "ada@example.org")

	tests := []struct {
		name     string
		campaign string
		email    string
		wantErr  error
	}{
		{name: "same email", campaign: c.ID, email: "ada@example.org", wantErr: intake.ErrDuplicate},
		{name: "same email other case", campaign: c.ID, email: "ADA@Example.ORG", wantErr: intake.ErrDuplicate},
		{name: "same email other campaign", campaign: other.ID, email: "ada@example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apps, events := e.count(t, "applications"), e.count(t, "outbox")
			a := *first
			a.ID, a.CampaignID, a.Candidate.Email = event.NewID(), tt.campaign, tt.email
			ev := &eventsv1.Event{EventId: event.NewID(), ApplicationId: a.ID, Region: "london", OccurredAt: timestamppb.New(now),
				Actor: &commonv1.Actor{Subject: "spoc-london"}, Producer: intake.Producer,
				Payload: &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}}
			err := e.store.InsertApplication(ctx, &a, ev)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("InsertApplication = %v, want nil", err)
				}
				if e.count(t, "applications") != apps+1 || e.count(t, "outbox") != events+1 {
					t.Errorf("want one more application and one more outbox row")
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("InsertApplication = %v, want %v", err, tt.wantErr)
			}
			if got := e.count(t, "applications"); got != apps {
				t.Errorf("applications: %d rows, want %d (nothing written)", got, apps)
			}
			if got := e.count(t, "outbox"); got != events {
				t.Errorf("outbox: %d rows, want %d (event rolled back with the insert)", got, events)
			}
		})
	}
}

func TestUpdateApplicationStoresOnlyOnSuccess(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	a := e.submit(t, e.campaign(t, "london").ID, "ada@example.org")
	events := e.count(t, "outbox")
	boom := errors.New("rule refused")

	for _, fnErr := range []error{boom, record.ErrUnchanged} {
		_, err := e.store.UpdateApplication(ctx, a.ID, nil, func(a *intake.Application) ([]*eventsv1.Event, error) {
			a.Stage, a.Version = intake.StageOffer, 99
			return nil, fnErr
		})
		if !errors.Is(err, fnErr) {
			t.Fatalf("UpdateApplication = %v, want fn's error %v", err, fnErr)
		}
		if got := e.app(t, a.ID); got.Stage != intake.StageSift || got.Version != 1 {
			t.Errorf("after fn returned %v: stage %s version %d, want SIFT 1", fnErr, got.Stage, got.Version)
		}
	}
	if got := e.count(t, "outbox"); got != events {
		t.Errorf("outbox: %d rows, want %d", got, events)
	}

	updated, err := e.store.UpdateApplication(ctx, a.ID, nil, func(a *intake.Application) ([]*eventsv1.Event, error) {
		a.Stage, a.Version = intake.StageInterview, 2
		return nil, nil
	})
	if err != nil || updated.Stage != intake.StageInterview {
		t.Fatalf("UpdateApplication = %+v, %v", updated, err)
	}
	if got := e.app(t, a.ID); got.Stage != intake.StageInterview || got.Version != 2 {
		t.Errorf("stored stage %s version %d, want INTERVIEW 2", got.Stage, got.Version)
	}
}

// TestUpdateApplicationLocksRow: a second update of the same application
// must wait for the first to commit and then see its result. Without the
// row lock both would read version 1 and the second would overwrite the
// first (a lost update that optimistic versions alone cannot catch).
func TestUpdateApplicationLocksRow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	a := e.submit(t, e.campaign(t, "london").ID, "ada@example.org")

	// The first update runs inside a transaction the test holds open, so
	// its row lock lasts until the test commits.
	first, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	var firstPID int
	if err := first.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&firstPID); err != nil {
		t.Fatal(err)
	}

	seen := make(chan int64, 2)
	secondDone := make(chan error, 1)
	_, err = e.store.UpdateApplication(pg.WithTx(ctx, first), a.ID, nil, func(a *intake.Application) ([]*eventsv1.Event, error) {
		a.Stage, a.Version = intake.StageInterview, 2
		go func() {
			_, err := e.store.UpdateApplication(ctx, a.ID, nil, func(b *intake.Application) ([]*eventsv1.Event, error) {
				seen <- b.Version
				b.Stage, b.Version = intake.StageOffer, b.Version+1
				return nil, nil
			})
			secondDone <- err
		}()
		// Wait until the second update is blocked behind this transaction,
		// or has (wrongly) read the row without waiting.
		testenv.Eventually(t, "the second update to block on the row lock", func() (bool, string) {
			if len(seen) > 0 {
				return true, "second update read the row while the first held it"
			}
			var blocked int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, firstPID).Scan(&blocked); err != nil {
				return false, err.Error()
			}
			return blocked > 0, "not blocked yet"
		})
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-secondDone; err != nil {
		t.Fatalf("second update: %v", err)
	}
	if v := <-seen; v != 2 {
		t.Errorf("second update read version %d, want 2 (the first update's committed result)", v)
	}
	if got := e.app(t, a.ID); got.Stage != intake.StageOffer || got.Version != 3 {
		t.Errorf("stored stage %s version %d, want OFFER 3", got.Stage, got.Version)
	}
}

func TestMalformedOrUnknownIDsAreNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	noop := func(*intake.Application) ([]*eventsv1.Event, error) { return nil, nil }
	noopC := func(*intake.Campaign) ([]*eventsv1.Event, error) { return nil, nil }
	for _, id := range []string{"", "not-a-uuid", "'; DROP TABLE applications; --", event.NewID()} {
		t.Run(id, func(t *testing.T) {
			if _, err := e.store.Application(ctx, id, nil); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("Application(%q) = %v, want ErrNotFound", id, err)
			}
			if _, err := e.store.UpdateApplication(ctx, id, nil, noop); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("UpdateApplication(%q) = %v, want ErrNotFound", id, err)
			}
			if _, err := e.store.Campaign(ctx, id, nil); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("Campaign(%q) = %v, want ErrNotFound", id, err)
			}
			if _, err := e.store.UpdateCampaign(ctx, id, noopC); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("UpdateCampaign(%q) = %v, want ErrNotFound", id, err)
			}
		})
	}
}

func TestApplicationsFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c1, c2, cw := e.campaign(t, "london"), e.campaign(t, "london"), e.campaign(t, "wales")
	a1 := e.submit(t, c1.ID, "a1@example.org")
	a2 := e.submit(t, c2.ID, "a2@example.org")
	a3 := e.submit(t, c1.ID, "a3@example.org")
	if _, err := e.svc.Withdraw(ctx, spoc, a3.ID, 1, "candidate_request"); err != nil {
		t.Fatal(err)
	}
	walesSPOC := auth.Claims{Subject: "spoc-wales", Role: auth.RoleSPOC, Regions: []string{"wales"}}
	aw, err := e.svc.Submit(ctx, walesSPOC, cw.ID, "", intake.Candidate{Name: "Dai", Email: "dai@example.org"}, "")
	if err != nil {
		t.Fatal(err)
	}

	ids := func(as []*intake.Application) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    intake.ApplicationFilter
		want []string
	}{
		{name: "region", f: intake.ApplicationFilter{Regions: []string{"london"}, Limit: 10}, want: []string{a1.ID, a2.ID, a3.ID}},
		{name: "two regions", f: intake.ApplicationFilter{Regions: []string{"london", "wales"}, Limit: 10}, want: []string{a1.ID, a2.ID, a3.ID, aw.ID}},
		{name: "no regions", f: intake.ApplicationFilter{Limit: 10}},
		{name: "campaign", f: intake.ApplicationFilter{Regions: []string{"london"}, CampaignID: c1.ID, Limit: 10}, want: []string{a1.ID, a3.ID}},
		{name: "campaign in another region", f: intake.ApplicationFilter{Regions: []string{"london"}, CampaignID: cw.ID, Limit: 10}},
		{name: "stage", f: intake.ApplicationFilter{Regions: []string{"london"}, Stage: intake.StageSift, Limit: 10}, want: []string{a1.ID, a2.ID}},
		{name: "campaign and stage", f: intake.ApplicationFilter{Regions: []string{"london"}, CampaignID: c1.ID, Stage: intake.StageWithdrawn, Limit: 10}, want: []string{a3.ID}},
		{name: "after", f: intake.ApplicationFilter{Regions: []string{"london"}, After: a1.ID, Limit: 10}, want: []string{a2.ID, a3.ID}},
		{name: "limit", f: intake.ApplicationFilter{Regions: []string{"london"}, Limit: 2}, want: []string{a1.ID, a2.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.Applications(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); !slices.Equal(g, tt.want) {
				t.Errorf("Applications(%+v) = %v, want %v", tt.f, g, tt.want)
			}
		})
	}
}

// stageEvent is an event another service publishes about application a.
func stageEvent(a *intake.Application, producer string, occurred time.Time, set func(*eventsv1.Event)) *eventsv1.Event {
	ev := &eventsv1.Event{
		EventId: event.NewID(), ApplicationId: a.ID, Region: a.Region, CampaignId: a.CampaignID,
		Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, OccurredAt: timestamppb.New(occurred),
		Actor:    &commonv1.Actor{Subject: "spoc-london", Role: commonv1.CallerRole_CALLER_ROLE_SPOC},
		Producer: producer, AggregateVersion: 1,
	}
	set(ev)
	return ev
}

func siftPassed(ev *eventsv1.Event) {
	ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}
}

func interviewPassed(ev *eventsv1.Event) {
	ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
}

func offerAccepted(ev *eventsv1.Event) {
	ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
}

func candidateStarted(ev *eventsv1.Event) {
	ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{}}
}

// stagesConsumer is the consumer cmd/applications runs (service.Runtime's
// Consume with intake.StageEvents): the stage owners' events applied
// through the real store in the inbox's transaction.
func (e env) stagesConsumer(t *testing.T, js jetstream.JetStream) *consumer.Consumer {
	t.Helper()
	wants := func(ev *eventsv1.Event) bool {
		name, err := event.Name(ev)
		return err == nil && slices.Contains(intake.StageEvents, name)
	}
	c, err := consumer.New(e.pool, js, consumer.Config{Durable: "applications", FilterSubject: "recruitment.>", Wants: wants},
		func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
			return e.svc.ApplyStageEvent(pg.WithTx(ctx, tx), ev)
		}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStageEventsThroughConsumer runs the stage consumer on an in-process
// JetStream and publishes the stage owners' events as they would.
func TestStageEventsThroughConsumer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	// The test publishes the other owners' events as the administrator;
	// the relay and consumer run as applications, under its permissions.
	url := testenv.NATS(t)
	_, js := testenv.Connect(t, url)
	_, asApplications := testenv.ConnectAs(t, url, "applications")
	s, err := stream.Ensure(ctx, js, stream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a := e.submit(t, e.campaign(t, "london").ID, "ada@example.org")

	// The service's own events reach the same consumer and must be ignored.
	if n, err := outbox.NewRelay(e.pool, asApplications, outbox.RelayConfig{}, quiet).PublishBatch(ctx); err != nil || n != 2 {
		t.Fatalf("relay PublishBatch = %d, %v; want 2 (campaign.created, application.submitted)", n, err)
	}

	stages := e.stagesConsumer(t, asApplications)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- stages.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer Run: %v", err)
		}
	})

	var lastSeq uint64
	publish := func(t *testing.T, ev *eventsv1.Event, msgID string) {
		t.Helper()
		b, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		suffix, _ := event.SubjectSuffix(ev)
		var opts []jetstream.PublishOpt
		if msgID != "" {
			opts = append(opts, jetstream.WithMsgID(msgID))
		}
		ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: "recruitment." + suffix, Data: b}, opts...)
		if err != nil {
			t.Fatalf("publish %s: %v", suffix, err)
		}
		lastSeq = ack.Sequence
	}
	// settled waits until the consumer has acknowledged everything published.
	settled := func(t *testing.T) {
		t.Helper()
		testenv.Eventually(t, "consumer to acknowledge every message", func() (bool, string) {
			c, err := s.Consumer(ctx, "applications")
			if err != nil {
				return false, err.Error()
			}
			info, err := c.Info(ctx)
			if err != nil {
				return false, err.Error()
			}
			return info.AckFloor.Stream >= lastSeq && info.NumAckPending == 0,
				"ack floor " + strconv.FormatUint(info.AckFloor.Stream, 10) + ", last " + strconv.FormatUint(lastSeq, 10)
		})
	}
	waitStage := func(t *testing.T, want intake.Stage) *intake.Application {
		t.Helper()
		var got *intake.Application
		testenv.Eventually(t, "stage "+string(want), func() (bool, string) {
			got = e.app(t, a.ID)
			return got.Stage == want, "stage " + string(got.Stage)
		})
		return got
	}

	sift := stageEvent(a, "sifting", now.Add(24*time.Hour), siftPassed)
	interview := stageEvent(a, "sifting", now.Add(72*time.Hour), interviewPassed)
	publish(t, sift, sift.GetEventId())
	publish(t, interview, interview.GetEventId())
	got := waitStage(t, intake.StageOffer)
	// Stage tracking never bumps the version, which numbers this
	// service's own changes (the aggregate_version of its events).
	if got.Version != 1 {
		t.Errorf("version %d after two tracked stage changes, want 1", got.Version)
	}
	if !got.StageEnteredAt.Equal(interview.GetOccurredAt().AsTime()) {
		t.Errorf("stage entered at %v, want interview.passed's occurred_at %v", got.StageEnteredAt, interview.GetOccurredAt().AsTime())
	}

	t.Run("same event twice changes once", func(t *testing.T) {
		settled(t)
		inboxBefore := e.count(t, "inbox")
		// A redelivery past JetStream's duplicate window arrives as a new
		// message with the same event id; the inbox must skip it.
		publish(t, interview, "")
		// The same decisions re-emitted under new ids (past the inbox) move
		// nothing: the application is already at or beyond their stage.
		publish(t, stageEvent(a, "sifting", now.Add(96*time.Hour), siftPassed), "")
		publish(t, stageEvent(a, "sifting", now.Add(96*time.Hour), interviewPassed), "")
		settled(t)
		got := e.app(t, a.ID)
		// The later re-emitted decisions must not move the stage's clock either.
		if got.Stage != intake.StageOffer || !got.StageEnteredAt.Equal(interview.GetOccurredAt().AsTime()) {
			t.Fatalf("after duplicates: stage %s entered %v, want OFFER entered at the first interview.passed", got.Stage, got.StageEnteredAt)
		}
		// Only the two new ids are recorded; the repeated interview.passed
		// was skipped by the inbox.
		if inbox := e.count(t, "inbox"); inbox != inboxBefore+2 {
			t.Errorf("inbox grew from %d to %d events, want exactly two more", inboxBefore, inbox)
		}
	})

	t.Run("next real change moves the stage", func(t *testing.T) {
		accepted := stageEvent(a, "offers", now.Add(120*time.Hour), offerAccepted)
		publish(t, accepted, "")
		got := waitStage(t, intake.StagePreEmployment)
		if got.Version != 1 || !got.StageEnteredAt.Equal(accepted.GetOccurredAt().AsTime()) {
			t.Errorf("version %d entered %v; want version 1, entered at offer.accepted", got.Version, got.StageEnteredAt)
		}
	})
	if n := e.count(t, "outbox"); n != 2 {
		t.Errorf("outbox holds %d rows; applying other services' events must not emit any", n)
	}
}

// TestStageEventsOutOfOrderThroughInbox applies a hired candidate's events
// in reverse, through the consumer's transaction and the real store.
func TestStageEventsOutOfOrderThroughInbox(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	a := e.submit(t, e.campaign(t, "london").ID, "ada@example.org")
	c := e.stagesConsumer(t, nil) // Apply does not touch JetStream
	history := []*eventsv1.Event{
		stageEvent(a, "sifting", now.Add(1*time.Hour), siftPassed),
		stageEvent(a, "sifting", now.Add(2*time.Hour), interviewPassed),
		stageEvent(a, "offers", now.Add(3*time.Hour), offerAccepted),
		stageEvent(a, "offers", now.Add(4*time.Hour), candidateStarted),
	}
	wantApplied := []bool{true, true, true, true}
	for i := len(history) - 1; i >= 0; i-- {
		applied, err := c.Apply(ctx, history[i])
		if err != nil || applied != wantApplied[i] {
			t.Fatalf("Apply(%d) = %v, %v; want %v, nil", i, applied, err, wantApplied[i])
		}
	}
	got := e.app(t, a.ID)
	if got.Stage != intake.StageHired || got.Version != 1 {
		t.Fatalf("stage %s version %d, want HIRED at version 1 (tracking never bumps it)", got.Stage, got.Version)
	}
	if !got.StageEnteredAt.Equal(now.Add(4 * time.Hour)) {
		t.Errorf("stage entered at %v, want candidate.started's occurred_at", got.StageEnteredAt)
	}
	if applied, err := c.Apply(ctx, history[3]); err != nil || applied {
		t.Errorf("re-Apply of a processed event = %v, %v; want false, nil", applied, err)
	}
}
