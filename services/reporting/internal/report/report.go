// Package report answers the reporting questions of DESIGN.md §5 from the
// projection's aggregates: stuck candidates, time to hire, the funnel,
// stage durations and region summaries.
package report

import (
	"context"
	"slices"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/stats"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// Store is what the reports read.
type Store interface {
	Stuck(ctx context.Context, f store.StuckFilter) ([]store.StuckRow, int, int, error)
	StuckApplications(ctx context.Context, region string, asOf time.Time) (int, error)
	Durations(ctx context.Context, f store.DurationFilter, byWeek bool) ([]store.Bucket, error)
	Counts(ctx context.Context, regions []string, campaignID string) ([]store.CountRow, error)
}

// Service computes reports.
type Service struct {
	store Store
}

// NewService returns a Service.
func NewService(s Store) *Service { return &Service{store: s} }

// Pipeline stages in order, and the ones a candidate can be stuck in.
var (
	PipelineStages = []commonv1.Stage{
		commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER,
		commonv1.Stage_STAGE_PRE_EMPLOYMENT, commonv1.Stage_STAGE_HIRED,
	}
	AllStages = append(slices.Clone(PipelineStages), commonv1.Stage_STAGE_REJECTED, commonv1.Stage_STAGE_WITHDRAWN)
)

// Stuck lists stuck candidates (see store.Stuck).
func (s *Service) Stuck(ctx context.Context, f store.StuckFilter) ([]store.StuckRow, int, int, error) {
	return s.store.Stuck(ctx, f)
}

// Window is a span of London dates, inclusive; zero ends are open.
type Window struct{ From, To time.Time }

func (w Window) bounds() (time.Time, time.Time) {
	from, to := w.From, w.To
	if from.IsZero() {
		from = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if to.IsZero() {
		to = time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	return from, to
}

// MeasureResult summarises one hiring measure.
type MeasureResult struct {
	Measure  projection.Measure
	Calendar stats.Summary
	Working  stats.Summary
	Weekly   []WeekPoint
}

// WeekPoint is a measure over the ends in one week (Monday).
type WeekPoint struct {
	Week     time.Time
	Calendar stats.Summary
}

// TimeToHireQuery filters GetTimeToHire.
type TimeToHireQuery struct {
	Regions    []string
	CampaignID string
	Role       commonv1.JobRole
	Window     Window
}

// HiringMeasures are the DESIGN.md §5 measures, in order.
var HiringMeasures = []projection.Measure{
	projection.TimeToHire, projection.TimeToFill, projection.ApplicationToStart, projection.OfferToClearance,
}

// TimeToHire summarises the hiring measures over the query, with a weekly
// trend, and counts the starts before vetting cleared.
func (s *Service) TimeToHire(ctx context.Context, q TimeToHireQuery) ([]MeasureResult, int, error) {
	from, to := q.Window.bounds()
	f := store.DurationFilter{Regions: q.Regions, CampaignID: q.CampaignID, Role: q.Role, From: from, To: to,
		Measures: append(slices.Clone(HiringMeasures), projection.StartedBeforeCleared)}
	buckets, err := s.store.Durations(ctx, f, true)
	if err != nil {
		return nil, 0, err
	}
	type hist struct {
		cal, work map[int]int
		weekly    map[time.Time]map[int]int
	}
	hs := map[projection.Measure]*hist{}
	startedEarly := 0
	for _, b := range buckets {
		if b.Measure == projection.StartedBeforeCleared {
			startedEarly += b.N
			continue
		}
		h := hs[b.Measure]
		if h == nil {
			h = &hist{cal: map[int]int{}, work: map[int]int{}, weekly: map[time.Time]map[int]int{}}
			hs[b.Measure] = h
		}
		h.cal[b.Days] += b.N
		h.work[b.WorkingDays] += b.N
		if h.weekly[b.Week] == nil {
			h.weekly[b.Week] = map[int]int{}
		}
		h.weekly[b.Week][b.Days] += b.N
	}
	out := make([]MeasureResult, 0, len(HiringMeasures))
	for _, m := range HiringMeasures {
		r := MeasureResult{Measure: m}
		if h := hs[m]; h != nil {
			r.Calendar, r.Working = stats.FromHistogram(h.cal), stats.FromHistogram(h.work)
			weeks := make([]time.Time, 0, len(h.weekly))
			for w := range h.weekly {
				weeks = append(weeks, w)
			}
			slices.SortFunc(weeks, func(a, b time.Time) int { return a.Compare(b) })
			for _, w := range weeks {
				r.Weekly = append(r.Weekly, WeekPoint{Week: w, Calendar: stats.FromHistogram(h.weekly[w])})
			}
		}
		out = append(out, r)
	}
	return out, startedEarly, nil
}

// FunnelStage is one step of the funnel.
type FunnelStage struct {
	Stage      commonv1.Stage
	Reached    int
	Conversion float64
	Rejected   int
	Withdrawn  int
}

// Funnel counts applications that reached each stage, with conversion
// from the stage before and the rejections and withdrawals in it.
func (s *Service) Funnel(ctx context.Context, regions []string, campaignID string) ([]FunnelStage, error) {
	rows, err := s.store.Counts(ctx, regions, campaignID)
	if err != nil {
		return nil, err
	}
	byKind := map[projection.CountKind]map[commonv1.Stage]int{}
	for _, r := range rows {
		if byKind[r.Kind] == nil {
			byKind[r.Kind] = map[commonv1.Stage]int{}
		}
		byKind[r.Kind][r.Stage] += r.N
	}
	out := make([]FunnelStage, len(PipelineStages))
	for i, st := range PipelineStages {
		f := FunnelStage{Stage: st, Reached: byKind[projection.Reached][st], Rejected: byKind[projection.Rejected][st],
			Withdrawn: byKind[projection.Withdrawn][st], Conversion: 1}
		if i > 0 {
			f.Conversion = 0
			if prev := out[i-1].Reached; prev > 0 {
				f.Conversion = float64(f.Reached) / float64(prev)
			}
		}
		out[i] = f
	}
	return out, nil
}

// StageDuration is how long applications spent in a stage, and how many
// are in it now.
type StageDuration struct {
	Stage   commonv1.Stage
	Days    stats.Summary
	Current int
}

// StageDurations summarises the time spent in each stage by applications
// that left it within the window.
func (s *Service) StageDurations(ctx context.Context, regions []string, w Window) ([]StageDuration, error) {
	from, to := w.bounds()
	stages := PipelineStages[:4]
	measures := make([]projection.Measure, len(stages))
	for i, st := range stages {
		measures[i] = projection.StageDuration + projection.Measure(st)
	}
	buckets, err := s.store.Durations(ctx, store.DurationFilter{Regions: regions, Measures: measures, From: from, To: to}, false)
	if err != nil {
		return nil, err
	}
	hists := map[projection.Measure]map[int]int{}
	for _, b := range buckets {
		if hists[b.Measure] == nil {
			hists[b.Measure] = map[int]int{}
		}
		hists[b.Measure][b.Days] += b.N
	}
	current, err := s.current(ctx, regions)
	if err != nil {
		return nil, err
	}
	out := make([]StageDuration, len(stages))
	for i, st := range stages {
		out[i] = StageDuration{Stage: st, Days: stats.FromHistogram(hists[measures[i]]), Current: current[st]}
	}
	return out, nil
}

func (s *Service) current(ctx context.Context, regions []string) (map[commonv1.Stage]int, error) {
	rows, err := s.store.Counts(ctx, regions, "")
	if err != nil {
		return nil, err
	}
	out := map[commonv1.Stage]int{}
	for _, r := range rows {
		if r.Kind == projection.Current {
			out[r.Stage] += r.N
		}
	}
	return out, nil
}

// Summary is a region's headline figures.
type Summary struct {
	Region string
	// Current applications per stage, in AllStages order.
	StageCounts          map[commonv1.Stage]int
	Stuck                int
	MedianTimeToHireDays float64
	AsOf                 time.Time
}

// SummaryWindow is how far back the summary's median time to hire looks.
const SummaryWindow = 90 * 24 * time.Hour

// Summary returns a region's counts per stage, how many are stuck, and the
// median time to hire (calendar days) over offers made in the 90 days to asOf.
func (s *Service) Summary(ctx context.Context, region string, asOf time.Time) (Summary, error) {
	current, err := s.current(ctx, []string{region})
	if err != nil {
		return Summary{}, err
	}
	stuck, err := s.store.StuckApplications(ctx, region, asOf)
	if err != nil {
		return Summary{}, err
	}
	today := projection.Day(asOf)
	buckets, err := s.store.Durations(ctx, store.DurationFilter{Regions: []string{region},
		Measures: []projection.Measure{projection.TimeToHire}, From: projection.Day(asOf.Add(-SummaryWindow)), To: today}, false)
	if err != nil {
		return Summary{}, err
	}
	h := map[int]int{}
	for _, b := range buckets {
		h[b.Days] += b.N
	}
	return Summary{Region: region, StageCounts: current, Stuck: stuck, MedianTimeToHireDays: stats.FromHistogram(h).Median, AsOf: asOf}, nil
}
