package projection

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Point in time. A record's milestones say when it entered each stage, so
// the record as it stood at a past time T is mostly the record with the
// milestones after T taken away. The details that change over time — the
// interview booked, the start date, the vetting case's block, the
// assignees — are each the value of the change with the highest version;
// the record keeps only that one, so the projection also keeps every
// change (Change, stored beside the record) and AsOf folds those that had
// occurred by T. The reports at T are then derived from that record by the
// same code as today's, never by reading the event stream.

// ChangeField names a detail of a record that changes over time, each
// ordered by its producer's version of the record.
type ChangeField int

// Fields, as stored (app_changes.field).
const (
	// Interview is sifting's booked interview (interview.scheduled).
	Interview ChangeField = 1
	// Start is offers' start date, whether it is subject to vetting, and
	// the vetting due date (offer.start_date_set, candidate.started).
	Start ChangeField = 2
	// Vetting is the vetting case's state: blocked (with a reason) or not
	// (every vetting event).
	Vetting ChangeField = 3
	// SiftAssignee, OfferAssignee and VettingAssignee are the records'
	// named owners ("" when unassigned).
	SiftAssignee    ChangeField = 4
	OfferAssignee   ChangeField = 5
	VettingAssignee ChangeField = 6
)

// Change is one change of a detail: its producer's version, when it
// occurred, and the values it set (those of its Field).
type Change struct {
	Field   ChangeField
	Version int64
	At      time.Time

	// Interview: when it is booked for.
	InterviewAt *time.Time
	// Start: the start date, subject to vetting, the vetting due date.
	StartDate        *time.Time
	SubjectToVetting bool
	VettingDueBy     *time.Time
	// Vetting: blocked, and why.
	Blocked       bool
	BlockedReason commonv1.BlockReason
	// The assignee fields.
	Assignee string
}

// ChangeOf returns the change ev makes to a detail of its record, if it
// makes one.
func ChangeOf(ev *eventsv1.Event) (Change, bool) {
	c := Change{Version: ev.GetAggregateVersion(), At: ev.GetOccurredAt().AsTime().UTC().Truncate(time.Microsecond)}
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_InterviewScheduled:
		when := p.InterviewScheduled.GetScheduledFor()
		if when == nil {
			return c, false
		}
		t := when.AsTime().UTC()
		c.Field, c.InterviewAt = Interview, &t
	case *eventsv1.Event_OfferStartDateSet:
		s := p.OfferStartDateSet
		c.Field, c.StartDate, c.SubjectToVetting, c.VettingDueBy = Start, date(s.GetStartDate()), s.GetSubjectToVetting(), date(s.GetVettingDueBy())
	case *eventsv1.Event_CandidateStarted:
		s := p.CandidateStarted
		c.Field, c.StartDate, c.SubjectToVetting, c.VettingDueBy = Start, date(s.GetStartDate()), s.GetSubjectToVetting(), date(s.GetVettingDueBy())
	case *eventsv1.Event_VettingBlocked:
		c.Field, c.Blocked, c.BlockedReason = Vetting, true, p.VettingBlocked.GetReason()
	case *eventsv1.Event_VettingCleared, *eventsv1.Event_VettingFormsReceived, *eventsv1.Event_VettingOpened,
		*eventsv1.Event_VettingUnblocked, *eventsv1.Event_VettingFailed:
		c.Field = Vetting
	case *eventsv1.Event_SiftAssigned:
		c.Field, c.Assignee = SiftAssignee, p.SiftAssigned.GetAssignee()
	case *eventsv1.Event_SiftUnassigned:
		c.Field = SiftAssignee
	case *eventsv1.Event_OfferAssigned:
		c.Field, c.Assignee = OfferAssignee, p.OfferAssigned.GetAssignee()
	case *eventsv1.Event_OfferUnassigned:
		c.Field = OfferAssignee
	case *eventsv1.Event_VettingAssigned:
		c.Field, c.Assignee = VettingAssignee, p.VettingAssigned.GetAssignee()
	case *eventsv1.Event_VettingUnassigned:
		c.Field = VettingAssignee
	default:
		return c, false
	}
	return c, true
}

