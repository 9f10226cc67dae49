// Package projection folds the pipeline's events into one record per
// application, from which every report is derived.
//
// Events arrive at least once and, across producers, in any order (a
// withdrawal can race a sift decision). The fold is therefore made
// independent of arrival order:
//
//   - Milestones (submitted, sift passed, interview passed, offer made and
//     accepted, vetting cleared, started, rejected, withdrawn) are set once,
//     to the earliest occurred_at seen.
//   - Details that change over time (a vetting case blocked and unblocked,
//     a start date moved) are taken from the event with the highest
//     aggregate_version of their producer; events from one producer about
//     one record carry increasing versions.
//   - The stage is derived from the milestones, never stored as a
//     transition: the earliest terminal milestone (rejected or withdrawn)
//     wins; otherwise the furthest stage reached.
//   - Times are kept to the microsecond, as stored, so a record read back
//     derives exactly what it derived when folded.
//
// So the same set of events gives the same record in any order, which is
// what makes replay equal the live projection.
package projection

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// App is the projection of one application.
type App struct {
	ID         string
	Region     string
	CampaignID string
	Role       commonv1.JobRole

	SubmittedAt       *time.Time
	SiftPassedAt      *time.Time
	InterviewPassedAt *time.Time
	OfferMadeAt       *time.Time
	OfferAcceptedAt   *time.Time
	VettingClearedAt  *time.Time
	StartedAt         *time.Time
	RejectedAt        *time.Time
	// RejectedStage is where it was rejected: SIFT or INTERVIEW.
	RejectedStage commonv1.Stage
	// RejectedReason is the reason code of the rejection, as recorded.
	RejectedReason string
	WithdrawnAt    *time.Time
	// WithdrawnBy is the event that ended the application by withdrawal
	// (application.withdrawn, offer.declined or offer.withdrawn), and
	// WithdrawnReason its reason code as recorded: both from the earliest
	// such event, as WithdrawnAt is.
	WithdrawnBy     WithdrawalKind
	WithdrawnReason string

	// Source is where the application came from, from
	// application.submitted ("" when not recorded).
	Source string

	// From offers, latest by OffersVersion.
	StartDate        *time.Time
	SubjectToVetting bool
	VettingDueBy     *time.Time
	OffersVersion    int64

	// From sifting: the interview booked, latest by InterviewVersion
	// (interview.scheduled events only, so a rebooking replaces it).
	InterviewAt      *time.Time
	InterviewVersion int64

	// VettingFormsReceivedAt is when the candidate's vetting forms first
	// arrived.
	VettingFormsReceivedAt *time.Time
	// VettingOpenedAt is when the vetting case first opened.
	VettingOpenedAt *time.Time
	// VettingSteps are the vetting case's changes of status, one per
	// version of the case (a set: an event seen again adds nothing), in
	// version order; the time each block lasted is read from them.
	VettingSteps []VettingStep

	// From vetting, latest by VettingVersion.
	VettingBlocked bool
	BlockedReason  commonv1.BlockReason
	BlockedSince   *time.Time
	VettingVersion int64

	// The named owner (a staff subject id; "" when unassigned) of each
	// stage record: the sift case (SIFT, INTERVIEW), the offer (OFFER,
	// PRE_EMPLOYMENT) and the vetting case, each latest by its producer's
	// version of the record. Kept apart from the versions above: an
	// assignment is not a change of stage or block, and a block that
	// arrives after a later assignment must still count.
	SiftAssignee           string
	SiftAssigneeVersion    int64
	OfferAssignee          string
	OfferAssigneeVersion   int64
	VettingAssignee        string
	VettingAssigneeVersion int64

	// Imported is set when the application came in through an import
	// with its history (application.submitted, interview.passed or
	// offer.accepted carrying ImportedHistory): reporting learns that
	// history in pieces, and holds the stuck crossings it finds in it
	// until it has settled (docs/design.md, "Stuck events").
	Imported bool

	// Checks are the offer's pre-employment checks (checks.go), in
	// condition order.
	Checks []CheckState
}

