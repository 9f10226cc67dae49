// Package sift holds the rules of the SIFT and INTERVIEW stages
// (DESIGN.md §3): a case per application, opened when the application is
// submitted, decided at the sift, interviewed, and passed or failed; or
// closed when the candidate withdraws.
package sift

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Producer is this service's name in its events.
const Producer = "sifting"

// State is where a case stands.
type State string

// States. AwaitingSift and AwaitingInterview are open; the rest are final.
const (
	AwaitingSift      State = "AWAITING_SIFT"
	SiftFailed        State = "SIFT_FAILED"
	AwaitingInterview State = "AWAITING_INTERVIEW"
	InterviewPassed   State = "INTERVIEW_PASSED"
	InterviewFailed   State = "INTERVIEW_FAILED"
	Withdrawn         State = "WITHDRAWN"
)

// Open reports whether the case still awaits a decision.
func (s State) Open() bool { return s == AwaitingSift || s == AwaitingInterview }

// Outcome of a sift or an interview.
type Outcome string

// Outcomes.
const (
	Pass Outcome = "PASS"
	Fail Outcome = "FAIL"
)

// MaxScore bounds a sift score.
const MaxScore = 100

// Case is one application's sift and interview.
type Case struct {
	ApplicationID  string
	CampaignID     string
	Region         string
	Role           commonv1.JobRole
	State          State
	SubmittedAt    time.Time
	StateEnteredAt time.Time
	InterviewAt    *time.Time
	Score          *int
	ReasonCode     string
	Version        int64
	History        []history.Entry
}

// Errors the transport maps to status codes.
var (
	// ErrUnknownCase: no case for the application. The application.submitted
	// event may still be on its way, so this is a precondition, not a
	// missing resource.
	ErrUnknownCase = errors.New("no sift case for this application yet: it may have been submitted moments ago (its event is still on the way); retry shortly")
	ErrStale       = errors.New("stale version")
)

// StateError is a change the state machine does not allow from State.
type StateError struct {
	State  State
	Action string
}

func (e *StateError) Error() string {
	if e.State == Withdrawn {
		return fmt.Sprintf("cannot %s: the application was withdrawn", e.Action)
	}
	return fmt.Sprintf("cannot %s: case is %s", e.Action, e.State)
}

// Change is who makes a change, when, and the version they last read.
type Change struct {
	Actor           *commonv1.Actor
	At              time.Time
	ExpectedVersion int64
}

// Decision is a sift or interview decision.
type Decision struct {
	Outcome    Outcome
	Score      *int
	ReasonCode string
}

func (d Decision) validate(scored bool) error {
	switch d.Outcome {
	case Pass:
		if d.ReasonCode != "" {
			if err := validate.ReasonCode("reason_code", d.ReasonCode); err != nil {
				return err
			}
		}
	case Fail:
		if err := validate.ReasonCode("reason_code", d.ReasonCode); err != nil {
			return validate.Field("reason_code", "is required when the outcome is FAIL, as a lower-case code (e.g. insufficient_evidence)")
		}
	default:
		return validate.Field("outcome", "must be PASS or FAIL")
	}
	if d.Score != nil && (!scored || *d.Score < 0 || *d.Score > MaxScore) {
		return validate.Field("score", fmt.Sprintf("must be between 0 and %d", MaxScore))
	}
	return nil
}

// begin checks what every change needs: the version the caller read, and
// that the case is in state want.
func (c *Case) begin(ch Change, want State, action string) error {
	if err := validate.ExpectedVersion(ch.ExpectedVersion); err != nil {
		return err
	}
	if ch.ExpectedVersion != c.Version {
		return fmt.Errorf("%w: expected version %d, case is at version %d", ErrStale, ch.ExpectedVersion, c.Version)
	}
	if c.State != want {
		return &StateError{State: c.State, Action: action}
	}
	return nil
}

// move enters state, records the change and returns its event, whose
// payload the caller sets.
func (c *Case) move(ch Change, state State, name, reason string, at time.Time) *eventsv1.Event {
	c.State, c.StateEnteredAt, c.ReasonCode = state, at, reason
	c.Version++
	c.History = append(c.History, history.Entry{Event: name, Actor: ch.Actor, OccurredAt: at, Version: c.Version, ReasonCode: reason})
	return event.New(Producer, ch.Actor, at, event.Record{
		ApplicationID: c.ApplicationID, CampaignID: c.CampaignID, Region: c.Region, Role: c.Role, Version: c.Version,
	})
}

