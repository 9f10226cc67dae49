package sift

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/eventtest"
	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/record"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var (
	// t0 is when every test case was submitted.
	t0        = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	submitter = &commonv1.Actor{Subject: "spoc-submitter", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
	spoc      = &commonv1.Actor{Subject: "spoc-london", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
	system    = &commonv1.Actor{Subject: "system:applications", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM}
)

func intp(n int) *int { return &n }

// submittedEvent is the application.submitted that opens a case.
func submittedEvent(at time.Time) *eventsv1.Event {
	ev := event.New("applications", submitter, at, event.Record{
		ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london",
		Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Version: 1,
	})
	ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	return ev
}

// start names a state a case can be in; AwaitingInterview comes twice,
// with and without a booked interview.
type start struct {
	name      string
	state     State
	scheduled bool
}

var starts = []start{
	{"awaiting sift", AwaitingSift, false},
	{"sift failed", SiftFailed, false},
	{"awaiting interview, none booked", AwaitingInterview, false},
	{"awaiting interview, booked", AwaitingInterview, true},
	{"interview passed", InterviewPassed, true},
	{"interview failed", InterviewFailed, true},
	{"withdrawn", Withdrawn, false},
}

// caseIn builds a case in s at version 3, with a history of three entries
// (the version it claims).
func caseIn(s start) *Case {
	c := OpenCase(submittedEvent(t0))
	c.State = s.state
	c.StateEnteredAt = t0.Add(time.Hour)
	c.Version = 3
	c.History = append(c.History,
		history.Entry{Event: "x.two", Actor: spoc, OccurredAt: t0.Add(time.Minute), Version: 2},
		history.Entry{Event: "x.three", Actor: spoc, OccurredAt: t0.Add(time.Hour), Version: 3})
	if s.scheduled {
		at := t0.Add(72 * time.Hour)
		c.InterviewAt = &at
	}
	return c
}

// clone copies c deeply enough to tell whether a method changed it.
func clone(c *Case) Case {
	cp := *c
	cp.History = slices.Clone(c.History)
	if c.InterviewAt != nil {
		at := *c.InterviewAt
		cp.InterviewAt = &at
	}
	if c.Score != nil {
		cp.Score = intp(*c.Score)
	}
	return cp
}

// command is one thing a caller can ask of a case.
type command struct {
	name string
	run  func(c *Case, ch record.Change) (*eventsv1.Event, error)
}

// interviewAt is the time every schedule command books: after the change.
var interviewAt = t0.Add(10 * 24 * time.Hour)

var commands = []command{
	{"sift pass", func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.DecideSift(ch, Decision{Outcome: Pass, Score: intp(72)})
	}},
	{"sift fail", func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.DecideSift(ch, Decision{Outcome: Fail, Score: intp(20), ReasonCode: "insufficient_evidence"})
	}},
	{"schedule", func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.ScheduleInterview(ch, interviewAt)
	}},
	{"interview pass", func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.RecordInterviewOutcome(ch, Decision{Outcome: Pass})
	}},
	{"interview fail", func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.RecordInterviewOutcome(ch, Decision{Outcome: Fail, ReasonCode: "below_interview_standard"})
	}},
}

// move is an allowed change: the state it enters and the event it emits.
type move struct {
	state State
	event string
}

// allowed lists every allowed (start, command) pair; every other pair must
// be refused with a TransitionError.
var allowed = map[string]map[string]move{
	"awaiting sift": {
		"sift pass": {AwaitingInterview, "sift.passed"},
		"sift fail": {SiftFailed, "sift.failed"},
	},
	"awaiting interview, none booked": {
		"schedule": {AwaitingInterview, "interview.scheduled"},
	},
	"awaiting interview, booked": {
		"schedule":       {AwaitingInterview, "interview.scheduled"},
		"interview pass": {InterviewPassed, "interview.passed"},
		"interview fail": {InterviewFailed, "interview.failed"},
	},
}

