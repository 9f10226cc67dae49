package intake

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Europe/London whatever the host's zoneinfo

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// memStore is an in-memory Store for the rule tests only: it keeps records
// in maps and applies update functions the way the real store does (nothing
// is kept when fn fails). Anything about SQL is tested in package store.
type memStore struct {
	mu        sync.Mutex
	campaigns map[string]Campaign
	apps      map[string]Application
	events    []*eventsv1.Event
}

func newMemStore() *memStore {
	return &memStore{campaigns: map[string]Campaign{}, apps: map[string]Application{}}
}

func (m *memStore) InsertCampaign(_ context.Context, c *Campaign, ev *eventsv1.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.campaigns[c.ID]; ok {
		return ErrDuplicate
	}
	m.campaigns[c.ID] = *c
	m.events = append(m.events, ev)
	return nil
}

func (m *memStore) UpdateCampaign(_ context.Context, id string, fn func(*Campaign) ([]*eventsv1.Event, error)) (*Campaign, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.campaigns[id]
	if !ok {
		return nil, record.ErrNotFound
	}
	evs, err := fn(&c)
	if err != nil {
		return nil, err
	}
	m.campaigns[id] = c
	m.events = append(m.events, evs...)
	return &c, nil
}

// inScope is the stores' region condition: nil regions reach every one.
func inScope(region string, regions []string) bool {
	return regions == nil || slices.Contains(regions, region)
}

func (m *memStore) Campaign(_ context.Context, id string, regions []string) (*Campaign, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.campaigns[id]
	if !ok || !inScope(c.Region, regions) {
		return nil, record.ErrNotFound
	}
	return &c, nil
}

func (m *memStore) Campaigns(context.Context, CampaignFilter) ([]*Campaign, error) {
	return nil, errors.New("memStore: Campaigns not needed by the rule tests")
}

func (m *memStore) InsertApplication(_ context.Context, a *Application, evs ...*eventsv1.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apps[a.ID] = *a
	m.events = append(m.events, evs...)
	return nil
}

func (m *memStore) CampaignsByReference(_ context.Context, refs []string) (map[string]*Campaign, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]*Campaign{}
	for _, c := range m.campaigns {
		if slices.Contains(refs, c.ImportReference) {
			out[c.ImportReference] = &c
		}
	}
	return out, nil
}

func (m *memStore) ApplicationsByReference(_ context.Context, refs []string) (map[string]*Application, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]*Application{}
	for _, a := range m.apps {
		if slices.Contains(refs, a.ImportReference) {
			out[a.ImportReference] = &a
		}
	}
	return out, nil
}

func (m *memStore) InsertImports(_ context.Context, w ImportWrites) ([]error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range w.Campaigns {
		m.campaigns[c.ID] = *c
		m.events = append(m.events, w.CampaignEvents[i])
	}
	for i, a := range w.Applications {
		m.apps[a.ID] = *a
		m.events = append(m.events, w.ApplicationEvents[i]...)
	}
	return make([]error, len(w.Applications)), nil
}

func (m *memStore) UpdateApplication(_ context.Context, id string, regions []string, fn func(*Application) ([]*eventsv1.Event, error)) (*Application, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[id]
	if !ok || !inScope(a.Region, regions) {
		return nil, record.ErrNotFound
	}
	evs, err := fn(&a)
	if err != nil {
		return nil, err
	}
	m.apps[id] = a
	m.events = append(m.events, evs...)
	return &a, nil
}

func (m *memStore) Application(_ context.Context, id string, regions []string) (*Application, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[id]
	if !ok || !inScope(a.Region, regions) {
		return nil, record.ErrNotFound
	}
	return &a, nil
}

func (m *memStore) Applications(context.Context, ApplicationFilter) ([]*Application, error) {
	return nil, errors.New("memStore: Applications not needed by the rule tests")
}

func (m *memStore) app(t *testing.T, id string) Application {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[id]
	if !ok {
		t.Fatalf("application %s not in store", id)
	}
	return a
}

