// Package vetting holds the rules of the security vetting case
// (docs/design.md §3): opened when an offer is accepted, at a level set by the
// role; forms received; blocked with a reason and unblocked; cleared or
// failed. A failed case makes the offers service withdraw the offer.
package vetting

import (
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Producer is this service's name in its events.
const Producer = "vetting"

// Status is where a case stands.
type Status string

// Statuses. Open, FormsReceived and Blocked are in progress.
const (
	Open          Status = "OPEN"
	FormsReceived Status = "FORMS_RECEIVED"
	Blocked       Status = "BLOCKED"
	Cleared       Status = "CLEARED"
	Failed        Status = "FAILED"
	Closed        Status = "CLOSED"
)

// InProgress reports whether the case still awaits an outcome.
func (s Status) InProgress() bool { return s == Open || s == FormsReceived || s == Blocked }

// Describe says the status in a sentence, for the error that refuses a change.
func (s Status) Describe() string { return "case is " + string(s) }

// MaxNoteLen bounds a block note.
const MaxNoteLen = 1000

// Case is one application's vetting.
type Case struct {
	record.Header[Status]
	Level       commonv1.VettingLevel
	OpenedAt    time.Time
	BlockReason commonv1.BlockReason
	// BlockNote is free text kept in this service only; never in an event,
	// and read only by those MayReadNote allows.
	BlockNote    string
	BlockedSince *time.Time
	// ResumeStatus is where an unblocked case returns to.
	ResumeStatus Status
	ReasonCode   string
	// Assignee is the case's named owner, a staff subject id; empty when
	// the region's vetting contact points own it as a role.
	Assignee string
}

// MayReadNote says whether a caller of role may read a block's note: the
// vetting contact points who write it and admins. A note can describe a
// candidate's circumstances or offences (criminal-offence data), and a
// SPOC needs only that the case is blocked and the reason code.
func MayReadNote(role auth.Role) bool {
	return role == auth.RoleVetting || role == auth.RoleAdmin
}

// ErrUnknown: no case; offer.accepted may still be on its way.
var ErrUnknown = record.NotYet("no vetting case for this application yet: one opens when the offer is accepted (moments after); retry shortly")

// RecordFormsReceived notes the candidate's forms arrived.
func (c *Case) RecordFormsReceived(ch record.Change) (*eventsv1.Event, error) {
	if err := c.Begin(ch, "record forms received", Open); err != nil {
		return nil, err
	}
	ev := c.Move(Producer, ch, FormsReceived, "vetting.forms_received", "")
	ev.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	return ev, nil
}

// Block marks the case blocked with a reason and an optional note.
func (c *Case) Block(ch record.Change, reason commonv1.BlockReason, note string) (*eventsv1.Event, error) {
	if _, known := commonv1.BlockReason_name[int32(reason)]; !known || reason == commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED {
		return nil, validate.Field("reason", "must be a block reason such as BLOCK_REASON_MISSING_DOCUMENTS")
	}
	if note != "" {
		if err := validate.Text("note", note, MaxNoteLen); err != nil {
			return nil, err
		}
	}
	if err := c.Begin(ch, "block", Open, FormsReceived); err != nil {
		return nil, err
	}
	c.ResumeStatus = c.State
	c.BlockReason, c.BlockNote, c.BlockedSince = reason, note, &ch.At
	ev := c.Move(Producer, ch, Blocked, "vetting.blocked", reasonCode(reason))
	ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: reason}}
	return ev, nil
}

// Unblock clears the block; the case returns to where it was.
func (c *Case) Unblock(ch record.Change) (*eventsv1.Event, error) {
	if err := c.Begin(ch, "unblock", Blocked); err != nil {
		return nil, err
	}
	resume := c.ResumeStatus
	if resume == "" {
		resume = Open
	}
	c.clearBlock()
	ev := c.Move(Producer, ch, resume, "vetting.unblocked", "")
	ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
	return ev, nil
}

