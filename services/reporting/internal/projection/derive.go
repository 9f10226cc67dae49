package projection

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/calendar"
)

// London is where dates are judged: a day in a measure is a calendar day
// in England and Wales.
var London = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // the binary embeds time/tzdata
	}
	return loc
}

// Day is the London calendar date of t, as midnight UTC.
func Day(t time.Time) time.Time {
	l := t.In(London)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

// Campaign is what the projection knows of a campaign.
type Campaign struct {
	ID       string
	Region   string
	Role     commonv1.JobRole
	OpensOn  time.Time
	ClosesOn *time.Time
	Posts    int
	Version  int64
}

// Measure identifies a duration the reports summarise.
type Measure int

// Measures: the docs/design.md §5 hiring measures (numbered as in the contract),
// a count of starts before vetting cleared, and the time spent in each
// stage (StageDuration + stage number).
const (
	TimeToHire           Measure = 1
	TimeToFill           Measure = 2
	ApplicationToStart   Measure = 3
	OfferToClearance     Measure = 4
	StartedBeforeCleared Measure = 5
	StageDuration        Measure = 10
	// Inside vetting: opened → forms received → cleared, and the time each
	// block lasted (VettingBlocked + block reason).
	VettingOpenedToForms  Measure = 15
	VettingFormsToCleared Measure = 16
	VettingOpenedToClear  Measure = 17
	VettingBlocked        Measure = 20
)

// MaxMeasure is the largest Measure: the last check's time to be met
// (CheckMet, checks.go, above the blocks of the last block reason).
const MaxMeasure = CheckMet + Measure(commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK)

// Duration is one application's contribution to a measure: ended on End
// (a London date) after Days calendar and WorkingDays working days.
type Duration struct {
	Measure     Measure
	End         time.Time
	Days        int
	WorkingDays int
}

func span(m Measure, from, to time.Time) Duration {
	return Duration{Measure: m, End: to, Days: calendar.CalendarDays(from, to), WorkingDays: calendar.WorkingDays(from, to)}
}

// Durations lists the application's completed measures. c may be nil while
// the campaign's event has not arrived; then the measures that start at
// the campaign's close wait for it.
//
//   - time to hire: campaign closing date → offer made;
//   - time to fill: campaign closing date → start date;
//   - application to start: submitted → start date;
//   - offer to clearance: offer accepted → vetting cleared.
//
// A rolling campaign (no closing date) measures from each application's
// submission. An offer made or a start before the campaign closed (a
// closing date moved later, or an early hire) counts as 0 days from the
// close, never as a negative time. Stage durations run from entering a
// stage to leaving it.
func (a *App) Durations(c *Campaign) []Duration {
	var out []Duration
	var anchor *time.Time
	if c != nil {
		anchor = c.ClosesOn
		if anchor == nil && a.SubmittedAt != nil {
			d := Day(*a.SubmittedAt)
			anchor = &d
		}
	}
	var start *time.Time
	if a.StartedAt != nil && a.StartDate != nil {
		start = a.StartDate
	}
	if anchor != nil && a.OfferMadeAt != nil {
		offer := Day(*a.OfferMadeAt)
		out = append(out, span(TimeToHire, earlier(*anchor, offer), offer))
	}
	if anchor != nil && start != nil {
		out = append(out, span(TimeToFill, earlier(*anchor, *start), *start))
	}
	if a.SubmittedAt != nil && start != nil {
		out = append(out, span(ApplicationToStart, Day(*a.SubmittedAt), *start))
	}
	if a.OfferAcceptedAt != nil && a.VettingClearedAt != nil {
		out = append(out, span(OfferToClearance, Day(*a.OfferAcceptedAt), Day(*a.VettingClearedAt)))
	}
	if start != nil && a.startedBeforeCleared() {
		out = append(out, Duration{Measure: StartedBeforeCleared, End: *start})
	}
	out = append(out, a.checkDurations()...)
	out = append(out, a.stageDurations()...)
	return append(out, a.vettingDurations()...)
}

// vettingDurations: the steps of vetting (opened → forms received →
// cleared, each once both ends are known) and each block that has ended,
// by its reason. A block ends with the case's next change of status (by
// version), or with the application's withdrawal if nothing followed it.
func (a *App) vettingDurations() []Duration {
	var out []Duration
	pair := func(m Measure, from, to *time.Time) {
		if from != nil && to != nil && !to.Before(*from) {
			out = append(out, span(m, Day(*from), Day(*to)))
		}
	}
	pair(VettingOpenedToForms, a.VettingOpenedAt, a.VettingFormsReceivedAt)
	pair(VettingFormsToCleared, a.VettingFormsReceivedAt, a.VettingClearedAt)
	pair(VettingOpenedToClear, a.VettingOpenedAt, a.VettingClearedAt)
	for i, st := range a.VettingSteps {
		if !st.Blocked || st.Reason <= 0 || st.Reason > commonv1.BlockReason_BLOCK_REASON_OTHER {
			continue
		}
		end := a.WithdrawnAt
		if i+1 < len(a.VettingSteps) {
			end = &a.VettingSteps[i+1].At
		}
		at := st.At
		pair(VettingBlocked+Measure(st.Reason), &at, end)
	}
	return out
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// startedBeforeCleared: the candidate started before vetting cleared.
func (a *App) startedBeforeCleared() bool {
	return a.SubjectToVetting || (a.VettingClearedAt != nil && a.StartedAt != nil && a.VettingClearedAt.After(*a.StartedAt))
}

// stageDurations: for each stage left, from entering it to leaving it
// (by the next stage reached, or by rejection or withdrawal).
func (a *App) stageDurations() []Duration {
	var out []Duration
	var end *time.Time
	if stage, at := a.Stage(); stage == commonv1.Stage_STAGE_REJECTED || stage == commonv1.Stage_STAGE_WITHDRAWN {
		end = &at
	}
	reached := a.reached()
	for i, m := range reached {
		if m.at == nil || m.stage == commonv1.Stage_STAGE_HIRED {
			continue
		}
		var left *time.Time
		for _, n := range reached[i+1:] {
			if n.at != nil {
				left = n.at
				break
			}
		}
		if end != nil && (left == nil || end.Before(*left)) {
			left = end
		}
		if left == nil || left.Before(*m.at) {
			continue
		}
		out = append(out, span(StageDuration+Measure(m.stage), Day(*m.at), Day(*left)))
	}
	return out
}

// Count is a funnel counter the application adds one to.
type Count struct {
	Kind  CountKind
	Stage commonv1.Stage
}

// CountKind is what a counter counts.
type CountKind string

// Counter kinds.
const (
	Reached   CountKind = "reached"
	Current   CountKind = "current"
	Rejected  CountKind = "rejected"
	Withdrawn CountKind = "withdrawn"
)

// Counts lists the counters the application adds one to: every stage it
// reached, the stage it is in now, and where it was rejected or withdrawn.
func (a *App) Counts() []Count {
	var out []Count
	for _, m := range a.reached() {
		if m.at != nil {
			out = append(out, Count{Reached, m.stage})
		}
	}
	stage, _ := a.Stage()
	if stage == commonv1.Stage_STAGE_UNSPECIFIED {
		return out
	}
	out = append(out, Count{Current, stage})
	switch stage {
	case commonv1.Stage_STAGE_REJECTED:
		out = append(out, Count{Rejected, a.RejectedStage})
	case commonv1.Stage_STAGE_WITHDRAWN:
		out = append(out, Count{Withdrawn, a.WithdrawnFrom()})
	}
	return out
}
