// Package report answers the reporting questions of docs/design.md §5 from the
// projection's aggregates: stuck candidates, time to hire, the funnel,
// stage durations and region summaries.
package report

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/stats"
)

// Store is what the reports read: the projection's versions, checked
// before every report (see versions.go), and a region's aggregates, read
// when they have moved on (see cache.go); and the regions' stuck
// thresholds, read and set (see thresholds.go); and the open cases of
// people's lists and workloads (see cases.go).
type Store interface {
	Versions(ctx context.Context) (Versions, error)
	LoadRegion(ctx context.Context, region string, after int64) (RegionRows, error)
	AllThresholds(ctx context.Context) (map[string]projection.Thresholds, error)
	SetThresholds(ctx context.Context, region string, expectedVersion int64, th projection.Thresholds) (projection.Thresholds, error)
	CampaignTitles(ctx context.Context, ids []string) (map[string]string, error)
	OpenCases(ctx context.Context, q CaseQuery) ([]CaseRow, error)
	OutstandingChecks(ctx context.Context, q ChecksQuery) ([]OutstandingChecks, error)
	// Apps reads the records q selects, with their campaigns (see
	// breakdown.go).
	Apps(ctx context.Context, q AppQuery) ([]*projection.App, map[string]*projection.Campaign, error)
	ProgressStore
	PastLoader
	EarlyStarts(ctx context.Context, region string, today time.Time) (EarlyStarts, error)
}

// Service computes reports.
type Service struct {
	store    Store
	versions *versionCheck
	cache    *cache
	answers  answerMemo
	pasts    pastMemo
}

// NewService returns a Service.
func NewService(s Store) *Service {
	return &Service{store: s, versions: newVersionCheck(s.Versions), cache: &cache{load: s}}
}

// Changed tells the service that the projection has changed: call it
// after each transaction that changes it commits (and before anything
// that depends on reports seeing it), and on every region notification.
// A report that begins after the call reflects the change.
func (s *Service) Changed() { s.versions.changed() }

// Listening tells the service whether Changed is being called for the
// changes other processes make (the watch hub's LISTEN connection is up).
// Until it is, every report reads the projection's versions.
func (s *Service) Listening(on bool) { s.versions.setListening(on) }

// Warm loads the regions' aggregates into the cache, so that the first
// reports after a start need not (a region of 80,000 applications takes
// a few hundred milliseconds to load).
func (s *Service) Warm(ctx context.Context, regions []string) error {
	_, err := s.regions(ctx, regions)
	return err
}

// regions returns an up-to-date snapshot of each region.
func (s *Service) regions(ctx context.Context, regions []string) ([]*snapshot, error) {
	v, err := s.versions.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.cache.snapshots(ctx, v, regions)
}

// Pipeline stages in order, and the ones a candidate can be stuck in.
var (
	PipelineStages = []commonv1.Stage{
		commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER,
		commonv1.Stage_STAGE_PRE_EMPLOYMENT, commonv1.Stage_STAGE_HIRED,
	}
	AllStages = append(slices.Clone(PipelineStages), commonv1.Stage_STAGE_REJECTED, commonv1.Stage_STAGE_WITHDRAWN)
)

// StuckFilter selects stuck clocks that have passed AsOf.
type StuckFilter struct {
	Region string
	// Stage, Role, CampaignID, Kind and BlockedReason, each if set, keep
	// the clocks that match it.
	Stage         commonv1.Stage
	Role          commonv1.JobRole
	CampaignID    string
	Kind          projection.StuckKind
	BlockedReason commonv1.BlockReason
	// Assignee, if set, keeps the clocks of that assignee; Unassigned the
	// clocks of nobody's.
	Assignee   string
	Unassigned bool
	// Breach: nil for all, true for breaches only, false for warnings only.
	Breach *bool
	AsOf   time.Time
	// Chosen: the caller chose AsOf (see AsOf); a page resumed from a
	// cursor keeps its first page's.
	Chosen bool
	// After is the position to list after (nil: from the start); Resume
	// sets it from a page's cursor.
	After *StuckPosition
	Limit int
}

// StuckPosition is a clock's place in the stuck list as of a time: most
// overdue first, as people read it — breaches before warnings, then by
// whole days past the threshold that applies (descending), then the
// longest running clock (earliest Since), then application and kind so
// that the order is total.
type StuckPosition struct {
	Breach      bool
	DaysOverdue int
	Since       time.Time
	App         uuid.UUID
	Kind        projection.StuckKind
}