func TestStateMachine(t *testing.T) {
	t.Parallel()
	at := t0.Add(5 * 24 * time.Hour)
	for _, s := range starts {
		for _, cmd := range commands {
			t.Run(s.name+"/"+cmd.name, func(t *testing.T) {
				t.Parallel()
				c := caseIn(s)
				before := clone(c)
				ev, err := cmd.run(c, record.Change{Actor: spoc, At: at, ExpectedVersion: 3})
				want, ok := allowed[s.name][cmd.name]
				if !ok {
					wantRefused(t, c, before, ev, err)
					return
				}
				if err != nil {
					t.Fatalf("%s from %s: %v, want a move to %s", cmd.name, s.name, err, want.state)
				}
				if c.State != want.state {
					t.Errorf("state = %s, want %s", c.State, want.state)
				}
				if c.Version != before.Version+1 {
					t.Errorf("version = %d, want %d", c.Version, before.Version+1)
				}
				wantEvent(t, c, ev, want.event, at)
				wantPayload(t, ev, cmd.name, before.InterviewAt != nil)
				if len(c.History) != len(before.History)+1 {
					t.Fatalf("history has %d entries, want %d", len(c.History), len(before.History)+1)
				}
				last := c.History[len(c.History)-1]
				if last.Event != want.event || last.Version != c.Version || !proto.Equal(last.Actor, spoc) || !last.OccurredAt.Equal(at) {
					t.Errorf("last history entry = %+v, want %s at version %d by %v at %s", last, want.event, c.Version, spoc, at)
				}
				if cmd.name == "schedule" {
					if !c.StateEnteredAt.Equal(before.StateEnteredAt) {
						t.Errorf("booking moved state_entered_at to %s; the time in stage must run on", c.StateEnteredAt)
					}
					if c.InterviewAt == nil || !c.InterviewAt.Equal(interviewAt) {
						t.Errorf("interview at = %v, want %s", c.InterviewAt, interviewAt)
					}
				} else if !c.StateEnteredAt.Equal(at) {
					t.Errorf("state_entered_at = %s, want %s", c.StateEnteredAt, at)
				}
				switch cmd.name {
				case "sift pass":
					if c.Score == nil || *c.Score != 72 {
						t.Errorf("score = %v, want 72", c.Score)
					}
				case "sift fail", "interview fail":
					if c.ReasonCode == "" || last.ReasonCode != c.ReasonCode {
						t.Errorf("reason code on case %q, in history %q; want both set", c.ReasonCode, last.ReasonCode)
					}
				}
			})
		}
	}
}

// wantRefused checks a refused change: a TransitionError naming the current
// state, no event, and the case untouched.
func wantRefused(t *testing.T, c *Case, before Case, ev *eventsv1.Event, err error) {
	t.Helper()
	var se *record.TransitionError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *record.TransitionError", err, err)
	}
	if se.State != string(before.State) {
		t.Errorf("TransitionError.State = %s, want %s", se.State, before.State)
	}
	wantText := "case is " + string(before.State)
	if before.State == Withdrawn {
		wantText = "the application was withdrawn"
	}
	if !strings.Contains(err.Error(), wantText) {
		t.Errorf("error %q does not say %q", err, wantText)
	}
	if ev != nil {
		t.Errorf("refused change returned event %v", ev)
	}
	if !reflect.DeepEqual(*c, before) {
		t.Errorf("refused change altered the case:\n got %+v\nwant %+v", *c, before)
	}
}

// wantEvent checks the envelope of an allowed change's event.
func wantEvent(t *testing.T, c *Case, ev *eventsv1.Event, name string, at time.Time) {
	t.Helper()
	if ev == nil {
		t.Fatal("allowed change returned no event")
	}
	if got, err := event.Name(ev); err != nil || got != name {
		t.Errorf("event name = %q (%v), want %q", got, err, name)
	}
	if _, err := uuid.Parse(ev.GetEventId()); err != nil {
		t.Errorf("event id %q is not a UUID", ev.GetEventId())
	}
	if ev.GetProducer() != Producer || ev.GetApplicationId() != c.ApplicationID || ev.GetCampaignId() != c.CampaignID ||
		ev.GetRegion() != c.Region || ev.GetRole() != c.Role {
		t.Errorf("envelope = %v, want the case's record and producer %q", ev, Producer)
	}
	if ev.GetAggregateVersion() != c.Version {
		t.Errorf("aggregate_version = %d, want %d", ev.GetAggregateVersion(), c.Version)
	}
	if !proto.Equal(ev.GetActor(), spoc) {
		t.Errorf("actor = %v, want %v", ev.GetActor(), spoc)
	}
	if !ev.GetOccurredAt().AsTime().Equal(at) {
		t.Errorf("occurred_at = %s, want %s", ev.GetOccurredAt().AsTime(), at)
	}
	if _, err := event.Marshal(ev); err != nil {
		t.Errorf("event cannot go to the outbox: %v", err)
	}
}