// DecideSift passes or fails the application at the sift.
func (c *Case) DecideSift(ch Change, d Decision) (*eventsv1.Event, error) {
	if err := d.validate(true); err != nil {
		return nil, err
	}
	if err := c.begin(ch, AwaitingSift, "record a sift decision"); err != nil {
		return nil, err
	}
	c.Score = d.Score
	if d.Outcome == Pass {
		ev := c.move(ch, AwaitingInterview, "sift.passed", d.ReasonCode, ch.At)
		ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}
		return ev, nil
	}
	ev := c.move(ch, SiftFailed, "sift.failed", d.ReasonCode, ch.At)
	ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: d.ReasonCode}}
	return ev, nil
}

// ScheduleInterview books the interview, or moves it. The time must be
// after the change is made.
func (c *Case) ScheduleInterview(ch Change, at time.Time) (*eventsv1.Event, error) {
	if at.IsZero() {
		return nil, validate.Field("scheduled_for", "is required")
	}
	if !at.After(ch.At) {
		return nil, validate.Field("scheduled_for", "must be in the future")
	}
	if err := c.begin(ch, AwaitingInterview, "schedule an interview"); err != nil {
		return nil, err
	}
	rescheduled := c.InterviewAt != nil
	at = at.UTC()
	c.InterviewAt = &at
	// Booking keeps the case in its state: the clock of time in stage runs on.
	c.Version++
	c.History = append(c.History, history.Entry{Event: "interview.scheduled", Actor: ch.Actor, OccurredAt: ch.At, Version: c.Version})
	ev := event.New(Producer, ch.Actor, ch.At, event.Record{
		ApplicationID: c.ApplicationID, CampaignID: c.CampaignID, Region: c.Region, Role: c.Role, Version: c.Version,
	})
	ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{
		ScheduledFor: timestamppb.New(at), Rescheduled: rescheduled,
	}}
	return ev, nil
}

// RecordInterviewOutcome passes or fails the candidate at interview. An
// interview must have been booked.
func (c *Case) RecordInterviewOutcome(ch Change, d Decision) (*eventsv1.Event, error) {
	if err := d.validate(false); err != nil {
		return nil, err
	}
	if err := c.begin(ch, AwaitingInterview, "record an interview outcome"); err != nil {
		return nil, err
	}
	if c.InterviewAt == nil {
		return nil, &StateError{State: c.State, Action: "record an interview outcome before an interview is scheduled"}
	}
	if d.Outcome == Pass {
		ev := c.move(ch, InterviewPassed, "interview.passed", d.ReasonCode, ch.At)
		ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
		return ev, nil
	}
	ev := c.move(ch, InterviewFailed, "interview.failed", d.ReasonCode, ch.At)
	ev.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: d.ReasonCode}}
	return ev, nil
}

// Withdraw closes an open case when the candidate withdraws; a decided case
// keeps its decision. It reports whether anything changed.
func (c *Case) Withdraw(actor *commonv1.Actor, at time.Time, reason string) bool {
	if !c.State.Open() {
		return false
	}
	c.State, c.StateEnteredAt, c.ReasonCode = Withdrawn, at, reason
	c.Version++
	c.History = append(c.History, history.Entry{Event: "application.withdrawn", Actor: actor, OccurredAt: at, Version: c.Version, ReasonCode: reason})
	return true
}

// OpenCase is the case an application.submitted event opens.
func OpenCase(ev *eventsv1.Event) *Case {
	at := ev.GetOccurredAt().AsTime()
	return &Case{
		ApplicationID: ev.GetApplicationId(), CampaignID: ev.GetCampaignId(), Region: ev.GetRegion(), Role: ev.GetRole(),
		State: AwaitingSift, SubmittedAt: at, StateEnteredAt: at, Version: 1,
		History: []history.Entry{{Event: "application.submitted", Actor: ev.GetActor(), OccurredAt: at, Version: 1}},
	}
}

// DaysWaiting is the whole days since the case entered its state.
func (c *Case) DaysWaiting(now time.Time) int {
	if now.Before(c.StateEnteredAt) {
		return 0
	}
	return int(now.Sub(c.StateEnteredAt) / (24 * time.Hour))
}