// compare orders positions as the list does.
func (p StuckPosition) compare(q StuckPosition) int {
	if p.Breach != q.Breach {
		if p.Breach {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(q.DaysOverdue, p.DaysOverdue); c != 0 {
		return c
	}
	if c := p.Since.Compare(q.Since); c != 0 {
		return c
	}
	if c := bytes.Compare(p.App[:], q.App[:]); c != 0 {
		return c
	}
	return cmp.Compare(p.Kind, q.Kind)
}

// Overdue says whether r is a breach at asOf, and how many whole days it
// is past the threshold that applies (the breach threshold for a breach,
// else the warning threshold). A clock is a breach only once it has passed
// its warning too.
func (r StuckRow) Overdue(asOf time.Time) (breach bool, days int) {
	passed := r.WarningAt
	if !r.BreachAt.After(asOf) && !r.WarningAt.After(asOf) {
		breach, passed = true, r.BreachAt
	}
	if d := asOf.Sub(passed); d > 0 {
		days = int(d / (24 * time.Hour))
	}
	return breach, days
}

// Position is r's place in the stuck list as of asOf.
func (r StuckRow) Position(asOf time.Time) StuckPosition {
	breach, days := r.Overdue(asOf)
	app, _ := uuid.Parse(r.ApplicationID)
	return StuckPosition{Breach: breach, DaysOverdue: days, Since: r.Since, App: app, Kind: r.Kind}
}

// Cursor is r's position in the stuck list as of asOf, for a page token
// to resume after. It carries asOf so that later pages list the same set
// in the same order (days overdue depend on it).
func (r StuckRow) Cursor(asOf time.Time) string {
	return r.Position(asOf.Truncate(time.Microsecond)).cursor(asOf)
}

// cursor is p, as of asOf, as Resume reads it.
func (p StuckPosition) cursor(asOf time.Time) string {
	breach := "0"
	if p.Breach {
		breach = "1"
	}
	return strings.Join([]string{asOf.Format(time.RFC3339Nano), breach, strconv.Itoa(p.DaysOverdue),
		p.Since.Format(time.RFC3339Nano), p.App.String(), strconv.Itoa(int(p.Kind))}, "|")
}

// Resume sets f to list after cursor, as of the cursor's time, or from
// the start if cursor is "". A cursor that is not one is
// pagetoken.ErrInvalid: a client can forge a token.
func (f *StuckFilter) Resume(cursor string) error {
	f.After = nil
	if cursor == "" {
		return nil
	}
	parts := strings.Split(cursor, "|")
	if len(parts) != 6 || (parts[1] != "0" && parts[1] != "1") {
		return pagetoken.ErrInvalid
	}
	asOf, terr := time.Parse(time.RFC3339Nano, parts[0])
	days, derr := strconv.Atoi(parts[2])
	since, serr := time.Parse(time.RFC3339Nano, parts[3])
	app, aerr := uuid.Parse(parts[4])
	kind, kerr := strconv.Atoi(parts[5])
	if terr != nil || derr != nil || serr != nil || aerr != nil || kerr != nil {
		return pagetoken.ErrInvalid
	}
	f.AsOf = asOf
	f.After = &StuckPosition{Breach: parts[1] == "1", DaysOverdue: days, Since: since, App: app, Kind: projection.StuckKind(kind)}
	return nil
}

// matches reports whether clock c passes f's filters other than severity.
func (f *StuckFilter) matches(c *stuckClock) bool {
	return (f.Stage == 0 || c.Stage == f.Stage) && (f.Role == 0 || c.Role == f.Role) &&
		(f.CampaignID == "" || c.CampaignID == f.CampaignID) && (f.Kind == 0 || c.Kind == f.Kind) &&
		(f.BlockedReason == 0 || c.BlockedReason == f.BlockedReason) &&
		(f.Assignee == "" || c.Assignee == f.Assignee) && (!f.Unassigned || c.Assignee == "")
}

// Stuck lists the clocks past their warning at AsOf that pass the
// filters, most overdue first (see StuckPosition), up to Limit after the
// position After, with the number of warnings and breaches among the
// clocks the filters other than severity keep. The clocks past their
// warning are a prefix of the snapshot's (held by warning time); their
// order depends on AsOf, so each page sorts the ones after its cursor.
func (s *Service) Stuck(ctx context.Context, f StuckFilter) (rows []StuckRow, warnings, breaches int, err error) {
	snaps, err := s.regionsAt(ctx, []string{f.Region}, AsOf{At: f.AsOf, Chosen: f.Chosen})
	if err != nil {
		return nil, 0, 0, err
	}
	snap := snaps[0]
	// Times as PostgreSQL holds them: whole microseconds.
	asOf := f.AsOf.Truncate(time.Microsecond)
	clocks := snap.stuck[:sort.Search(len(snap.stuck), func(i int) bool { return snap.stuck[i].WarningAt.After(asOf) })]
	page := firstK{k: f.Limit}
	now := asOf.UnixMicro()
	for i := range clocks {
		c := &clocks[i]
		if !f.matches(c) {
			continue
		}
		// As Overdue, in microseconds: every clock here is past its warning.
		breach, passed := c.breach <= now, c.warning
		if breach {
			breaches++
			passed = c.breach
		} else {
			warnings++
		}
		if f.Breach != nil && breach != *f.Breach {
			continue
		}
		days := int((now - passed) / dayMicros)
		if page.after(breach, days) {
			continue
		}
		pos := StuckPosition{Breach: breach, DaysOverdue: days, Since: c.Since, App: c.app, Kind: c.Kind}
		if f.After != nil && pos.compare(*f.After) <= 0 {
			continue
		}
		page.offer(placed{pos, &c.StuckRow})
	}
	slices.SortFunc(page.items, func(a, b placed) int { return a.pos.compare(b.pos) })
	rows = make([]StuckRow, len(page.items))
	for i, p := range page.items {
		rows[i] = *p.row
	}
	return rows, warnings, breaches, nil
}

// placed is a clock and its position in the list.
type placed struct {
	pos StuckPosition
	row *StuckRow
}

// firstK keeps the k positions first in the list's order of those offered,
// in a heap with the last of them on top: a page costs one comparison per
// clock past it, not a sort of every clock (a region may have tens of
// thousands).
type firstK struct {
	k     int
	items []placed
}

func (h *firstK) Len() int           { return len(h.items) }
func (h *firstK) Less(i, j int) bool { return h.items[i].pos.compare(h.items[j].pos) > 0 }
func (h *firstK) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *firstK) Push(x any)         { h.items = append(h.items, x.(placed)) }
func (h *firstK) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}

