package projection

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Record is a stage record with a named owner of its own: an application
// has at most one of each, kept by the record's service.
type Record int

// Records, numbered as the contract's CaseRecord.
const (
	// RecordSift is the sift case, open in SIFT and INTERVIEW.
	RecordSift Record = 1
	// RecordOffer is the offer, open in OFFER and PRE_EMPLOYMENT.
	RecordOffer Record = 2
	// RecordVetting is the vetting case, open from the offer's acceptance
	// until vetting clears: in PRE_EMPLOYMENT, or started subject to
	// vetting.
	RecordVetting Record = 3
)

// Actor is the role whose work the record is.
func (r Record) Actor() NextActor {
	if r == RecordVetting {
		return ActorVetting
	}
	return ActorSPOC
}

// Record is the stage record whose owner must act on the clock, the one
// whose assignee Clocks gives it: the vetting case for the vetting rules
// and for a stage clock routed to the vetting contact point, else the sift
// case in SIFT and INTERVIEW and the offer after.
func (c Clock) Record() Record {
	switch {
	case c.Kind != StuckStage || c.NextActor == ActorVetting:
		return RecordVetting
	case c.Stage == commonv1.Stage_STAGE_SIFT || c.Stage == commonv1.Stage_STAGE_INTERVIEW:
		return RecordSift
	}
	return RecordOffer
}

// Due is where an open case stands against its clocks as of a time.
type Due struct {
	// Clock is the most pressing of the case's clocks; nil when none runs.
	Clock *Clock
	// Warning and Breach: the clock is past its warning, or its breach
	// (a breach only once past its warning too).
	Warning, Breach bool
	// DaysOverdue is whole days past the threshold passed: the breach
	// threshold for a breach, else the warning threshold.
	DaysOverdue int
	// Next is the next threshold the clock crosses (its warning, or its
	// breach when in warning), zero when in breach or no clock runs;
	// NextIsBreach says which.
	Next         time.Time
	NextIsBreach bool
}

// DueOf returns where a case stands at asOf by the most pressing of its
// clocks: a breach before a warning before a clock not yet stuck; among
// stuck ones the most days overdue, then the longest running; among the
// others the next threshold first.
func DueOf(clocks []Clock, asOf time.Time) Due {
	var best Due
	for i := range clocks {
		d := dueOf(&clocks[i], asOf)
		if best.Clock == nil || d.before(best) {
			best = d
		}
	}
	return best
}

func dueOf(c *Clock, asOf time.Time) Due {
	d := Due{Clock: c}
	switch {
	case !c.WarningAt.After(asOf) && !c.BreachAt.After(asOf):
		d.Warning, d.Breach = true, true
		d.DaysOverdue = int(asOf.Sub(c.BreachAt) / (24 * time.Hour))
	case !c.WarningAt.After(asOf):
		d.Warning, d.Next, d.NextIsBreach = true, c.BreachAt, true
		d.DaysOverdue = int(asOf.Sub(c.WarningAt) / (24 * time.Hour))
	default:
		d.Next = c.WarningAt
	}
	return d
}

// before reports whether d is more pressing than e.
func (d Due) before(e Due) bool {
	switch {
	case d.Breach != e.Breach:
		return d.Breach
	case d.Warning != e.Warning:
		return d.Warning
	case d.Warning && d.DaysOverdue != e.DaysOverdue:
		return d.DaysOverdue > e.DaysOverdue
	case d.Warning:
		return d.Clock.Since.Before(e.Clock.Since)
	}
	return d.Next.Before(e.Next)
}
