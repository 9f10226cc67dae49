// Package sift holds the rules of the SIFT and INTERVIEW stages
// (docs/design.md §3): a case per application, opened when the application is
// submitted, decided at the sift, interviewed, and passed or failed; or
// closed when the candidate withdraws.
package sift

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/record"
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

// Describe says the state in a sentence, for the error that refuses a change.
func (s State) Describe() string {
	if s == Withdrawn {
		return "the application was withdrawn"
	}
	return "case is " + string(s)
}

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
	record.Header[State]
	SubmittedAt time.Time
	InterviewAt *time.Time
	Score       *int
	ReasonCode  string
	// Assignee is the case's named owner, a staff subject id; empty when
	// the region's SPOCs own it as a role.
	Assignee string
}

// ErrUnknownCase: no case for the application. The application.submitted
// event may still be on its way, so this is a precondition, not a missing
// resource.
var ErrUnknownCase = record.NotYet("no sift case for this application yet: it may have been submitted moments ago (its event is still on the way); retry shortly")

// Decision is a sift or interview decision.
type Decision struct {
	Outcome    Outcome
	Score      *int
	ReasonCode string
}

// validate checks the decision; a fail's reason must be on fails (the
// fixed list of pkg/reason), a pass's (optional) is any lower-case code.
func (d Decision) validate(scored bool, fails *reason.List) error {
	switch d.Outcome {
	case Pass:
		if d.ReasonCode != "" {
			if err := validate.ReasonCode("reason_code", d.ReasonCode); err != nil {
				return err
			}
		}
	case Fail:
		if err := fails.Check("reason_code", d.ReasonCode); err != nil {
			return err
		}
	default:
		return validate.Field("outcome", "must be PASS or FAIL")
	}
	if d.Score != nil && (!scored || *d.Score < 0 || *d.Score > MaxScore) {
		return validate.Field("score", fmt.Sprintf("must be between 0 and %d", MaxScore))
	}
	return nil
}

// move enters state, keeping the decision's reason, and returns the
// change's event, whose payload the caller sets.
func (c *Case) move(ch record.Change, state State, name, reason string) *eventsv1.Event {
	c.ReasonCode = reason
	return c.Move(Producer, ch, state, name, reason)
}

// DecideSift passes or fails the application at the sift.
func (c *Case) DecideSift(ch record.Change, d Decision) (*eventsv1.Event, error) {
	if err := d.validate(true, reason.SiftFail); err != nil {
		return nil, err
	}
	if err := c.Begin(ch, "record a sift decision", AwaitingSift); err != nil {
		return nil, err
	}
	c.Score = d.Score
	if d.Outcome == Pass {
		ev := c.move(ch, AwaitingInterview, "sift.passed", d.ReasonCode)
		ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}
		return ev, nil
	}
	ev := c.move(ch, SiftFailed, "sift.failed", d.ReasonCode)
	ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: d.ReasonCode}}
	return ev, nil
}

// ScheduleInterview books the interview, or moves it. The time must be
// after the change is made.
func (c *Case) ScheduleInterview(ch record.Change, at time.Time) (*eventsv1.Event, error) {
	if at.IsZero() {
		return nil, validate.Field("scheduled_for", "is required")
	}
	if !at.After(ch.At) {
		return nil, validate.Field("scheduled_for", "must be in the future")
	}
	if err := c.Begin(ch, "schedule an interview", AwaitingInterview); err != nil {
		return nil, err
	}
	rescheduled := c.InterviewAt != nil
	at = at.UTC()
	c.InterviewAt = &at
	// Booking keeps the case in its state: the clock of time in stage runs on.
	ev := c.Move(Producer, ch, c.State, "interview.scheduled", "")
	ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{
		ScheduledFor: timestamppb.New(at), Rescheduled: rescheduled,
	}}
	return ev, nil
}