var (
	submitted = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock     = func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) }
)

func london(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// seed puts one application at stage in a fresh store.
func seed(t *testing.T, stage Stage) (*Service, *memStore, string) {
	t.Helper()
	st := newMemStore()
	id := event.NewID()
	st.apps[id] = Application{
		ID: id, CampaignID: event.NewID(), Region: "london", Role: RoleAdministrator,
		Candidate: Candidate{Name: "Ada Lovelace", Email: "ada@example.org"},
		Stage:     stage, StageEnteredAt: submitted, Version: 1, SubmittedAt: submitted, SubmittedBy: "spoc-1",
	}
	return NewService(st, clock, london(t)), st, id
}

// stageEvent is an event of another service about application id; at is
// its occurred_at as an offset from submission.
func stageEvent(id, producer string, at time.Duration, payload any) *eventsv1.Event {
	ev := &eventsv1.Event{
		EventId: event.NewID(), ApplicationId: id, Region: "london", CampaignId: event.NewID(),
		Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, OccurredAt: timestamppb.New(submitted.Add(at)),
		Actor:    &commonv1.Actor{Subject: "svc", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM},
		Producer: producer, AggregateVersion: 1,
	}
	switch p := payload.(type) {
	case *eventsv1.SiftPassed:
		ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: p}
	case *eventsv1.SiftFailed:
		ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: p}
	case *eventsv1.InterviewScheduled:
		ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: p}
	case *eventsv1.InterviewPassed:
		ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: p}
	case *eventsv1.InterviewFailed:
		ev.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: p}
	case *eventsv1.OfferMade:
		ev.Payload = &eventsv1.Event_OfferMade{OfferMade: p}
	case *eventsv1.OfferAccepted:
		ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: p}
	case *eventsv1.OfferDeclined:
		ev.Payload = &eventsv1.Event_OfferDeclined{OfferDeclined: p}
	case *eventsv1.OfferWithdrawn:
		ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: p}
	case *eventsv1.CandidateStarted:
		ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: p}
	case *eventsv1.VettingBlocked:
		ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: p}
	case *eventsv1.VettingOpened:
		ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: p}
	case *eventsv1.VettingCleared:
		ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: p}
	case *eventsv1.VettingFailed:
		ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: p}
	case *eventsv1.ApplicationWithdrawn:
		ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: p}
	default:
		panic(fmt.Sprintf("stageEvent: unhandled payload %T", payload))
	}
	return ev
}

func apply(t *testing.T, svc *Service, evs ...*eventsv1.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := svc.ApplyStageEvent(context.Background(), ev); err != nil {
			t.Fatalf("ApplyStageEvent(%s): %v", ev.GetEventId(), err)
		}
	}
}

