// Package offer holds the rules of the OFFER stage and the start
// (docs/design.md §3): a conditional offer made after a passed interview,
// accepted, declined or withdrawn; a start date, which may come before
// vetting clears if someone approves it and a vetting due date is set; and
// the start itself.
package offer

import (
	"regexp"
	"slices"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/event"
	reasonpkg "github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Producer is this service's name in its events.
const Producer = "offers"

// Status is where an offer stands.
type Status string

// Statuses.
const (
	AwaitingOffer Status = "AWAITING_OFFER"
	Made          Status = "MADE"
	Accepted      Status = "ACCEPTED"
	Declined      Status = "DECLINED"
	Withdrawn     Status = "WITHDRAWN"
	Started       Status = "STARTED"
)

// Describe says the status in a sentence, for the error that refuses a change.
func (s Status) Describe() string { return "offer is " + string(s) }

// ReasonVettingFailed is the reason an offer is withdrawn when vetting fails.
const ReasonVettingFailed = "vetting_failed"

// Offer is one application's offer and start.
type Offer struct {
	record.Header[Status]
	SalaryBand       string
	Conditions       []commonv1.OfferCondition
	StartDate        *time.Time
	VettingCleared   bool
	SubjectToVetting bool
	// ApprovedBy is the subject of the approver who approved the early
	// start (ApproveEarlyStart), at StartApprovedAt; empty until then.
	ApprovedBy      string
	StartApprovedAt *time.Time
	VettingDueBy    *time.Time
	ReasonCode      string
	// Assignee is the record's named owner, a staff subject id; empty when
	// the region's SPOCs own it as a role.
	Assignee string
	// StageEnteredAt is when the record entered its stage (see Stage):
	// making the offer moves the status but not the stage.
	StageEnteredAt time.Time
	// Checks are the pre-employment checks recorded so far (checks.go);
	// one never recorded is outstanding.
	Checks []Check
}

// ErrUnknown: no offer record yet; interview.passed may be on its way.
var ErrUnknown = record.NotYet("no offer record for this application yet: it becomes eligible when interview.passed arrives (moments after the interview is passed); retry shortly")

// Change is who makes a change, when, and the version they last read.
type Change struct {
	record.Change
	// Today is the calendar date of At where the service works (Europe/London).
	Today time.Time
}

var bandCode = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)

// Make makes the conditional offer.
func (o *Offer) Make(ch Change, band string, conditions []commonv1.OfferCondition) (*eventsv1.Event, error) {
	if !bandCode.MatchString(band) {
		return nil, validate.Field("salary_band_code", "must be a lower-case code of 1-32 letters, digits and _ (e.g. band_3)")
	}
	if len(conditions) == 0 {
		return nil, validate.Field("conditions", "must name at least one condition (e.g. OFFER_CONDITION_VETTING)")
	}
	seen := map[commonv1.OfferCondition]bool{}
	for _, c := range conditions {
		if _, known := commonv1.OfferCondition_name[int32(c)]; !known || c == commonv1.OfferCondition_OFFER_CONDITION_UNSPECIFIED || seen[c] {
			return nil, validate.Field("conditions", "must be known conditions, each named once")
		}
		seen[c] = true
	}
	if err := o.Begin(ch.Change, "make an offer", AwaitingOffer); err != nil {
		return nil, err
	}
	o.SalaryBand, o.Conditions = band, slices.Clone(conditions)
	ev := o.Move(Producer, ch.Change, Made, "offer.made", "")
	ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: band, Conditions: o.Conditions, Checks: CheckConditions(o.Conditions)}}
	return ev, nil
}

// Accept records the candidate's acceptance.
func (o *Offer) Accept(ch Change) (*eventsv1.Event, error) {
	if err := o.Begin(ch.Change, "accept", Made); err != nil {
		return nil, err
	}
	ev := o.Move(Producer, ch.Change, Accepted, "offer.accepted", "")
	o.StageEnteredAt = ch.At
	ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	return ev, nil
}

