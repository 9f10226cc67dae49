// Package vetting holds the rules of the security vetting case
// (DESIGN.md §3): opened when an offer is accepted, at a level set by the
// role; forms received; blocked with a reason and unblocked; cleared or
// failed. A failed case makes the offers service withdraw the offer.
package vetting

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/history"
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

// MaxNoteLen bounds a block note.
const MaxNoteLen = 1000

// Case is one application's vetting.
type Case struct {
	ApplicationID   string
	CampaignID      string
	Region          string
	Role            commonv1.JobRole
	Level           commonv1.VettingLevel
	Status          Status
	OpenedAt        time.Time
	StatusEnteredAt time.Time
	BlockReason     commonv1.BlockReason
	// BlockNote is free text kept in this service only; never in an event.
	BlockNote    string
	BlockedSince *time.Time
	// ResumeStatus is where an unblocked case returns to.
	ResumeStatus Status
	ReasonCode   string
	Version      int64
	History      []history.Entry
}

// Errors the transport maps to status codes.
var (
	// ErrUnknown: no case; offer.accepted may still be on its way.
	ErrUnknown = errors.New("no vetting case for this application yet: one opens when the offer is accepted (moments after); retry shortly")
	ErrStale   = errors.New("stale version")
)

// StatusError is a change the rules do not allow from Status.
type StatusError struct {
	Status Status
	Action string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("cannot %s: case is %s", e.Action, e.Status)
}

// Change is who makes a change, when, and the version they last read.
type Change struct {
	Actor           *commonv1.Actor
	At              time.Time
	ExpectedVersion int64
}

func (c *Case) begin(ch Change, action string, allowed ...Status) error {
	if err := validate.ExpectedVersion(ch.ExpectedVersion); err != nil {
		return err
	}
	if ch.ExpectedVersion != c.Version {
		return fmt.Errorf("%w: expected version %d, case is at version %d", ErrStale, ch.ExpectedVersion, c.Version)
	}
	if !slices.Contains(allowed, c.Status) {
		return &StatusError{Status: c.Status, Action: action}
	}
	return nil
}

func (c *Case) record(actor *commonv1.Actor, at time.Time, status Status, name, reason string) *eventsv1.Event {
	if status != c.Status {
		c.Status, c.StatusEnteredAt = status, at
	}
	c.Version++
	c.History = append(c.History, history.Entry{Event: name, Actor: actor, OccurredAt: at, Version: c.Version, ReasonCode: reason})
	return event.New(Producer, actor, at, event.Record{
		ApplicationID: c.ApplicationID, CampaignID: c.CampaignID, Region: c.Region, Role: c.Role, Version: c.Version,
	})
}

// RecordFormsReceived notes the candidate's forms arrived.
func (c *Case) RecordFormsReceived(ch Change) (*eventsv1.Event, error) {
	if err := c.begin(ch, "record forms received", Open); err != nil {
		return nil, err
	}
	ev := c.record(ch.Actor, ch.At, FormsReceived, "vetting.forms_received", "")
	ev.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	return ev, nil
}

// Block marks the case blocked with a reason and an optional note.
func (c *Case) Block(ch Change, reason commonv1.BlockReason, note string) (*eventsv1.Event, error) {
	if _, known := commonv1.BlockReason_name[int32(reason)]; !known || reason == commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED {
		return nil, validate.Field("reason", "must be a block reason such as BLOCK_REASON_MISSING_DOCUMENTS")
	}
	if note != "" {
		if err := validate.Text("note", note, MaxNoteLen); err != nil {
			return nil, err
		}
	}
	if err := c.begin(ch, "block", Open, FormsReceived); err != nil {
		return nil, err
	}
	c.ResumeStatus = c.Status
	c.BlockReason, c.BlockNote, c.BlockedSince = reason, note, &ch.At
	ev := c.record(ch.Actor, ch.At, Blocked, "vetting.blocked", reasonCode(reason))
	ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: reason}}
	return ev, nil
}

// Unblock clears the block; the case returns to where it was.
func (c *Case) Unblock(ch Change) (*eventsv1.Event, error) {
	if err := c.begin(ch, "unblock", Blocked); err != nil {
		return nil, err
	}
	resume := c.ResumeStatus
	if resume == "" {
		resume = Open
	}
	c.clearBlock()
	ev := c.record(ch.Actor, ch.At, resume, "vetting.unblocked", "")
	ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
	return ev, nil
}

func (c *Case) clearBlock() {
	c.BlockReason, c.BlockNote, c.BlockedSince, c.ResumeStatus = commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED, "", nil, ""
}

// Clear records that vetting passed; the forms must be in and no block
// outstanding.
func (c *Case) Clear(ch Change) (*eventsv1.Event, error) {
	if err := c.begin(ch, "clear", FormsReceived); err != nil {
		return nil, err
	}
	ev := c.record(ch.Actor, ch.At, Cleared, "vetting.cleared", "")
	ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	return ev, nil
}

// Fail records that vetting failed.
func (c *Case) Fail(ch Change, reason string) (*eventsv1.Event, error) {
	if err := validate.ReasonCode("reason_code", reason); err != nil {
		return nil, err
	}
	if err := c.begin(ch, "fail", Open, FormsReceived, Blocked); err != nil {
		return nil, err
	}
	c.clearBlock()
	c.ReasonCode = reason
	ev := c.record(ch.Actor, ch.At, Failed, "vetting.failed", reason)
	ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: reason}}
	return ev, nil
}

// Close ends a case in progress because the application or the offer
// ended (their owners published that; no event of ours). It reports
// whether anything changed.
func (c *Case) Close(actor *commonv1.Actor, at time.Time, name, reason string) bool {
	if !c.Status.InProgress() {
		return false
	}
	c.clearBlock()
	c.ReasonCode = reason
	c.record(actor, at, Closed, name, reason)
	return true
}

// DaysBlocked is the whole days the case has been blocked at now.
func (c *Case) DaysBlocked(now time.Time) int {
	if c.BlockedSince == nil || now.Before(*c.BlockedSince) {
		return 0
	}
	return int(now.Sub(*c.BlockedSince) / (24 * time.Hour))
}

func reasonCode(r commonv1.BlockReason) string {
	return strings.ToLower(r.String()[len("BLOCK_REASON_"):])
}