// change takes c if it is newer (by version) than what the record holds
// of its field; it reports whether it did.
func (a *App) change(c Change) bool {
	version := a.version(c.Field)
	if version == nil || c.Version <= *version {
		return false
	}
	*version = c.Version
	switch c.Field {
	case Interview:
		a.InterviewAt = c.InterviewAt
	case Start:
		a.StartDate, a.SubjectToVetting, a.VettingDueBy = c.StartDate, c.SubjectToVetting, c.VettingDueBy
	case Vetting:
		a.VettingBlocked, a.BlockedReason, a.BlockedSince = c.Blocked, c.BlockedReason, nil
		if c.Blocked {
			at := c.At
			a.BlockedSince = &at
		}
	case SiftAssignee:
		a.SiftAssignee = c.Assignee
	case OfferAssignee:
		a.OfferAssignee = c.Assignee
	case VettingAssignee:
		a.VettingAssignee = c.Assignee
	}
	return true
}

// version is the record's version of field (nil for no such field).
func (a *App) version(f ChangeField) *int64 {
	switch f {
	case Interview:
		return &a.InterviewVersion
	case Start:
		return &a.OffersVersion
	case Vetting:
		return &a.VettingVersion
	case SiftAssignee:
		return &a.SiftAssigneeVersion
	case OfferAssignee:
		return &a.OfferAssigneeVersion
	case VettingAssignee:
		return &a.VettingAssigneeVersion
	}
	return nil
}

// clear empties field, as before any change to it.
func (a *App) clear(f ChangeField) {
	switch f {
	case Interview:
		a.InterviewAt, a.InterviewVersion = nil, 0
	case Start:
		a.StartDate, a.SubjectToVetting, a.VettingDueBy, a.OffersVersion = nil, false, nil, 0
	case Vetting:
		a.VettingBlocked, a.BlockedReason, a.BlockedSince, a.VettingVersion = false, 0, nil, 0
	case SiftAssignee:
		a.SiftAssignee, a.SiftAssigneeVersion = "", 0
	case OfferAssignee:
		a.OfferAssignee, a.OfferAssigneeVersion = "", 0
	case VettingAssignee:
		a.VettingAssignee, a.VettingAssigneeVersion = "", 0
	}
}

// AsOf returns the record as it stood at t: its milestones that had
// occurred by t, and each detail as the changes that had occurred by then
// left it. changes are the record's (in any order); a field none of them
// is about keeps its value (a record folded before changes were kept;
// docs/design.md, "Point in time"). It equals the fold of the record's
// events that occurred by t, which is what the point-in-time property tests
// check.
func (a *App) AsOf(t time.Time, changes []Change) *App {
	t = t.UTC().Truncate(time.Microsecond)
	out := *a
	for _, m := range []**time.Time{&out.SubmittedAt, &out.SiftPassedAt, &out.InterviewPassedAt, &out.OfferMadeAt,
		&out.OfferAcceptedAt, &out.VettingClearedAt, &out.StartedAt, &out.WithdrawnAt, &out.VettingFormsReceivedAt, &out.VettingOpenedAt} {
		if *m != nil && (*m).After(t) {
			*m = nil
		}
	}
	// The vetting case's steps by then (a fresh slice: the record's is
	// shared; nil when none, as a fold of no step leaves it).
	var steps []VettingStep
	for _, st := range a.VettingSteps {
		if !st.At.After(t) {
			steps = append(steps, st)
		}
	}
	out.VettingSteps = steps
	if out.RejectedAt != nil && out.RejectedAt.After(t) {
		out.RejectedAt, out.RejectedStage, out.RejectedReason = nil, 0, ""
	}
	// The withdrawal kept is the earliest (withdraw): gone by then with
	// its kind and reason.
	if out.WithdrawnAt == nil {
		out.WithdrawnBy, out.WithdrawnReason = 0, ""
	}
	var cleared [VettingAssignee + 1]bool
	for _, c := range changes {
		if c.Field < Interview || c.Field > VettingAssignee {
			continue
		}
		if !cleared[c.Field] {
			out.clear(c.Field)
			cleared[c.Field] = true
		}
	}
	for _, c := range changes {
		if !c.At.After(t) {
			out.change(c)
		}
	}
	return &out
}

// Began is when the record's first milestone occurred (zero when it has
// none): before then it counts in no report.
func (a *App) Began() time.Time {
	var first time.Time
	for _, m := range []*time.Time{a.SubmittedAt, a.SiftPassedAt, a.InterviewPassedAt, a.OfferMadeAt,
		a.OfferAcceptedAt, a.VettingClearedAt, a.StartedAt, a.RejectedAt, a.WithdrawnAt} {
		if m != nil && (first.IsZero() || m.Before(first)) {
			first = *m
		}
	}
	return first
}
