package projection

import (
	"slices"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// CheckState is the projection of one pre-employment check of the offer
// (docs/design.md, Pre-employment checks): offer.made names the checks
// (its checks field; none in an offer made before checks existed), each
// outstanding, and offer.check_recorded their status,
// the latest by the offers service's version of the record, so the order
// of events does not matter.
type CheckState struct {
	Condition commonv1.OfferCondition `json:"c"`
	Status    commonv1.CheckStatus    `json:"s"`
	// Version is the offers version of the event that set Status (0: from
	// offer.made).
	Version int64 `json:"v"`
	// MetAt is when the check was recorded met, while it is.
	MetAt *time.Time `json:"m,omitempty"`
}

// CheckMet + a condition number is the measure of a check's time from the
// offer being made to the check being met.
const CheckMet Measure = 30

// applyChecks folds offer.made and offer.check_recorded.
func (a *App) applyChecks(ev *eventsv1.Event, at time.Time) bool {
	changed := false
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_OfferMade:
		for _, c := range p.OfferMade.GetChecks() {
			if a.checkIndex(c) < 0 {
				a.Checks = append(a.Checks, CheckState{Condition: c, Status: commonv1.CheckStatus_CHECK_STATUS_OUTSTANDING})
				changed = true
			}
		}
	case *eventsv1.Event_OfferCheckRecorded:
		r := p.OfferCheckRecorded
		st := CheckState{Condition: r.GetCheck(), Status: r.GetStatus(), Version: ev.GetAggregateVersion()}
		if st.Status == commonv1.CheckStatus_CHECK_STATUS_MET {
			st.MetAt = &at
		}
		switch i := a.checkIndex(r.GetCheck()); {
		case i < 0:
			a.Checks = append(a.Checks, st)
			changed = true
		case a.Checks[i].Version < st.Version:
			a.Checks[i] = st
			changed = true
		}
	}
	if changed {
		slices.SortFunc(a.Checks, func(x, y CheckState) int { return int(x.Condition) - int(y.Condition) })
	}
	return changed
}

func (a *App) checkIndex(c commonv1.OfferCondition) int {
	return slices.IndexFunc(a.Checks, func(s CheckState) bool { return s.Condition == c })
}

// OutstandingChecks lists the checks still outstanding, in condition order.
func (a *App) OutstandingChecks() []commonv1.OfferCondition {
	var out []commonv1.OfferCondition
	for _, c := range a.Checks {
		if c.Status == commonv1.CheckStatus_CHECK_STATUS_OUTSTANDING {
			out = append(out, c.Condition)
		}
	}
	return out
}

// checkClock is the check-outstanding clock: while the offer is made or
// accepted (OFFER or PRE_EMPLOYMENT) and a check is outstanding, from the
// offer being made; the SPOC's to act on, the offer's assignee's.
func (a *App) checkClock(th Thresholds, stage commonv1.Stage) []Clock {
	if a.OfferMadeAt == nil || (stage != commonv1.Stage_STAGE_OFFER && stage != commonv1.Stage_STAGE_PRE_EMPLOYMENT) ||
		len(a.OutstandingChecks()) == 0 {
		return nil
	}
	since := *a.OfferMadeAt
	return []Clock{{Kind: StuckCheckOutstanding, Stage: stage, Since: since, WarningAt: since.Add(days(th.Checks.WarningDays)),
		BreachAt: since.Add(days(th.Checks.BreachDays)), NextActor: ActorSPOC, Assignee: a.OfferAssignee}}
}

// checkDurations: for each check met, from the offer being made to the
// check being met (London dates).
func (a *App) checkDurations() []Duration {
	if a.OfferMadeAt == nil {
		return nil
	}
	var out []Duration
	for _, c := range a.Checks {
		if c.Status == commonv1.CheckStatus_CHECK_STATUS_MET && c.MetAt != nil && !c.MetAt.Before(*a.OfferMadeAt) {
			out = append(out, span(CheckMet+Measure(c.Condition), Day(*a.OfferMadeAt), Day(*c.MetAt)))
		}
	}
	return out
}