// TestApplyStageEventForwardOnly feeds each history of stage events in
// order, then shuffled with duplicates: the final stage must not depend on
// arrival order or repetition.
func TestApplyStageEventForwardOnly(t *testing.T) {
	t.Parallel()
	const h = time.Hour
	tests := []struct {
		name string
		// payloads in the order their owners produced them.
		payloads    []any
		want        Stage
		wantVersion int64 // stage tracking never bumps the version: it numbers this service's own changes
	}{
		{name: "hired", payloads: []any{&eventsv1.SiftPassed{}, &eventsv1.InterviewPassed{}, &eventsv1.OfferAccepted{}, &eventsv1.CandidateStarted{}}, want: StageHired, wantVersion: 1},
		{name: "rejected at sift", payloads: []any{&eventsv1.SiftFailed{ReasonCode: "insufficient_evidence"}}, want: StageRejected, wantVersion: 1},
		{name: "rejected at interview", payloads: []any{&eventsv1.SiftPassed{}, &eventsv1.InterviewFailed{ReasonCode: "below_bar"}}, want: StageRejected, wantVersion: 1},
		{name: "offer declined", payloads: []any{&eventsv1.SiftPassed{}, &eventsv1.InterviewPassed{}, &eventsv1.OfferDeclined{ReasonCode: "accepted_other_job"}}, want: StageWithdrawn, wantVersion: 1},
		{name: "vetting failed after start", payloads: []any{&eventsv1.SiftPassed{}, &eventsv1.InterviewPassed{}, &eventsv1.OfferAccepted{}, &eventsv1.CandidateStarted{}, &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}}, want: StageWithdrawn, wantVersion: 1},
		{name: "non-stage events between", payloads: []any{&eventsv1.SiftPassed{}, &eventsv1.InterviewScheduled{}, &eventsv1.InterviewPassed{}, &eventsv1.OfferMade{}, &eventsv1.VettingBlocked{}}, want: StageOffer, wantVersion: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, st, id := seed(t, StageSift)
			evs := make([]*eventsv1.Event, len(tt.payloads))
			for i, p := range tt.payloads {
				evs[i] = stageEvent(id, "sifting", time.Duration(i+1)*h, p)
			}

			apply(t, svc, evs...)
			got := st.app(t, id)
			if got.Stage != tt.want || got.Version != tt.wantVersion {
				t.Fatalf("in order: stage %s version %d, want %s version %d", got.Stage, got.Version, tt.want, tt.wantVersion)
			}
			last := evs[len(evs)-1].GetOccurredAt().AsTime()
			for _, ev := range slices.Backward(evs) {
				if _, moves := stageAfter(ev); moves {
					last = ev.GetOccurredAt().AsTime()
					break
				}
			}
			if !got.StageEnteredAt.Equal(last) {
				t.Errorf("in order: stage entered at %v, want the last moving event's occurred_at %v", got.StageEnteredAt, last)
			}

			// Replaying the whole history changes nothing.
			apply(t, svc, evs...)
			if again := st.app(t, id); again.Stage != tt.want || again.Version != tt.wantVersion {
				t.Fatalf("replayed: stage %s version %d, want %s version %d", again.Stage, again.Version, tt.want, tt.wantVersion)
			}

			rng := rand.New(rand.NewPCG(1, uint64(len(tt.name))))
			for round := range 25 {
				svc, st, id := seed(t, StageSift)
				var feed []*eventsv1.Event
				for i, p := range tt.payloads {
					ev := stageEvent(id, "sifting", time.Duration(i+1)*h, p)
					for range 1 + rng.IntN(3) { // each delivered 1-3 times
						feed = append(feed, ev)
					}
				}
				rng.Shuffle(len(feed), func(i, j int) { feed[i], feed[j] = feed[j], feed[i] })
				apply(t, svc, feed...)
				if got := st.app(t, id); got.Stage != tt.want {
					t.Fatalf("round %d, shuffled with duplicates: stage %s, want %s", round, got.Stage, tt.want)
				}
			}
		})
	}
}

func TestApplyStageEventTerminalStagesNeverMove(t *testing.T) {
	t.Parallel()
	every := []any{
		&eventsv1.SiftPassed{}, &eventsv1.SiftFailed{ReasonCode: "x_y"}, &eventsv1.InterviewPassed{},
		&eventsv1.InterviewFailed{ReasonCode: "x_y"}, &eventsv1.OfferAccepted{}, &eventsv1.OfferDeclined{ReasonCode: "x_y"},
		&eventsv1.OfferWithdrawn{ReasonCode: "x_y"}, &eventsv1.CandidateStarted{},
	}
	for _, stage := range []Stage{StageRejected, StageWithdrawn} {
		for _, p := range every {
			t.Run(fmt.Sprintf("%s/%T", stage, p), func(t *testing.T) {
				t.Parallel()
				svc, st, id := seed(t, stage)
				apply(t, svc, stageEvent(id, "offers", time.Hour, p))
				got := st.app(t, id)
				if got.Stage != stage || got.Version != 1 || !got.StageEnteredAt.Equal(submitted) {
					t.Errorf("after %T: stage %s version %d entered %v; want unchanged %s version 1", p, got.Stage, got.Version, got.StageEnteredAt, stage)
				}
			})
		}
	}
}

func TestApplyStageEventTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		from        Stage
		producer    string
		payload     any
		want        Stage
		wantVersion int64
	}{
		{name: "hired withdrawn by offer.withdrawn", from: StageHired, producer: "offers", payload: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}, want: StageWithdrawn, wantVersion: 1},
		{name: "pre-employment withdrawn by offer.withdrawn", from: StagePreEmployment, producer: "offers", payload: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed"}, want: StageWithdrawn, wantVersion: 1},
		{name: "hired ignores late sift.passed", from: StageHired, producer: "sifting", payload: &eventsv1.SiftPassed{}, want: StageHired, wantVersion: 1},
		{name: "offer ignores late interview.passed", from: StageOffer, producer: "sifting", payload: &eventsv1.InterviewPassed{}, want: StageOffer, wantVersion: 1},
		{name: "hired ignores a contradictory sift.failed", from: StageHired, producer: "sifting", payload: &eventsv1.SiftFailed{ReasonCode: "x"}, want: StageHired, wantVersion: 1},
		{name: "skips ahead when earlier events are late", from: StageSift, producer: "offers", payload: &eventsv1.OfferAccepted{}, want: StagePreEmployment, wantVersion: 1},
		{name: "own events are ignored", from: StageSift, producer: Producer, payload: &eventsv1.SiftPassed{}, want: StageSift, wantVersion: 1},
		{name: "own withdrawal event is not a stage event", from: StageSift, producer: "sifting", payload: &eventsv1.ApplicationWithdrawn{ReasonCode: "candidate_request"}, want: StageSift, wantVersion: 1},
		{name: "non-stage event", from: StageInterview, producer: "sifting", payload: &eventsv1.InterviewScheduled{}, want: StageInterview, wantVersion: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, st, id := seed(t, tt.from)
			ev := stageEvent(id, tt.producer, 3*time.Hour, tt.payload)
			apply(t, svc, ev)
			got := st.app(t, id)
			if got.Stage != tt.want || got.Version != tt.wantVersion {
				t.Fatalf("stage %s version %d, want %s version %d", got.Stage, got.Version, tt.want, tt.wantVersion)
			}
			wantEntered := submitted
			if tt.want != tt.from {
				wantEntered = ev.GetOccurredAt().AsTime()
			}
			if !got.StageEnteredAt.Equal(wantEntered) {
				t.Errorf("stage entered at %v, want %v", got.StageEnteredAt, wantEntered)
			}
			if len(st.events) != 0 {
				t.Errorf("ApplyStageEvent wrote %d events; the stage owner announces its own changes", len(st.events))
			}
		})
	}
}

func TestApplyStageEventUnknownApplicationIgnored(t *testing.T) {
	t.Parallel()
	for _, id := range []string{event.NewID(), "not-a-uuid", ""} {
		t.Run(fmt.Sprintf("id %q", id), func(t *testing.T) {
			t.Parallel()
			svc, st, known := seed(t, StageSift)
			if err := svc.ApplyStageEvent(context.Background(), stageEvent(id, "sifting", time.Hour, &eventsv1.SiftPassed{})); err != nil {
				t.Fatalf("ApplyStageEvent for an unknown application = %v, want nil (ignored)", err)
			}
			if len(st.apps) != 1 {
				t.Errorf("store holds %d applications, want only the seeded one", len(st.apps))
			}
			if a := st.app(t, known); a.Stage != StageSift || a.Version != 1 {
				t.Errorf("seeded application changed: %s v%d", a.Stage, a.Version)
			}
		})
	}
}

// A store failure must reach the consumer, so the event is retried rather
// than acknowledged and lost.
func TestApplyStageEventStoreErrorReturned(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	svc := NewService(failingStore{memStore: newMemStore(), err: boom}, clock, time.UTC)
	err := svc.ApplyStageEvent(context.Background(), stageEvent(event.NewID(), "sifting", time.Hour, &eventsv1.SiftPassed{}))
	if !errors.Is(err, boom) {
		t.Fatalf("ApplyStageEvent = %v, want the store's error", err)
	}
}