// Decline records the candidate's refusal, for a reason of the decline
// list (pkg/reason).
func (o *Offer) Decline(ch Change, reason string) (*eventsv1.Event, error) {
	if err := reasonpkg.Decline.Check("reason_code", reason); err != nil {
		return nil, err
	}
	if err := o.Begin(ch.Change, "decline", Made); err != nil {
		return nil, err
	}
	o.ReasonCode = reason
	ev := o.Move(Producer, ch.Change, Declined, "offer.declined", reason)
	ev.Payload = &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: reason}}
	return ev, nil
}

// Withdraw withdraws a made or accepted offer.
func (o *Offer) Withdraw(ch Change, reason string) (*eventsv1.Event, error) {
	if err := validate.ReasonCode("reason_code", reason); err != nil {
		return nil, err
	}
	if err := o.Begin(ch.Change, "withdraw", Made, Accepted); err != nil {
		return nil, err
	}
	return o.withdraw(ch.Change, reason), nil
}

func (o *Offer) withdraw(ch record.Change, reason string) *eventsv1.Event {
	afterStart := o.State == Started
	o.ReasonCode = reason
	ev := o.Move(Producer, ch, Withdrawn, "offer.withdrawn", reason)
	ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: reason, AfterStart: afterStart}}
	return ev
}

// StartPlan is what SetStartDate asks for.
type StartPlan struct {
	Date time.Time
	// VettingDueBy is when vetting must clear by, for a start before it
	// has (nil: the latest allowed).
	VettingDueBy *time.Time
	// recorded: the plan is an imported history's, whose due date is kept
	// as it was set then, however far after the start.
	recorded bool
}

// SetStartDate sets or moves the start date of an accepted offer. Before
// vetting has cleared, the start has a vetting due date, at most duePeriod
// after the start (and that unless given), and needs an approver's
// approval (ApproveEarlyStart) before it is confirmed: an approval given
// for an earlier date is taken back.
func (o *Offer) SetStartDate(ch Change, sd StartPlan, duePeriod time.Duration) (*eventsv1.Event, error) {
	if sd.Date.IsZero() {
		return nil, validate.Field("start_date", "is required")
	}
	if sd.Date.Before(ch.Today) {
		return nil, validate.Field("start_date", "must not be in the past")
	}
	if err := o.Begin(ch.Change, "set a start date", Accepted); err != nil {
		return nil, err
	}
	// Check everything before changing anything: a refused call leaves
	// the offer as it was.
	subject, due := false, (*time.Time)(nil)
	if !o.VettingCleared {
		d, err := vettingDue(sd.Date, sd.VettingDueBy, duePeriod, sd.recorded)
		if err != nil {
			return nil, err
		}
		subject, due = true, &d
	}
	o.StartDate = &sd.Date
	o.SubjectToVetting, o.VettingDueBy = subject, due
	o.ApprovedBy, o.StartApprovedAt = "", nil
	ev := o.Move(Producer, ch.Change, Accepted, "offer.start_date_set", "")
	set := &eventsv1.OfferStartDateSet{StartDate: event.Date(sd.Date), SubjectToVetting: o.SubjectToVetting}
	if o.VettingDueBy != nil {
		set.VettingDueBy = event.Date(*o.VettingDueBy)
	}
	ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: set}
	return ev, nil
}

// ConfirmStart records that the candidate started on the start date.
func (o *Offer) ConfirmStart(ch Change) (*eventsv1.Event, error) {
	if err := o.Begin(ch.Change, "confirm the start", Accepted); err != nil {
		return nil, err
	}
	switch {
	case o.StartDate == nil:
		return nil, record.Refused(o.State, "confirm the start").Because("no start date is set")
	case o.StartDate.After(ch.Today):
		return nil, record.Refused(o.State, "confirm the start").Because("the start date " + o.StartDate.Format(time.DateOnly) + " has not come yet")
	case !o.VettingCleared && o.ApprovedBy == "":
		return nil, record.Refused(o.State, "confirm the start").Because("vetting has not cleared and no approver has approved starting before it does (ApproveEarlyStart)")
	}
	o.SubjectToVetting = !o.VettingCleared
	ev := o.Move(Producer, ch.Change, Started, "candidate.started", "")
	started := &eventsv1.CandidateStarted{StartDate: event.Date(*o.StartDate), SubjectToVetting: o.SubjectToVetting}
	if o.SubjectToVetting {
		started.ApprovedBy = o.ApprovedBy
		started.VettingDueBy = event.Date(*o.VettingDueBy)
	}
	ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: started}
	return ev, nil
}