// wantPayload checks the payload of the event cmd emits.
func wantPayload(t *testing.T, ev *eventsv1.Event, cmd string, wasBooked bool) {
	t.Helper()
	var want proto.Message
	switch cmd {
	case "sift pass":
		if ev.GetSiftPassed() == nil {
			t.Fatalf("payload = %T, want SiftPassed", ev.GetPayload())
		}
	case "sift fail":
		want = &eventsv1.SiftFailed{ReasonCode: "insufficient_evidence"}
		if got := ev.GetSiftFailed(); !proto.Equal(got, want) {
			t.Errorf("payload = %v, want %v", got, want)
		}
	case "schedule":
		want = &eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(interviewAt), Rescheduled: wasBooked}
		if got := ev.GetInterviewScheduled(); !proto.Equal(got, want) {
			t.Errorf("payload = %v, want %v", got, want)
		}
	case "interview pass":
		if ev.GetInterviewPassed() == nil {
			t.Fatalf("payload = %T, want InterviewPassed", ev.GetPayload())
		}
	case "interview fail":
		want = &eventsv1.InterviewFailed{ReasonCode: "below_interview_standard"}
		if got := ev.GetInterviewFailed(); !proto.Equal(got, want) {
			t.Errorf("payload = %v, want %v", got, want)
		}
	}
}

func TestWithdraw(t *testing.T) {
	t.Parallel()
	at := t0.Add(6 * 24 * time.Hour)
	for _, s := range starts {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			c := caseIn(s)
			before := clone(c)
			changed := c.Withdraw(system, at, "candidate_request")
			open := s.state == AwaitingSift || s.state == AwaitingInterview
			if changed != open {
				t.Fatalf("Withdraw from %s reported changed=%v, want %v", s.state, changed, open)
			}
			if !open {
				if !reflect.DeepEqual(*c, before) {
					t.Errorf("withdrawal altered a closed case:\n got %+v\nwant %+v", *c, before)
				}
				return
			}
			if c.State != Withdrawn || c.Version != before.Version+1 || !c.StateEnteredAt.Equal(at) || c.ReasonCode != "candidate_request" {
				t.Errorf("after withdrawal: state %s version %d entered %s reason %q; want WITHDRAWN %d %s candidate_request",
					c.State, c.Version, c.StateEnteredAt, c.ReasonCode, before.Version+1, at)
			}
			want := history.Entry{Event: "application.withdrawn", Actor: system, OccurredAt: at, Version: before.Version + 1, ReasonCode: "candidate_request"}
			if got := c.History[len(c.History)-1]; len(c.History) != len(before.History)+1 || !reflect.DeepEqual(got, want) {
				t.Errorf("history ends %+v (%d entries), want %+v (%d entries)", got, len(c.History), want, len(before.History)+1)
			}
			if c.State.Open() {
				t.Error("a withdrawn case reports itself open")
			}
		})
	}
}

