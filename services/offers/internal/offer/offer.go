// Package offer holds the rules of the OFFER stage and the start
// (DESIGN.md §3): a conditional offer made after a passed interview,
// accepted, declined or withdrawn; a start date, which may come before
// vetting clears if someone approves it and a vetting due date is set; and
// the start itself.
package offer

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/history"
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

// ReasonVettingFailed is the reason an offer is withdrawn when vetting fails.
const ReasonVettingFailed = "vetting_failed"

// Offer is one application's offer and start.
type Offer struct {
	ApplicationID    string
	CampaignID       string
	Region           string
	Role             commonv1.JobRole
	Status           Status
	SalaryBand       string
	Conditions       []commonv1.OfferCondition
	StartDate        *time.Time
	VettingCleared   bool
	SubjectToVetting bool
	ApprovedBy       string
	VettingDueBy     *time.Time
	ReasonCode       string
	StatusEnteredAt  time.Time
	Version          int64
	History          []history.Entry
}

// Errors the transport maps to status codes.
var (
	// ErrUnknown: no offer record yet; interview.passed may be on its way.
	ErrUnknown = errors.New("no offer record for this application yet: it becomes eligible when interview.passed arrives (moments after the interview is passed); retry shortly")
	ErrStale   = errors.New("stale version")
)

// StatusError is a change the rules do not allow from Status.
type StatusError struct {
	Status Status
	Action string
	Why    string
}

func (e *StatusError) Error() string {
	if e.Why != "" {
		return fmt.Sprintf("cannot %s: offer is %s and %s", e.Action, e.Status, e.Why)
	}
	return fmt.Sprintf("cannot %s: offer is %s", e.Action, e.Status)
}

// Change is who makes a change, when, and the version they last read.
type Change struct {
	Actor           *commonv1.Actor
	At              time.Time
	ExpectedVersion int64
	// Today is the calendar date of At where the service works (Europe/London).
	Today time.Time
}

var bandCode = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)

func (o *Offer) begin(ch Change, action string, allowed ...Status) error {
	if err := validate.ExpectedVersion(ch.ExpectedVersion); err != nil {
		return err
	}
	if ch.ExpectedVersion != o.Version {
		return fmt.Errorf("%w: expected version %d, offer is at version %d", ErrStale, ch.ExpectedVersion, o.Version)
	}
	if !slices.Contains(allowed, o.Status) {
		return &StatusError{Status: o.Status, Action: action}
	}
	return nil
}

// record bumps the version, enters status (if it changes), adds history and
// returns the event envelope; the caller sets its payload.
func (o *Offer) record(actor *commonv1.Actor, at time.Time, status Status, name, reason string) *eventsv1.Event {
	if status != o.Status {
		o.Status, o.StatusEnteredAt = status, at
	}
	o.Version++
	o.History = append(o.History, history.Entry{Event: name, Actor: actor, OccurredAt: at, Version: o.Version, ReasonCode: reason})
	return event.New(Producer, actor, at, event.Record{
		ApplicationID: o.ApplicationID, CampaignID: o.CampaignID, Region: o.Region, Role: o.Role, Version: o.Version,
	})
}

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
	if err := o.begin(ch, "make an offer", AwaitingOffer); err != nil {
		return nil, err
	}
	o.SalaryBand, o.Conditions = band, slices.Clone(conditions)
	ev := o.record(ch.Actor, ch.At, Made, "offer.made", "")
	ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: band, Conditions: o.Conditions}}
	return ev, nil
}

// Accept records the candidate's acceptance.
func (o *Offer) Accept(ch Change) (*eventsv1.Event, error) {
	if err := o.begin(ch, "accept", Made); err != nil {
		return nil, err
	}
	ev := o.record(ch.Actor, ch.At, Accepted, "offer.accepted", "")
	ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	return ev, nil
}

// Decline records the candidate's refusal.
func (o *Offer) Decline(ch Change, reason string) (*eventsv1.Event, error) {
	if err := validate.ReasonCode("reason_code", reason); err != nil {
		return nil, err
	}
	if err := o.begin(ch, "decline", Made); err != nil {
		return nil, err
	}
	o.ReasonCode = reason
	ev := o.record(ch.Actor, ch.At, Declined, "offer.declined", reason)
	ev.Payload = &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: reason}}
	return ev, nil
}

// Withdraw withdraws a made or accepted offer.
func (o *Offer) Withdraw(ch Change, reason string) (*eventsv1.Event, error) {
	if err := validate.ReasonCode("reason_code", reason); err != nil {
		return nil, err
	}
	if err := o.begin(ch, "withdraw", Made, Accepted); err != nil {
		return nil, err
	}
	return o.withdraw(ch.Actor, ch.At, reason), nil
}

func (o *Offer) withdraw(actor *commonv1.Actor, at time.Time, reason string) *eventsv1.Event {
	afterStart := o.Status == Started
	o.ReasonCode = reason
	ev := o.record(actor, at, Withdrawn, "offer.withdrawn", reason)
	ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: reason, AfterStart: afterStart}}
	return ev
}