// openStatuses are the statuses whose record takes an owner; a declined,
// withdrawn or started record is closed.
var openStatuses = []Status{AwaitingOffer, Made, Accepted}

// Assign names the record's owner (see assign.Assign): the record must be
// open, and assigning its current owner again is refused (nothing would
// change).
func (o *Offer) Assign(ch Change, assignee string) (*eventsv1.Event, error) {
	ev, previous, err := assign.Assign(&o.Header, &o.Assignee, Producer, ch.Change, assignee, "offer.assigned", openStatuses...)
	if err != nil {
		return nil, err
	}
	ev.Payload = &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: assignee, PreviousAssignee: previous}}
	return ev, nil
}

// Unassign removes the record's named owner; the record must be open and
// assigned.
func (o *Offer) Unassign(ch Change) (*eventsv1.Event, error) {
	ev, previous, err := assign.Unassign(&o.Header, &o.Assignee, Producer, ch.Change, "offer.unassigned", openStatuses...)
	if err != nil {
		return nil, err
	}
	ev.Payload = &eventsv1.Event_OfferUnassigned{OfferUnassigned: &eventsv1.CaseUnassigned{PreviousAssignee: previous}}
	return ev, nil
}

// Stage is the pipeline stage an open record is at: OFFER until the offer
// is accepted, PRE_EMPLOYMENT after; unspecified once it is closed.
func (o *Offer) Stage() commonv1.Stage {
	switch o.State {
	case AwaitingOffer, Made:
		return commonv1.Stage_STAGE_OFFER
	case Accepted:
		return commonv1.Stage_STAGE_PRE_EMPLOYMENT
	}
	return commonv1.Stage_STAGE_UNSPECIFIED
}

// OpenRecord is the record an interview.passed event opens.
func OpenRecord(ev *eventsv1.Event) *Offer {
	o := &Offer{Header: record.Opened(ev, AwaitingOffer)}
	o.StageEnteredAt = o.StateEnteredAt
	o.Note(record.Change{Actor: ev.GetActor(), At: o.StateEnteredAt}, AwaitingOffer, "interview.passed", "")
	return o
}

// ApplicationWithdrawn ends an open offer when the candidate withdraws
// (applications has published the withdrawal; no event of ours). It
// reports whether anything changed.
func (o *Offer) ApplicationWithdrawn(ev *eventsv1.Event) bool {
	switch o.State {
	case AwaitingOffer, Made, Accepted:
		reason := ev.GetApplicationWithdrawn().GetReasonCode()
		o.ReasonCode = reason
		o.Note(eventChange(ev), Withdrawn, "application.withdrawn", reason)
		return true
	}
	return false
}

// NoteVettingCleared notes that vetting passed; a later start is no longer
// subject to vetting, and a started one no longer overdue.
func (o *Offer) NoteVettingCleared(ev *eventsv1.Event) bool {
	if o.VettingCleared {
		return false
	}
	o.VettingCleared = true
	o.Note(eventChange(ev), o.State, "vetting.cleared", "")
	return true
}

// eventChange is the change another service's event reports.
func eventChange(ev *eventsv1.Event) record.Change {
	return record.Change{Actor: ev.GetActor(), At: ev.GetOccurredAt().AsTime()}
}

// VettingFailed withdraws the offer, or ends a conditional start, with
// reason vetting_failed, as the offers service's own event.
func (o *Offer) VettingFailed(actor *commonv1.Actor, at time.Time) *eventsv1.Event {
	switch o.State {
	case Made, Accepted, Started:
		return o.withdraw(record.Change{Actor: actor, At: at}, ReasonVettingFailed)
	}
	return nil
}
