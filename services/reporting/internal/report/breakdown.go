package report

import (
	"cmp"
	"context"
	"slices"

	"github.com/probation-recruitment/pipeline/pkg/reason"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/calendar"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/stats"
)

// The breakdowns by source and by reason are computed from the
// applications' records (the apps table, read by region and source
// through an index), not from the precomputed counters and histograms of
// the other reports: those are kept per region and campaign, and adding a
// source and a reason to their keys would multiply every region's cached
// aggregates for questions asked far less often. Each answer folds the
// records it reads with the same projection code (App.Counts,
// App.Durations) as the counters, so a breakdown over every source adds up
// to GetFunnel and GetTimeToHire (docs/design.md, "Reasons and sources").

// AppQuery selects the applications of a breakdown.
type AppQuery struct {
	Regions    []string
	CampaignID string
	Role       commonv1.JobRole
	// Source: "" for every source; reason.Unknown for those with none
	// recorded.
	Source string
	// Submitted is a window on the London date of submission.
	Submitted Window
}

// ExitKind is how an application left the pipeline before a start; the
// numbers are those of the contract's ExitKind.
type ExitKind int

// Exit kinds.
const (
	ExitSiftFailed      ExitKind = 1
	ExitInterviewFailed ExitKind = 2
	ExitWithdrawn       ExitKind = 3
	ExitOfferDeclined   ExitKind = 4
	ExitOfferWithdrawn  ExitKind = 5
)

// SourceBreakdown is the pipeline of the applications from one source.
type SourceBreakdown struct {
	Source             string
	Funnel             []FunnelStage
	TimeToHire         MeasureResult
	ApplicationToStart MeasureResult
}

// ReasonCount is how many applications left one way, for one reason,
// from one stage, and after how many calendar days from submission.
type ReasonCount struct {
	Kind       ExitKind
	Reason     string
	Stage      commonv1.Stage
	Count      int
	DaysToExit stats.Summary
}

// Breakdown is GetReasonBreakdown's answer.
type Breakdown struct {
	Applications int
	Sources      []SourceBreakdown
	Reasons      []ReasonCount
}

// Breakdown breaks the applications of q down by source and by reason.
func (s *Service) Breakdown(ctx context.Context, q AppQuery) (*Breakdown, error) {
	apps, campaigns, err := s.store.Apps(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &Breakdown{Applications: len(apps)}
	bySource := map[string][]*projection.App{}
	type reasonKey struct {
		kind   ExitKind
		reason string
		stage  commonv1.Stage
	}
	days := map[reasonKey][]float64{}
	for _, a := range apps {
		src := a.Source
		if src == "" {
			src = reason.Unknown
		} else {
			src = reason.Source.Normalize(src)
		}
		bySource[src] = append(bySource[src], a)
		if kind, code, stage, ok := Exit(a); ok {
			k := reasonKey{kind, code, stage}
			_, at := a.Stage()
			days[k] = append(days[k], float64(calendar.CalendarDays(projection.Day(*a.SubmittedAt), projection.Day(at))))
		}
	}
	for src, as := range bySource {
		measures := measures(as, campaigns, Window{}, projection.TimeToHire, projection.ApplicationToStart)
		out.Sources = append(out.Sources, SourceBreakdown{Source: src, Funnel: funnelOf(as),
			TimeToHire: measures[0], ApplicationToStart: measures[1]})
	}
	slices.SortFunc(out.Sources, func(a, b SourceBreakdown) int {
		return cmp.Or(cmp.Compare(boolInt(a.Source == reason.Unknown), boolInt(b.Source == reason.Unknown)), cmp.Compare(a.Source, b.Source))
	})
	for k, d := range days {
		out.Reasons = append(out.Reasons, ReasonCount{Kind: k.kind, Reason: k.reason, Stage: k.stage, Count: len(d), DaysToExit: stats.Of(d)})
	}
	slices.SortFunc(out.Reasons, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Stage, b.Stage))
	})
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Exit is how the application left the pipeline before a start, if it
// did: the kind, the reason code read against the kind's fixed list (a
// code off the list, such as one recorded before the lists existed, reads
// as other:<code>), and the stage it left from.
func Exit(a *projection.App) (ExitKind, string, commonv1.Stage, bool) {
	stage, _ := a.Stage()
	switch stage {
	case commonv1.Stage_STAGE_REJECTED:
		if a.RejectedStage == commonv1.Stage_STAGE_INTERVIEW {
			return ExitInterviewFailed, reason.InterviewFail.Normalize(a.RejectedReason), a.RejectedStage, true
		}
		return ExitSiftFailed, reason.SiftFail.Normalize(a.RejectedReason), a.RejectedStage, true
	case commonv1.Stage_STAGE_WITHDRAWN:
		switch a.WithdrawnBy {
		case projection.WithdrawnByDecline:
			return ExitOfferDeclined, reason.Decline.Normalize(a.WithdrawnReason), a.WithdrawnFrom(), true
		case projection.WithdrawnByOffer:
			// The offers service's own codes (vetting_failed, ...): no list.
			return ExitOfferWithdrawn, a.WithdrawnReason, a.WithdrawnFrom(), true
		}
		return ExitWithdrawn, reason.Withdrawal.Normalize(a.WithdrawnReason), a.WithdrawnFrom(), true
	}
	return 0, "", 0, false
}