// TestStaleVersion: a stale version is refused as stale in every state,
// including those where the change is not allowed at all: the version is
// checked before the state.
func TestStaleVersion(t *testing.T) {
	t.Parallel()
	for _, s := range starts {
		for _, cmd := range commands {
			for _, v := range []int64{1, 2, 4, 99} {
				t.Run(fmt.Sprintf("%s/%s/expected %d", s.name, cmd.name, v), func(t *testing.T) {
					t.Parallel()
					c := caseIn(s)
					before := clone(c)
					ev, err := cmd.run(c, record.Change{Actor: spoc, At: t0.Add(5 * 24 * time.Hour), ExpectedVersion: v})
					if !errors.Is(err, record.ErrStale) {
						t.Fatalf("expected version %d on a version 3 case: err = %v, want record.ErrStale", v, err)
					}
					var se *record.TransitionError
					if errors.As(err, &se) {
						t.Errorf("stale version reported as a state error: %v", err)
					}
					if ev != nil || !reflect.DeepEqual(*c, before) {
						t.Errorf("stale change had an effect: event %v, case %+v", ev, *c)
					}
				})
			}
		}
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	at := t0.Add(5 * 24 * time.Hour)
	awaitingSift := start{"awaiting sift", AwaitingSift, false}
	booked := start{"booked", AwaitingInterview, true}
	notBooked := start{"not booked", AwaitingInterview, false}
	tests := []struct {
		name  string
		from  start
		v     int64
		run   func(c *Case, ch record.Change) (*eventsv1.Event, error)
		field string // "" means the change is valid
	}{
		{"sift outcome unspecified", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{})
		}, "outcome"},
		{"sift outcome unknown", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: "MAYBE"})
		}, "outcome"},
		{"sift FAIL without reason", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Fail})
		}, "reason_code"},
		{"sift FAIL with free text reason", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Fail, ReasonCode: "Not good enough"})
		}, "reason_code"},
		{"sift PASS with malformed reason", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Pass, ReasonCode: "X"})
		}, "reason_code"},
		{"sift score -1", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Pass, Score: intp(-1)})
		}, "score"},
		{"sift score 101", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Pass, Score: intp(101)})
		}, "score"},
		{"sift score 0 is fine", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Fail, Score: intp(0), ReasonCode: "insufficient_evidence"})
		}, ""},
		{"sift score 100 is fine", awaitingSift, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Pass, Score: intp(100)})
		}, ""},
		{"sift expected_version 0", awaitingSift, 0, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Pass})
		}, "expected_version"},
		{"sift expected_version -1", awaitingSift, -1, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.DecideSift(ch, Decision{Outcome: Pass})
		}, "expected_version"},
		{"interview in the past", notBooked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.ScheduleInterview(ch, ch.At.Add(-time.Hour))
		}, "scheduled_for"},
		{"interview now", notBooked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.ScheduleInterview(ch, ch.At)
		}, "scheduled_for"},
		{"interview time missing", notBooked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.ScheduleInterview(ch, time.Time{})
		}, "scheduled_for"},
		{"reschedule into the past", booked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.ScheduleInterview(ch, ch.At.Add(-time.Nanosecond))
		}, "scheduled_for"},
		{"interview a nanosecond ahead is fine", notBooked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.ScheduleInterview(ch, ch.At.Add(time.Nanosecond))
		}, ""},
		{"schedule expected_version 0", notBooked, 0, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.ScheduleInterview(ch, ch.At.Add(time.Hour))
		}, "expected_version"},
		{"interview outcome unspecified", booked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.RecordInterviewOutcome(ch, Decision{})
		}, "outcome"},
		{"interview FAIL without reason", booked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.RecordInterviewOutcome(ch, Decision{Outcome: Fail})
		}, "reason_code"},
		{"interview outcome with a score", booked, 3, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.RecordInterviewOutcome(ch, Decision{Outcome: Pass, Score: intp(50)})
		}, "score"},
		{"interview expected_version 0", booked, 0, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.RecordInterviewOutcome(ch, Decision{Outcome: Pass})
		}, "expected_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := caseIn(tt.from)
			before := clone(c)
			ev, err := tt.run(c, record.Change{Actor: spoc, At: at, ExpectedVersion: tt.v})
			if tt.field == "" {
				if err != nil || ev == nil {
					t.Fatalf("valid change refused: %v", err)
				}
				return
			}
			var fe *validate.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a FieldError on %s", err, err, tt.field)
			}
			if fe.Field != tt.field {
				t.Errorf("FieldError names %q (%s), want %q", fe.Field, fe.Rule, tt.field)
			}
			if ev != nil || !reflect.DeepEqual(*c, before) {
				t.Errorf("invalid change had an effect: event %v, case %+v", ev, *c)
			}
		})
	}
}