const dayMicros = int64(24 * time.Hour / time.Microsecond)

// after reports, cheaply, whether a clock with this severity and days
// overdue comes after every position kept, when k are kept already (ties
// need the whole position).
func (h *firstK) after(breach bool, days int) bool {
	if len(h.items) < h.k || h.k == 0 {
		return h.k == 0
	}
	last := h.items[0].pos
	if breach != last.Breach {
		return !breach
	}
	return days < last.DaysOverdue
}

func (h *firstK) offer(p placed) {
	switch {
	case h.k <= 0:
	case len(h.items) < h.k:
		heap.Push(h, p)
	case p.pos.compare(h.items[0].pos) < 0:
		h.items[0] = p
		heap.Fix(h, 0)
	}
}

// Window is a span of London dates, inclusive; zero ends are open.
type Window struct{ From, To time.Time }

// days returns the window's ends as day numbers, open ends as far-off
// days.
func (w Window) days() (int32, int32) {
	from, to := w.bounds()
	return dayNumber(from), dayNumber(to)
}

// Bounds are the window's ends, open ends as far-off dates.
func (w Window) Bounds() (time.Time, time.Time) { return w.bounds() }

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
	AsOf       AsOf
}

// HiringMeasures are the docs/design.md §5 measures, in order.
var HiringMeasures = []projection.Measure{
	projection.TimeToHire, projection.TimeToFill, projection.ApplicationToStart, projection.OfferToClearance,
}

// TimeToHireAnswer is GetTimeToHire's answer. Callers asking the same
// question of the same snapshots share one answer: treat it as read-only.
type TimeToHireAnswer struct {
	Measures     []MeasureResult
	StartedEarly int

	rendered sync.Once
	view     any
}

// Rendered returns render(a), computed once per answer (the API's
// response message, say, so that repeated questions skip building it).
func (a *TimeToHireAnswer) Rendered(render func(*TimeToHireAnswer) any) any {
	a.rendered.Do(func() { a.view = render(a) })
	return a.view
}

// TimeToHire summarises the hiring measures over the query, with a weekly
// trend, and counts the starts before vetting cleared. A question asked
// again before any region it covers has changed gets the same answer.
func (s *Service) TimeToHire(ctx context.Context, q TimeToHireQuery) (*TimeToHireAnswer, error) {
	snaps, err := s.regionsAt(ctx, q.Regions, q.AsOf)
	if err != nil {
		return nil, err
	}
	f := filter{campaign: q.CampaignID, role: q.Role}
	f.from, f.to = q.Window.days()
	key := fmt.Sprintf("%q %d %d %d", q.CampaignID, q.Role, f.from, f.to)
	for _, snap := range snaps {
		key += " " + strconv.FormatUint(snap.id, 10)
	}
	return s.answers.get(key, func() *TimeToHireAnswer { return timeToHire(snaps, f) }), nil
}