// RecordInterviewOutcome passes or fails the candidate at interview. An
// interview must have been booked, and its time come: an outcome before
// the interview's scheduled time is refused, live as on import.
func (c *Case) RecordInterviewOutcome(ch record.Change, d Decision) (*eventsv1.Event, error) {
	if err := d.validate(false, reason.InterviewFail); err != nil {
		return nil, err
	}
	if err := c.Begin(ch, "record an interview outcome", AwaitingInterview); err != nil {
		return nil, err
	}
	if c.InterviewAt == nil {
		return nil, record.Refused(c.State, "record an interview outcome before an interview is scheduled")
	}
	if ch.At.Before(*c.InterviewAt) {
		return nil, record.Refused(c.State, "record an interview outcome").
			Because("the interview is scheduled for " + c.InterviewAt.UTC().Format(time.RFC3339) +
				": record its outcome once it has taken place (or reschedule it with ScheduleInterview)")
	}
	if d.Outcome == Pass {
		ev := c.move(ch, InterviewPassed, "interview.passed", d.ReasonCode)
		ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
		return ev, nil
	}
	ev := c.move(ch, InterviewFailed, "interview.failed", d.ReasonCode)
	ev.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: d.ReasonCode}}
	return ev, nil
}

// Withdraw closes an open case when the candidate withdraws; a decided case
// keeps its decision. It reports whether anything changed.
func (c *Case) Withdraw(actor *commonv1.Actor, at time.Time, reason string) bool {
	if !c.State.Open() {
		return false
	}
	c.ReasonCode = reason
	c.Note(record.Change{Actor: actor, At: at}, Withdrawn, "application.withdrawn", reason)
	return true
}

// openStates are the states whose case takes an owner.
var openStates = []State{AwaitingSift, AwaitingInterview}

// Assign names the case's owner (see assign.Assign): the case must be
// open, and assigning its current owner again is refused (nothing would
// change).
func (c *Case) Assign(ch record.Change, assignee string) (*eventsv1.Event, error) {
	ev, previous, err := assign.Assign(&c.Header, &c.Assignee, Producer, ch, assignee, "sift.assigned", openStates...)
	if err != nil {
		return nil, err
	}
	ev.Payload = &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: assignee, PreviousAssignee: previous}}
	return ev, nil
}

// Unassign removes the case's named owner; the case must be open and
// assigned.
func (c *Case) Unassign(ch record.Change) (*eventsv1.Event, error) {
	ev, previous, err := assign.Unassign(&c.Header, &c.Assignee, Producer, ch, "sift.unassigned", openStates...)
	if err != nil {
		return nil, err
	}
	ev.Payload = &eventsv1.Event_SiftUnassigned{SiftUnassigned: &eventsv1.CaseUnassigned{PreviousAssignee: previous}}
	return ev, nil
}

// Stage is the pipeline stage an open case is at: SIFT while awaiting the
// sift, INTERVIEW after passing it; unspecified once the case is closed.
func (c *Case) Stage() commonv1.Stage {
	switch c.State {
	case AwaitingSift:
		return commonv1.Stage_STAGE_SIFT
	case AwaitingInterview:
		return commonv1.Stage_STAGE_INTERVIEW
	}
	return commonv1.Stage_STAGE_UNSPECIFIED
}

// StageEnteredAt is when an open case entered its stage: each of its open
// states is a stage of its own, and a change that keeps the state (booking
// an interview, naming an owner) keeps its clock.
func (c *Case) StageEnteredAt() time.Time { return c.StateEnteredAt }

// OpenCase is the case an application.submitted event opens.
func OpenCase(ev *eventsv1.Event) *Case {
	c := &Case{Header: record.Opened(ev, AwaitingSift), SubmittedAt: ev.GetOccurredAt().AsTime()}
	c.Note(record.Change{Actor: ev.GetActor(), At: c.SubmittedAt}, AwaitingSift, "application.submitted", "")
	return c
}

// DaysWaiting is the whole days since the case entered its state.
func (c *Case) DaysWaiting(now time.Time) int { return record.DaysSince(c.StateEnteredAt, now) }