// Apply folds one event into the record (see the package comment for why
// the order of calls does not matter). It reports whether the record
// changed.
func (a *App) Apply(ev *eventsv1.Event) bool {
	// To the microsecond, as the store keeps it: the next batch reads the
	// record back and takes away what it counts for then, which must be
	// what it counted for when folded (two times in one microsecond that
	// compared unequal here would compare equal there).
	at := ev.GetOccurredAt().AsTime().UTC().Truncate(time.Microsecond)
	changed := a.envelope(ev)
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_ApplicationSubmitted:
		changed = earliest(&a.SubmittedAt, at) || changed
		changed = a.imported(p.ApplicationSubmitted.GetImported()) || changed
		// One submission per application; of two (never seen), the lesser
		// source, so the order does not matter.
		if src := p.ApplicationSubmitted.GetSource(); src != "" && (a.Source == "" || src < a.Source) {
			a.Source, changed = src, true
		}
	case *eventsv1.Event_ApplicationWithdrawn:
		changed = a.withdraw(at, WithdrawnByCandidate, p.ApplicationWithdrawn.GetReasonCode()) || changed
	case *eventsv1.Event_SiftPassed:
		changed = earliest(&a.SiftPassedAt, at) || changed
	case *eventsv1.Event_SiftFailed:
		changed = a.reject(at, commonv1.Stage_STAGE_SIFT, p.SiftFailed.GetReasonCode()) || changed
	case *eventsv1.Event_InterviewPassed:
		changed = earliest(&a.InterviewPassedAt, at) || changed
		changed = a.imported(p.InterviewPassed.GetImported()) || changed
	case *eventsv1.Event_InterviewFailed:
		changed = a.reject(at, commonv1.Stage_STAGE_INTERVIEW, p.InterviewFailed.GetReasonCode()) || changed
	case *eventsv1.Event_OfferMade:
		changed = earliest(&a.OfferMadeAt, at) || changed
		changed = a.applyChecks(ev, at) || changed
	case *eventsv1.Event_OfferCheckRecorded:
		changed = a.applyChecks(ev, at) || changed
	case *eventsv1.Event_OfferAccepted:
		changed = earliest(&a.OfferAcceptedAt, at) || changed
		changed = a.imported(p.OfferAccepted.GetImported()) || changed
	case *eventsv1.Event_OfferDeclined:
		changed = a.withdraw(at, WithdrawnByDecline, p.OfferDeclined.GetReasonCode()) || changed
	case *eventsv1.Event_OfferWithdrawn:
		changed = a.withdraw(at, WithdrawnByOffer, p.OfferWithdrawn.GetReasonCode()) || changed
	case *eventsv1.Event_CandidateStarted:
		changed = earliest(&a.StartedAt, at) || changed
	case *eventsv1.Event_VettingCleared:
		changed = earliest(&a.VettingClearedAt, at) || changed
		changed = a.step(ev, false, 0, at) || changed
	case *eventsv1.Event_VettingBlocked:
		changed = a.step(ev, true, p.VettingBlocked.GetReason(), at) || changed
	case *eventsv1.Event_VettingFormsReceived:
		changed = earliest(&a.VettingFormsReceivedAt, at) || changed
		changed = a.step(ev, false, 0, at) || changed
	case *eventsv1.Event_VettingOpened:
		changed = earliest(&a.VettingOpenedAt, at) || changed
		changed = a.step(ev, false, 0, at) || changed
	case *eventsv1.Event_VettingUnblocked, *eventsv1.Event_VettingFailed:
		changed = a.step(ev, false, 0, at) || changed
	}
	if c, ok := ChangeOf(ev); ok {
		changed = a.change(c) || changed
	}
	return changed
}

// envelope fills the record's identity from any event about it, so an
// event that overtakes application.submitted still places the record. An
// event without a region gives only the id (the events of one record share
// it): taking the rest from it would leave the region open for the next
// event to overwrite, so the order of events would matter.
func (a *App) envelope(ev *eventsv1.Event) bool {
	changed := false
	if a.ID == "" && ev.GetApplicationId() != "" {
		a.ID, changed = ev.GetApplicationId(), true
	}
	if a.Region != "" || ev.GetRegion() == "" {
		return changed
	}
	a.ID, a.Region, a.CampaignID, a.Role = ev.GetApplicationId(), ev.GetRegion(), ev.GetCampaignId(), ev.GetRole()
	return true
}

// imported marks the record imported when an event carries its history;
// once set it stays, so the order of events does not matter.
func (a *App) imported(h *commonv1.ImportedHistory) bool {
	if h == nil || a.Imported {
		return false
	}
	a.Imported = true
	return true
}

// reject keeps the earliest rejection; of two at the same time, the later
// stage's (and of two at one stage, the lesser reason code), so that the
// order they arrive in does not matter.
func (a *App) reject(at time.Time, stage commonv1.Stage, reason string) bool {
	if a.RejectedAt != nil && (at.After(*a.RejectedAt) || at.Equal(*a.RejectedAt) &&
		(stage < a.RejectedStage || stage == a.RejectedStage && reason >= a.RejectedReason)) {
		return false
	}
	a.RejectedAt, a.RejectedStage, a.RejectedReason = &at, stage, reason
	return true
}

// WithdrawalKind is which event ended an application by withdrawal.
type WithdrawalKind int