func (c *Case) clearBlock() {
	c.BlockReason, c.BlockNote, c.BlockedSince, c.ResumeStatus = commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED, "", nil, ""
}

// Clear records that vetting passed; the forms must be in and no block
// outstanding.
func (c *Case) Clear(ch record.Change) (*eventsv1.Event, error) {
	if err := c.Begin(ch, "clear", FormsReceived); err != nil {
		return nil, err
	}
	ev := c.Move(Producer, ch, Cleared, "vetting.cleared", "")
	ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	return ev, nil
}

// Fail records that vetting failed.
func (c *Case) Fail(ch record.Change, reason string) (*eventsv1.Event, error) {
	if err := validate.ReasonCode("reason_code", reason); err != nil {
		return nil, err
	}
	if err := c.Begin(ch, "fail", Open, FormsReceived, Blocked); err != nil {
		return nil, err
	}
	c.clearBlock()
	c.ReasonCode = reason
	ev := c.Move(Producer, ch, Failed, "vetting.failed", reason)
	ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: reason}}
	return ev, nil
}

// Close ends a case in progress because the application or the offer
// ended (their owners published that; no event of ours). It reports
// whether anything changed.
func (c *Case) Close(actor *commonv1.Actor, at time.Time, name, reason string) bool {
	if !c.State.InProgress() {
		return false
	}
	c.clearBlock()
	c.ReasonCode = reason
	c.Note(record.Change{Actor: actor, At: at}, Closed, name, reason)
	return true
}

// Erase removes the free text the case holds about the candidate (the
// block note) when the candidate's personal data is erased; the block's
// reason code, state and clocks stay, as reports need them. It reports
// whether anything changed (false for a case with no note, or erased
// before), and records the erasure in the history.
func (c *Case) Erase(actor *commonv1.Actor, at time.Time) bool {
	if c.BlockNote == "" {
		return false
	}
	c.BlockNote = ""
	c.Note(record.Change{Actor: actor, At: at}, c.State, "application.erased", "")
	return true
}

// inProgress are the statuses whose case takes an owner.
var inProgress = []Status{Open, FormsReceived, Blocked}

// Assign names the case's owner (see assign.Assign); the case must be in
// progress, and assigning its current owner again is refused (nothing
// would change).
func (c *Case) Assign(ch record.Change, assignee string) (*eventsv1.Event, error) {
	ev, previous, err := assign.Assign(&c.Header, &c.Assignee, Producer, ch, assignee, "vetting.assigned", inProgress...)
	if err != nil {
		return nil, err
	}
	ev.Payload = &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: assignee, PreviousAssignee: previous}}
	return ev, nil
}

// Unassign removes the case's named owner; the case must be in progress
// and assigned.
func (c *Case) Unassign(ch record.Change) (*eventsv1.Event, error) {
	ev, previous, err := assign.Unassign(&c.Header, &c.Assignee, Producer, ch, "vetting.unassigned", inProgress...)
	if err != nil {
		return nil, err
	}
	ev.Payload = &eventsv1.Event_VettingUnassigned{VettingUnassigned: &eventsv1.VettingUnassigned{PreviousAssignee: previous}}
	return ev, nil
}

// DaysInStatus is the whole days the case has been in its status at now;
// a blocked case counts from the block.
func (c *Case) DaysInStatus(now time.Time) int {
	if c.BlockedSince != nil {
		return c.DaysBlocked(now)
	}
	return record.DaysSince(c.StateEnteredAt, now)
}

// DaysBlocked is the whole days the case has been blocked at now.
func (c *Case) DaysBlocked(now time.Time) int {
	if c.BlockedSince == nil {
		return 0
	}
	return record.DaysSince(*c.BlockedSince, now)
}

func reasonCode(r commonv1.BlockReason) string {
	return strings.ToLower(r.String()[len("BLOCK_REASON_"):])
}
