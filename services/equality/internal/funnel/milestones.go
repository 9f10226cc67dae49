// Package funnel holds the equality monitoring rules (issue 17): the
// per-application milestones the equality service keeps from the stage
// owners' events, and the equality funnel computed from them and the
// monitoring answers, published only through disclosure control. It knows
// neither gRPC nor SQL.
package funnel

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Stages are the funnel's columns: the stages an application may reach,
// in order.
var Stages = []commonv1.Stage{
	commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER,
	commonv1.Stage_STAGE_PRE_EMPLOYMENT, commonv1.Stage_STAGE_HIRED,
}

// Milestones are what the equality service knows of one application's way
// through the pipeline, from events alone: pseudonymous ids, region,
// campaign and times — never an answer.
type Milestones struct {
	ApplicationID string
	Region        string
	CampaignID    string
	// Reached holds when the application entered each of Stages (nil: not
	// reached); Reached[0] is its submission.
	Reached [5]*time.Time
	// EndedAt is when it was rejected or withdrawn.
	EndedAt *time.Time
	// VettingOpenedAt is when its vetting case opened.
	VettingOpenedAt *time.Time
	// BlockedSince is set while its vetting case is blocked.
	BlockedSince *time.Time
	// Blocked is the time its vetting case spent blocked, blocks ended.
	Blocked time.Duration
}

// Consumes are the events Apply reads.
var Consumes = []string{
	"application.submitted", "application.withdrawn", "application.erased",
	"sift.passed", "sift.failed", "interview.passed", "interview.failed",
	"offer.accepted", "offer.declined", "offer.withdrawn", "candidate.started",
	"vetting.opened", "vetting.blocked", "vetting.unblocked", "vetting.cleared", "vetting.failed",
}

// Apply folds ev into m and reports whether m changed. Every time is kept
// at its earliest, so a redelivered event changes nothing. Vetting's events
// about one case arrive in their order (one producer, one record), which
// the blocked clock needs.
func (m *Milestones) Apply(ev *eventsv1.Event) bool {
	at := ev.GetOccurredAt().AsTime().UTC()
	changed := false
	if m.Region == "" && ev.GetRegion() != "" {
		m.Region, changed = ev.GetRegion(), true
	}
	if m.CampaignID == "" && ev.GetCampaignId() != "" {
		m.CampaignID, changed = ev.GetCampaignId(), true
	}
	reach := func(i int) bool { return earliest(&m.Reached[i], at) }
	switch ev.GetPayload().(type) {
	case *eventsv1.Event_ApplicationSubmitted:
		return reach(0) || changed
	case *eventsv1.Event_SiftPassed:
		return reach(1) || changed
	case *eventsv1.Event_InterviewPassed:
		return reach(2) || changed
	case *eventsv1.Event_OfferAccepted:
		return reach(3) || changed
	case *eventsv1.Event_CandidateStarted:
		return reach(4) || changed
	case *eventsv1.Event_ApplicationWithdrawn, *eventsv1.Event_SiftFailed, *eventsv1.Event_InterviewFailed,
		*eventsv1.Event_OfferDeclined, *eventsv1.Event_OfferWithdrawn:
		return earliest(&m.EndedAt, at) || changed
	case *eventsv1.Event_VettingOpened:
		return earliest(&m.VettingOpenedAt, at) || changed
	case *eventsv1.Event_VettingBlocked:
		if m.BlockedSince == nil {
			m.BlockedSince = &at
			return true
		}
	case *eventsv1.Event_VettingUnblocked, *eventsv1.Event_VettingCleared, *eventsv1.Event_VettingFailed:
		if m.BlockedSince != nil {
			if d := at.Sub(*m.BlockedSince); d > 0 {
				m.Blocked += d
			}
			m.BlockedSince = nil
			return true
		}
	}
	return changed
}

func earliest(field **time.Time, at time.Time) bool {
	if *field != nil && !at.Before(**field) {
		return false
	}
	*field = &at
	return true
}

// daysInStage returns the days m spent in Stages[i], and false while it is
// still there (or never reached it): left by reaching the next stage, or by
// ending in this one.
func (m *Milestones) daysInStage(i int) (float64, bool) {
	if i >= len(Stages)-1 || m.Reached[i] == nil {
		return 0, false
	}
	var left *time.Time
	switch {
	case m.Reached[i+1] != nil:
		left = m.Reached[i+1]
	case m.EndedAt != nil:
		left = m.EndedAt
	default:
		return 0, false
	}
	d := left.Sub(*m.Reached[i])
	if d < 0 {
		d = 0
	}
	return d.Hours() / 24, true
}

// daysBlocked returns the days m's vetting case spent blocked, blocks
// ended, and false if it never opened.
func (m *Milestones) daysBlocked() (float64, bool) {
	if m.VettingOpenedAt == nil {
		return 0, false
	}
	return m.Blocked.Hours() / 24, true
}