// StartPlan is what SetStartDate asks for.
type StartPlan struct {
	Date time.Time
	// ApprovedBy and VettingDueBy govern a start before vetting clears.
	ApprovedBy   string
	VettingDueBy *time.Time
}

// SetStartDate sets or moves the start date of an accepted offer. Before
// vetting has cleared, a start needs an approver and has a vetting due
// date (defaultDue after the start unless given).
func (o *Offer) SetStartDate(ch Change, sd StartPlan, defaultDue time.Duration) (*eventsv1.Event, error) {
	if sd.Date.IsZero() {
		return nil, validate.Field("start_date", "is required")
	}
	if sd.Date.Before(ch.Today) {
		return nil, validate.Field("start_date", "must not be in the past")
	}
	if err := o.begin(ch, "set a start date", Accepted); err != nil {
		return nil, err
	}
	// Check everything before changing anything: a refused call leaves
	// the offer as it was.
	subject, approvedBy, due := false, "", (*time.Time)(nil)
	if !o.VettingCleared {
		if sd.ApprovedBy == "" {
			return nil, validate.Field("approved_by", "is required to start before vetting has cleared: the subject id of who approved it")
		}
		if err := validate.Text("approved_by", sd.ApprovedBy, 100); err != nil {
			return nil, err
		}
		d := sd.Date.Add(defaultDue)
		if sd.VettingDueBy != nil {
			d = *sd.VettingDueBy
		}
		if d.Before(sd.Date) {
			return nil, validate.Field("vetting_due_by", "must not be before the start date")
		}
		subject, approvedBy, due = true, sd.ApprovedBy, &d
	}
	o.StartDate = &sd.Date
	o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy = subject, approvedBy, due
	ev := o.record(ch.Actor, ch.At, Accepted, "offer.start_date_set", "")
	set := &eventsv1.OfferStartDateSet{StartDate: event.Date(sd.Date), SubjectToVetting: o.SubjectToVetting, ApprovedBy: o.ApprovedBy}
	if o.VettingDueBy != nil {
		set.VettingDueBy = event.Date(*o.VettingDueBy)
	}
	ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: set}
	return ev, nil
}

// ConfirmStart records that the candidate started on the start date.
func (o *Offer) ConfirmStart(ch Change) (*eventsv1.Event, error) {
	if err := o.begin(ch, "confirm the start", Accepted); err != nil {
		return nil, err
	}
	switch {
	case o.StartDate == nil:
		return nil, &StatusError{Status: o.Status, Action: "confirm the start", Why: "no start date is set"}
	case o.StartDate.After(ch.Today):
		return nil, &StatusError{Status: o.Status, Action: "confirm the start", Why: "the start date " + o.StartDate.Format(time.DateOnly) + " has not come yet"}
	case !o.VettingCleared && !o.SubjectToVetting:
		return nil, &StatusError{Status: o.Status, Action: "confirm the start", Why: "vetting has not cleared and the start was not approved: set the start date again with approved_by"}
	}
	o.SubjectToVetting = !o.VettingCleared
	ev := o.record(ch.Actor, ch.At, Started, "candidate.started", "")
	started := &eventsv1.CandidateStarted{StartDate: event.Date(*o.StartDate), SubjectToVetting: o.SubjectToVetting}
	if o.SubjectToVetting {
		started.ApprovedBy = o.ApprovedBy
		started.VettingDueBy = event.Date(*o.VettingDueBy)
	}
	ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: started}
	return ev, nil
}

// OpenRecord is the record an interview.passed event opens.
func OpenRecord(ev *eventsv1.Event) *Offer {
	at := ev.GetOccurredAt().AsTime()
	return &Offer{
		ApplicationID: ev.GetApplicationId(), CampaignID: ev.GetCampaignId(), Region: ev.GetRegion(), Role: ev.GetRole(),
		Status: AwaitingOffer, StatusEnteredAt: at, Version: 1,
		History: []history.Entry{{Event: "interview.passed", Actor: ev.GetActor(), OccurredAt: at, Version: 1}},
	}
}

// ApplicationWithdrawn ends an open offer when the candidate withdraws
// (applications has published the withdrawal; no event of ours). It
// reports whether anything changed.
func (o *Offer) ApplicationWithdrawn(ev *eventsv1.Event) bool {
	switch o.Status {
	case AwaitingOffer, Made, Accepted:
		reason := ev.GetApplicationWithdrawn().GetReasonCode()
		o.ReasonCode = reason
		o.record(ev.GetActor(), ev.GetOccurredAt().AsTime(), Withdrawn, "application.withdrawn", reason)
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
	o.record(ev.GetActor(), ev.GetOccurredAt().AsTime(), o.Status, "vetting.cleared", "")
	return true
}

// VettingFailed withdraws the offer, or ends a conditional start, with
// reason vetting_failed, as the offers service's own event.
func (o *Offer) VettingFailed(actor *commonv1.Actor, at time.Time) *eventsv1.Event {
	switch o.Status {
	case Made, Accepted, Started:
		return o.withdraw(actor, at, ReasonVettingFailed)
	}
	return nil
}