type failingStore struct {
	*memStore
	err error
}

func (f failingStore) UpdateApplication(context.Context, string, []string, func(*Application) ([]*eventsv1.Event, error)) (*Application, error) {
	return nil, f.err
}

func TestValidateCandidate(t *testing.T) {
	t.Parallel()
	long := func(n int, r string) string { return strings.Repeat(r, n) }
	// 64 + 1 + 189 = 254 characters.
	email254 := long(64, "a") + "@" + long(185, "b") + ".org"
	tests := []struct {
		name      string
		c         Candidate
		wantField string // "" means valid
	}{
		{name: "minimal", c: Candidate{Name: "Ada", Email: "ada@example.org"}},
		{name: "with phone", c: Candidate{Name: "Ada Lovelace", Email: "ada@example.org", Phone: "+44 (0)20 7946-0958"}},
		{name: "phone 7 digits", c: Candidate{Name: "Ada", Email: "ada@example.org", Phone: "7946095"}},
		{name: "phone 20 digits", c: Candidate{Name: "Ada", Email: "ada@example.org", Phone: long(20, "1")}},
		{name: "unicode name at limit", c: Candidate{Name: long(MaxNameLen, "é"), Email: "ada@example.org"}},
		{name: "email at limit", c: Candidate{Name: "Ada", Email: email254}},
		{name: "plus addressing", c: Candidate{Name: "Siân O'Brien-Ng", Email: "sian.obrien+jobs@mail.example.co.uk"}},

		{name: "empty name", c: Candidate{Name: "", Email: "ada@example.org"}, wantField: "candidate.name"},
		{name: "blank name", c: Candidate{Name: " \t ", Email: "ada@example.org"}, wantField: "candidate.name"},
		{name: "name too long", c: Candidate{Name: long(MaxNameLen+1, "a"), Email: "ada@example.org"}, wantField: "candidate.name"},
		{name: "name with newline", c: Candidate{Name: "Ada\nLovelace", Email: "ada@example.org"}, wantField: "candidate.name"},
		{name: "name with NUL", c: Candidate{Name: "Ada\x00", Email: "ada@example.org"}, wantField: "candidate.name"},
		{name: "name with escape", c: Candidate{Name: "Ada\x1b[31m", Email: "ada@example.org"}, wantField: "candidate.name"},
		{name: "name not UTF-8", c: Candidate{Name: "Ada\xff", Email: "ada@example.org"}, wantField: "candidate.name"},
		{name: "empty email", c: Candidate{Name: "Ada"}, wantField: "candidate.email"},
		{name: "email x", c: Candidate{Name: "Ada", Email: "x"}, wantField: "candidate.email"},
		{name: "email without dot in domain", c: Candidate{Name: "Ada", Email: "a@b"}, wantField: "candidate.email"},
		{name: "email double at", c: Candidate{Name: "Ada", Email: "a@@b.org"}, wantField: "candidate.email"},
		{name: "email with display name", c: Candidate{Name: "Ada", Email: "Ada <ada@example.org>"}, wantField: "candidate.email"},
		{name: "email with comment", c: Candidate{Name: "Ada", Email: "ada@example.org (Ada)"}, wantField: "candidate.email"},
		{name: "two emails", c: Candidate{Name: "Ada", Email: "ada@example.org, bob@example.org"}, wantField: "candidate.email"},
		{name: "email with space", c: Candidate{Name: "Ada", Email: "ada lovelace@example.org"}, wantField: "candidate.email"},
		{name: "email too long", c: Candidate{Name: "Ada", Email: "a" + email254}, wantField: "candidate.email"},
		{name: "phone letters", c: Candidate{Name: "Ada", Email: "ada@example.org", Phone: "020 7946 CALL"}, wantField: "candidate.phone"},
		{name: "phone too few digits", c: Candidate{Name: "Ada", Email: "ada@example.org", Phone: "12 34 56"}, wantField: "candidate.phone"},
		{name: "phone too many digits", c: Candidate{Name: "Ada", Email: "ada@example.org", Phone: long(21, "1")}, wantField: "candidate.phone"},
		{name: "phone plus inside", c: Candidate{Name: "Ada", Email: "ada@example.org", Phone: "020+7946+0958"}, wantField: "candidate.phone"},
		{name: "phone only punctuation", c: Candidate{Name: "Ada", Email: "ada@example.org", Phone: "+() -- ()"}, wantField: "candidate.phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateCandidate(tt.c)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("ValidateCandidate(%+v) = %v, want nil", tt.c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateCandidate(%+v) = nil, want an error on %s", tt.c, tt.wantField)
			}
			if got := fieldOf(err); got != tt.wantField {
				t.Errorf("error %q is about field %q, want %q", err, got, tt.wantField)
			}
		})
	}
}