// funnelOf is the funnel of the applications, as Funnel counts it.
func funnelOf(apps []*projection.App) []FunnelStage {
	n := map[counter]int{}
	for _, a := range apps {
		for _, c := range a.Counts() {
			n[counter{c.Kind, c.Stage}]++
		}
	}
	return funnel(n)
}

// measures summarises the measures ms over the applications, each ended
// within the window, as TimeToHire does (without the weekly trend).
func measures(apps []*projection.App, campaigns map[string]*projection.Campaign, w Window, ms ...projection.Measure) []MeasureResult {
	from, to := w.bounds()
	cal, work := map[projection.Measure][]float64{}, map[projection.Measure][]float64{}
	for _, a := range apps {
		for _, d := range a.Durations(campaigns[a.CampaignID]) {
			if d.End.Before(from) || d.End.After(to) {
				continue
			}
			cal[d.Measure] = append(cal[d.Measure], float64(d.Days))
			work[d.Measure] = append(work[d.Measure], float64(d.WorkingDays))
		}
	}
	out := make([]MeasureResult, len(ms))
	for i, m := range ms {
		out[i] = MeasureResult{Measure: m, Calendar: stats.Of(cal[m]), Working: stats.Of(work[m])}
	}
	return out
}

// FunnelOf is Funnel over the applications q selects (for a funnel of
// one source).
func (s *Service) FunnelOf(ctx context.Context, q AppQuery, at AsOf) ([]FunnelStage, error) {
	apps, _, err := s.store.Apps(ctx, q)
	if err != nil {
		return nil, err
	}
	return funnelOf(asOfMilestones(apps, at)), nil
}

// asOfMilestones is the records as their milestones stood at a time the
// caller chose (the funnel and the measures read milestones alone, so the
// details' changes are not needed); the records themselves otherwise.
func asOfMilestones(apps []*projection.App, at AsOf) []*projection.App {
	if !at.Chosen {
		return apps
	}
	out := make([]*projection.App, len(apps))
	for i, a := range apps {
		out[i] = a.AsOf(at.At, nil)
	}
	return out
}

// TimeToHireOf is TimeToHire over the applications q selects (for the
// measures of one source), ends within w, without the weekly trend.
func (s *Service) TimeToHireOf(ctx context.Context, q AppQuery, w Window, at AsOf) (*TimeToHireAnswer, error) {
	apps, campaigns, err := s.store.Apps(ctx, q)
	if err != nil {
		return nil, err
	}
	apps = asOfMilestones(apps, at)
	ms := append(slices.Clone(HiringMeasures), projection.StartedBeforeCleared)
	res := measures(apps, campaigns, w, ms...)
	return &TimeToHireAnswer{Measures: res[:len(HiringMeasures)], StartedEarly: res[len(HiringMeasures)].Calendar.Count}, nil
}