func timeToHire(snaps []*snapshot, f filter) *TimeToHireAnswer {
	var early tally
	sum(snaps, projection.StartedBeforeCleared, f, &early)
	out := &TimeToHireAnswer{Measures: make([]MeasureResult, 0, len(HiringMeasures)), StartedEarly: early.cal.total}
	for _, m := range HiringMeasures {
		t := tally{byWeek: true}
		sum(snaps, m, f, &t)
		r := MeasureResult{Measure: m, Calendar: t.cal.summary(), Working: t.work.summary()}
		weeks := t.weekly()
		r.Weekly = make([]WeekPoint, len(weeks))
		for i, w := range weeks {
			r.Weekly[i] = WeekPoint{Week: dayTime(w.week), Calendar: w.stats()}
		}
		out.Measures = append(out.Measures, r)
	}
	return out
}

// answerMemo keeps recent answers by question and snapshots. A snapshot
// never changes, so an answer keyed by the snapshots it was computed from
// is exact for as long as they are current; once a region moves on, its
// new snapshot has a new id and the old entries are never asked for again.
type answerMemo struct {
	mu sync.Mutex
	m  map[string]*TimeToHireAnswer
}

// maxAnswers bounds the memo; when full it starts again.
const maxAnswers = 256

func (a *answerMemo) get(key string, compute func() *TimeToHireAnswer) *TimeToHireAnswer {
	a.mu.Lock()
	ans, ok := a.m[key]
	a.mu.Unlock()
	if ok {
		return ans
	}
	ans = compute()
	a.mu.Lock()
	if a.m == nil || len(a.m) >= maxAnswers {
		a.m = map[string]*TimeToHireAnswer{}
	}
	a.m[key] = ans
	a.mu.Unlock()
	return ans
}

// FunnelStage is one step of the funnel.
type FunnelStage struct {
	Stage      commonv1.Stage
	Reached    int
	Conversion float64
	Rejected   int
	Withdrawn  int
}

// Funnel counts applications that reached each stage by at, with
// conversion from the stage before and the rejections and withdrawals in
// it.
func (s *Service) Funnel(ctx context.Context, regions []string, campaignID string, at AsOf) ([]FunnelStage, error) {
	snaps, err := s.regionsAt(ctx, regions, at)
	if err != nil {
		return nil, err
	}
	n := map[counter]int{}
	if campaignID == "" {
		for _, snap := range snaps {
			for k, v := range snap.totals {
				n[k] += v
			}
		}
	} else {
		eachCampaign(snaps, campaignID, func(a *campaignAgg) {
			for k, v := range a.counts {
				n[k] += v
			}
		})
	}
	return funnel(n), nil
}

// funnel is the funnel of counters n.
func funnel(n map[counter]int) []FunnelStage {
	out := make([]FunnelStage, len(PipelineStages))
	for i, st := range PipelineStages {
		f := FunnelStage{Stage: st, Reached: n[counter{projection.Reached, st}], Rejected: n[counter{projection.Rejected, st}],
			Withdrawn: n[counter{projection.Withdrawn, st}], Conversion: 1}
		if i > 0 {
			f.Conversion = 0
			if prev := out[i-1].Reached; prev > 0 {
				f.Conversion = float64(f.Reached) / float64(prev)
			}
		}
		out[i] = f
	}
	return out
}

// StageDuration is how long applications spent in a stage, and how many
// are in it now.
type StageDuration struct {
	Stage   commonv1.Stage
	Days    stats.Summary
	Current int
}

// StageDurations summarises the time spent in each stage by applications
// that left it within the window, by q.AsOf, and counts those in it then.
func (s *Service) StageDurations(ctx context.Context, q DurationsQuery) ([]StageDuration, error) {
	snaps, err := s.regionsAt(ctx, q.Regions, q.AsOf)
	if err != nil {
		return nil, err
	}
	f := filter{campaign: q.CampaignID, role: q.Role}
	f.from, f.to = q.Window.days()
	stages := PipelineStages[:4]
	hists := make([]tally, len(stages))
	for i, st := range stages {
		sum(snaps, projection.StageDuration+projection.Measure(st), f, &hists[i])
	}
	current := currentCounts(snaps, q.CampaignID)
	out := make([]StageDuration, len(stages))
	for i, st := range stages {
		out[i] = StageDuration{Stage: st, Days: hists[i].cal.summary(), Current: current[st]}
	}
	return out, nil
}