// TestSubmitCampaignWindow checks when a campaign takes applications:
// "today" is the date in the service's time zone, and both the opening
// and the closing date are inclusive.
func TestSubmitCampaignWindow(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	ptr := func(t time.Time) *time.Time { return &t }
	// 23:30 UTC on 1 July is 00:30 on 2 July in London (BST).
	lateJuly1 := time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		now      time.Time
		utc      bool // judge "today" in UTC instead of London
		opens    time.Time
		closes   *time.Time
		wantOpen bool
	}{
		{name: "opens today", now: clock(), opens: day(2026, 11, 23), closes: ptr(day(2026, 12, 1)), wantOpen: true},
		{name: "closes today", now: clock(), opens: day(2026, 11, 1), closes: ptr(day(2026, 11, 23)), wantOpen: true},
		{name: "rolling", now: clock(), opens: day(2026, 1, 1), wantOpen: true},
		{name: "closed yesterday", now: clock(), opens: day(2026, 11, 1), closes: ptr(day(2026, 11, 22))},
		{name: "opens tomorrow", now: clock(), opens: day(2026, 11, 24)},
		{name: "closed in London after midnight BST", now: lateJuly1, opens: day(2026, 6, 1), closes: ptr(day(2026, 7, 1))},
		{name: "still open in UTC", now: lateJuly1, utc: true, opens: day(2026, 6, 1), closes: ptr(day(2026, 7, 1)), wantOpen: true},
		{name: "opened in London after midnight BST", now: lateJuly1, opens: day(2026, 7, 2), closes: ptr(day(2026, 7, 31)), wantOpen: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := newMemStore()
			loc := london(t)
			if tt.utc {
				loc = time.UTC
			}
			svc := NewService(st, func() time.Time { return tt.now }, loc)
			admin := auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
			c, err := svc.CreateCampaign(context.Background(), admin, NewCampaign{Role: RoleAdministrator,
				CampaignDetails: CampaignDetails{Title: "Admin officers", Regions: []RegionPosts{{Region: "london", Posts: 3}}, OpensOn: tt.opens, ClosesOn: tt.closes}})
			if err != nil {
				t.Fatal(err)
			}
			spoc := auth.Claims{Subject: "spoc-1", Role: auth.RoleSPOC, Regions: []string{"london"}}
			a, err := svc.Submit(context.Background(), spoc, c.ID, "", Candidate{Name: "Ada", Email: "ada@example.org"}, "")
			if tt.wantOpen {
				if err != nil {
					t.Fatalf("Submit = %v, want the campaign open", err)
				}
				if a.Stage != StageSift || a.Version != 1 || !a.SubmittedAt.Equal(tt.now) {
					t.Errorf("submitted %+v", a)
				}
				return
			}
			if got := fieldOf(err); got != "campaign_id" {
				t.Fatalf("Submit = %v, want a campaign_id error (campaign not taking applications)", err)
			}
			if len(st.apps) != 0 {
				t.Errorf("store holds %d applications after a refused submit", len(st.apps))
			}
		})
	}
}

// fieldOf is the request field a validation error names, or "".
func fieldOf(err error) string {
	var fe *validate.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}