// Withdrawal kinds; the order breaks ties between withdrawals at the same
// moment.
const (
	WithdrawnNone        WithdrawalKind = 0
	WithdrawnByCandidate WithdrawalKind = 1 // application.withdrawn
	WithdrawnByDecline   WithdrawalKind = 2 // offer.declined
	WithdrawnByOffer     WithdrawalKind = 3 // offer.withdrawn
)

// withdraw keeps the earliest withdrawal with its kind and reason; of two
// at the same time, the lesser kind (then reason), so that the order they
// arrive in does not matter.
func (a *App) withdraw(at time.Time, kind WithdrawalKind, reason string) bool {
	if a.WithdrawnAt != nil && (at.After(*a.WithdrawnAt) || at.Equal(*a.WithdrawnAt) &&
		(kind > a.WithdrawnBy || kind == a.WithdrawnBy && reason >= a.WithdrawnReason)) {
		return false
	}
	a.WithdrawnAt, a.WithdrawnBy, a.WithdrawnReason = &at, kind, reason
	return true
}

// VettingStep is one change of a vetting case's status: blocked (with
// its reason) or not, from At, at the case's Version.
type VettingStep struct {
	Version int64                `json:"v"`
	At      time.Time            `json:"at"`
	Blocked bool                 `json:"blocked,omitempty"`
	Reason  commonv1.BlockReason `json:"reason,omitempty"`
}

// step adds the vetting event to the case's steps unless its version is
// there already; kept in version order, so the steps are the same set in
// any order of arrival.
func (a *App) step(ev *eventsv1.Event, blocked bool, reason commonv1.BlockReason, at time.Time) bool {
	v := ev.GetAggregateVersion()
	i := 0
	for i < len(a.VettingSteps) && a.VettingSteps[i].Version < v {
		i++
	}
	if i < len(a.VettingSteps) && a.VettingSteps[i].Version == v {
		return false
	}
	a.VettingSteps = append(a.VettingSteps, VettingStep{})
	copy(a.VettingSteps[i+1:], a.VettingSteps[i:])
	a.VettingSteps[i] = VettingStep{Version: v, At: at, Blocked: blocked, Reason: reason}
	return true
}

// earliest sets *field to at unless it already holds an earlier time.
func earliest(field **time.Time, at time.Time) bool {
	if *field != nil && !at.Before(**field) {
		return false
	}
	*field = &at
	return true
}

func date(d *commonv1.Date) *time.Time {
	if d == nil || d.GetYear() == 0 {
		return nil
	}
	t := time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
	return &t
}

// milestone is a stage and when it was entered.
type milestone struct {
	stage commonv1.Stage
	at    *time.Time
}

func (a *App) reached() []milestone {
	return []milestone{
		{commonv1.Stage_STAGE_SIFT, a.SubmittedAt},
		{commonv1.Stage_STAGE_INTERVIEW, a.SiftPassedAt},
		{commonv1.Stage_STAGE_OFFER, a.InterviewPassedAt},
		{commonv1.Stage_STAGE_PRE_EMPLOYMENT, a.OfferAcceptedAt},
		{commonv1.Stage_STAGE_HIRED, a.StartedAt},
	}
}

// Stage is where the application is now and since when: the earliest of
// rejection and withdrawal if either happened, else the furthest stage
// reached. STAGE_UNSPECIFIED (and a zero time) when only events that place
// no stage have arrived yet.
func (a *App) Stage() (commonv1.Stage, time.Time) {
	switch {
	case a.RejectedAt != nil && (a.WithdrawnAt == nil || !a.WithdrawnAt.Before(*a.RejectedAt)):
		return commonv1.Stage_STAGE_REJECTED, *a.RejectedAt
	case a.WithdrawnAt != nil:
		return commonv1.Stage_STAGE_WITHDRAWN, *a.WithdrawnAt
	}
	stage, at := commonv1.Stage_STAGE_UNSPECIFIED, time.Time{}
	for _, m := range a.reached() {
		if m.at != nil {
			stage, at = m.stage, *m.at
		}
	}
	return stage, at
}

// WithdrawnFrom is the stage the application was in when withdrawn: the
// furthest stage reached at or before the withdrawal.
func (a *App) WithdrawnFrom() commonv1.Stage {
	if a.WithdrawnAt == nil {
		return commonv1.Stage_STAGE_UNSPECIFIED
	}
	from := commonv1.Stage_STAGE_UNSPECIFIED
	for _, m := range a.reached() {
		if m.at != nil && !m.at.After(*a.WithdrawnAt) {
			from = m.stage
		}
	}
	return from
}

// Terminal reports whether the application's pipeline has ended.
func Terminal(s commonv1.Stage) bool {
	return s == commonv1.Stage_STAGE_HIRED || s == commonv1.Stage_STAGE_REJECTED || s == commonv1.Stage_STAGE_WITHDRAWN
}