// DurationsQuery filters StageDurations and VettingDurations.
type DurationsQuery struct {
	Regions    []string
	CampaignID string
	Role       commonv1.JobRole
	// Window on the day a stage, step or block ended.
	Window Window
	// AsOf: the durations as they stood then (StageDurations; see
	// pointintime.go).
	AsOf AsOf
}

// VettingSteps are the spans of vetting VettingDurations measures, in order.
var VettingSteps = []projection.Measure{projection.VettingOpenedToForms, projection.VettingFormsToCleared, projection.VettingOpenedToClear}

// VettingDurations summarises, in calendar days, the steps of vetting
// (VettingSteps) and the blocks that ended, per block reason (1 to
// BLOCK_REASON_OTHER, in order).
func (s *Service) VettingDurations(ctx context.Context, q DurationsQuery) (steps, blocked []stats.Summary, err error) {
	snaps, err := s.regions(ctx, q.Regions)
	if err != nil {
		return nil, nil, err
	}
	f := filter{campaign: q.CampaignID, role: q.Role}
	f.from, f.to = q.Window.days()
	for _, m := range VettingSteps {
		var t tally
		sum(snaps, m, f, &t)
		steps = append(steps, t.cal.summary())
	}
	for r := commonv1.BlockReason(1); r <= commonv1.BlockReason_BLOCK_REASON_OTHER; r++ {
		var t tally
		sum(snaps, projection.VettingBlocked+projection.Measure(r), f, &t)
		blocked = append(blocked, t.cal.summary())
	}
	return steps, blocked, nil
}

func currentCounts(snaps []*snapshot, campaignID string) map[commonv1.Stage]int {
	out := map[commonv1.Stage]int{}
	add := func(counts map[counter]int) {
		for k, v := range counts {
			if k.kind == projection.Current {
				out[k.stage] += v
			}
		}
	}
	if campaignID != "" {
		eachCampaign(snaps, campaignID, func(a *campaignAgg) { add(a.counts) })
		return out
	}
	for _, snap := range snaps {
		add(snap.totals)
	}
	return out
}

// Summary is a region's headline figures.
type Summary struct {
	Region string
	// Current applications per stage, in AllStages order.
	StageCounts          map[commonv1.Stage]int
	Stuck                int
	MedianTimeToHireDays float64
	// TimeToHireCount is how many offers the median is over.
	TimeToHireCount int
	AsOf            time.Time
}

// SummaryWindow is how far back the summary's median time to hire looks.
const SummaryWindow = 90 * 24 * time.Hour

// Summary returns a region's counts per stage, how many are stuck, and the
// median time to hire (calendar days) over offers made in the 90 days to
// at, all as of at.
func (s *Service) Summary(ctx context.Context, region string, at AsOf) (Summary, error) {
	sums, err := s.Summaries(ctx, []string{region}, at)
	if err != nil {
		return Summary{}, err
	}
	return sums[0], nil
}

// Summaries returns the Summary of each region, in order.
func (s *Service) Summaries(ctx context.Context, regions []string, at AsOf) ([]Summary, error) {
	asOf := at.At
	f := filter{from: dayNumber(projection.Day(asOf.Add(-SummaryWindow))), to: dayNumber(projection.Day(asOf))}
	// Live regions not loaded yet (after a start) answer from SQL: see coldload.go.
	if out, ok, err := s.coldSummaries(ctx, regions, at, f); ok {
		return out, err
	}
	snaps, err := s.regionsAt(ctx, regions, at)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, len(regions))
	for i, snap := range snaps {
		out[i] = snapshotSummary(regions[i], snap, asOf, f)
	}
	return out, nil
}

// eachCampaign calls fn with every campaign of the snapshots, or only the
// one with id campaignID if that is set.
func eachCampaign(snaps []*snapshot, campaignID string, fn func(*campaignAgg)) {
	if campaignID == "" {
		for _, snap := range snaps {
			for _, a := range snap.campaigns {
				fn(a)
			}
		}
		return
	}
	id, err := uuid.Parse(campaignID)
	if err != nil {
		return // validated by the API; no campaign has such an id
	}
	for _, snap := range snaps {
		if a := snap.campaigns[CampaignKey(id)]; a != nil {
			fn(a)
		}
	}
}