func TestInterviewOutcomeBeforeBooking(t *testing.T) {
	t.Parallel()
	for _, o := range []Decision{{Outcome: Pass}, {Outcome: Fail, ReasonCode: "below_interview_standard"}} {
		t.Run(string(o.Outcome), func(t *testing.T) {
			t.Parallel()
			c := caseIn(start{"not booked", AwaitingInterview, false})
			before := clone(c)
			ev, err := c.RecordInterviewOutcome(record.Change{Actor: spoc, At: t0.Add(48 * time.Hour), ExpectedVersion: 3}, o)
			var se *record.TransitionError
			if !errors.As(err, &se) || se.State != string(AwaitingInterview) {
				t.Fatalf("err = %v, want a TransitionError in AWAITING_INTERVIEW", err)
			}
			if !strings.Contains(err.Error(), "before an interview is scheduled") {
				t.Errorf("error %q does not say no interview is booked", err)
			}
			if ev != nil || !reflect.DeepEqual(*c, before) {
				t.Errorf("refused outcome had an effect: event %v, case %+v", ev, *c)
			}
		})
	}
}

func TestRescheduleMarksEvent(t *testing.T) {
	t.Parallel()
	c := caseIn(start{"not booked", AwaitingInterview, false})
	first, second := t0.Add(10*24*time.Hour), t0.Add(12*24*time.Hour)
	ev1, err := c.ScheduleInterview(record.Change{Actor: spoc, At: t0.Add(24 * time.Hour), ExpectedVersion: 3}, first)
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := c.ScheduleInterview(record.Change{Actor: spoc, At: t0.Add(48 * time.Hour), ExpectedVersion: 4}, second.In(time.FixedZone("CEST", 2*3600)))
	if err != nil {
		t.Fatal(err)
	}
	if ev1.GetInterviewScheduled().GetRescheduled() {
		t.Error("first booking is marked rescheduled")
	}
	if !ev2.GetInterviewScheduled().GetRescheduled() {
		t.Error("second booking is not marked rescheduled")
	}
	if got := ev2.GetInterviewScheduled().GetScheduledFor().AsTime(); !got.Equal(second) {
		t.Errorf("rescheduled for %s, want %s", got, second)
	}
	if c.InterviewAt == nil || !c.InterviewAt.Equal(second) || c.InterviewAt.Location() != time.UTC {
		t.Errorf("case interview at %v, want %s in UTC", c.InterviewAt, second)
	}
	if c.Version != 5 || ev2.GetAggregateVersion() != 5 {
		t.Errorf("version after two bookings = %d (event %d), want 5", c.Version, ev2.GetAggregateVersion())
	}
}

func TestOpenCase(t *testing.T) {
	t.Parallel()
	ev := submittedEvent(t0)
	c := OpenCase(ev)
	if c.ApplicationID != ev.GetApplicationId() || c.CampaignID != ev.GetCampaignId() || c.Region != "london" ||
		c.Role != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER {
		t.Errorf("case record %+v does not match the event %v", c, ev)
	}
	if c.State != AwaitingSift || c.Version != 1 || !c.SubmittedAt.Equal(t0) || !c.StateEnteredAt.Equal(t0) {
		t.Errorf("new case is %s at version %d, submitted %s, entered %s; want AWAITING_SIFT, 1, %s", c.State, c.Version, c.SubmittedAt, c.StateEnteredAt, t0)
	}
	want := []history.Entry{{Event: "application.submitted", Actor: submitter, OccurredAt: t0, Version: 1}}
	if !reflect.DeepEqual(c.History, want) {
		t.Errorf("history = %+v, want %+v", c.History, want)
	}
}

func TestDaysWaiting(t *testing.T) {
	t.Parallel()
	c := &Case{Header: record.Header[State]{StateEnteredAt: t0}}
	for _, tt := range []struct {
		now  time.Time
		want int
	}{
		{t0.Add(-time.Hour), 0},
		{t0, 0},
		{t0.Add(24*time.Hour - time.Nanosecond), 0},
		{t0.Add(24 * time.Hour), 1},
		{t0.Add(3*24*time.Hour + 23*time.Hour), 3},
	} {
		if got := c.DaysWaiting(tt.now); got != tt.want {
			t.Errorf("DaysWaiting(%s) = %d, want %d", tt.now.Sub(t0), got, tt.want)
		}
	}
}

// TestConsumes: Consumes names exactly the events HandleEvent acts on.
func TestConsumes(t *testing.T) {
	t.Parallel()
	eventtest.WantConsumes(t, Consumes, NewService(nil, time.Now, nil).HandleEvent)
}
