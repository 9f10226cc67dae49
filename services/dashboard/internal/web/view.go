package web

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/weekly"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/chart"
)

// london is the zone people read the dashboard's dates and times in.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// summaryView is one region's headline figures as the pages print them.
// Fields holds every figure that live updates may change, keyed by the
// data-field name the page marks it with, so the first render and every
// later update format a figure the same way.
type summaryView struct {
	Region, Name string
	Fields       map[string]string
	// Sig identifies the figures (not their as_of): when it changes, the
	// page's lists and charts are out of date.
	Sig string
}

// stageField is the data-field of a stage's count.
func stageField(s commonv1.Stage) string { return "stage-" + stageCode(s) }

// noOffers stands for the median time to hire of a region with no offers
// in the window.
const noOffers = "–"

func summaryToView(s *pb.RegionSummary) summaryView {
	counts := map[commonv1.Stage]int32{}
	for _, c := range s.GetStageCounts() {
		counts[c.GetStage()] = c.GetCount()
	}
	f := map[string]string{
		"stuck":  strconv.Itoa(int(s.GetStuckCount())),
		"median": noOffers, // no offers made in the window: no median
	}
	if s.GetTimeToHireCount() > 0 {
		f["median"] = days(s.GetMedianTimeToHireDays())
	}
	var active int32
	for _, st := range allStages {
		f[stageField(st)] = strconv.Itoa(int(counts[st]))
		if slices.Contains(pipelineStages[:4], st) {
			active += counts[st]
		}
	}
	f["active"] = strconv.Itoa(int(active))
	h := fnv.New64a()
	for _, k := range slices.Sorted(maps.Keys(f)) {
		fmt.Fprintf(h, "%s=%s;", k, f[k])
	}
	if s.GetAsOf() != nil {
		f["as-of"] = s.GetAsOf().AsTime().In(london).Format("15:04:05")
	}
	return summaryView{Region: s.GetRegion(), Name: regionName(s.GetRegion()), Fields: f,
		Sig: strconv.FormatUint(h.Sum64(), 36)}
}

// liveUpdate is what an event stream sends a page about one region.
type liveUpdate struct {
	Region    string            `json:"region"`
	Connected bool              `json:"connected"`
	Sig       string            `json:"sig,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// column is a stage column of a table of stage counts.
type column struct {
	Field, Name string
}

func stageColumns(stages []commonv1.Stage) []column {
	out := make([]column, len(stages))
	for i, s := range stages {
		out[i] = column{Field: stageField(s), Name: stageName(s)}
	}
	return out
}

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// stuckView is the stuck list of a region, as filtered and paged.
type stuckView struct {
	Region, RegionName string
	// Stage and Severity are the filter's codes ("" for all); Campaign its
	// campaign id; Filtered whether any filter is set.
	Stage, Severity string
	Campaign        string
	Filtered        bool
	StageOptions    []option
	SeverityOptions []option
	RoleOptions     []option
	KindOptions     []option
	ReasonOptions   []option
	Rows            []stuckRow
	Warnings        int
	Breaches        int
	// NextURL is the next page, FirstURL the first when on a later one.
	NextURL, FirstURL string
	CSVURL            string
	FragmentURL       string
	// AsOf is the past date the list is as of ("" for now), kept by the
	// filter form.
	AsOf string
}

// stuckRow is one stuck candidate.
type stuckRow struct {
	ApplicationID, CampaignID string
	// CampaignTitle is empty while reporting has no title for the campaign.
	CampaignTitle          string
	Role, Stage, Kind      string
	BlockedReason          string
	Since, SinceISO        string
	Days, DaysOverdue      int
	Severity, SeverityCode string
	NextActor              string
	// Assignee is the named owner's subject id, "" when nobody is.
	Assignee string
}

// campaign names the row's campaign for people: its title, or its id
// while reporting has no title for it.
func (r stuckRow) campaign() string { return cmp.Or(r.CampaignTitle, r.CampaignID) }

func stuckToRow(c *pb.StuckCandidate) stuckRow {
	since := c.GetSince().AsTime().In(london)
	return stuckRow{
		ApplicationID: c.GetApplicationId(), CampaignID: c.GetCampaignId(), CampaignTitle: c.GetCampaignTitle(),
		Role: roleName(c.GetRole()), Stage: stageName(c.GetStage()), Kind: kindName(c.GetKind()),
		BlockedReason: blockReasonName(c.GetBlockedReason()),
		Since:         since.Format("2 Jan 2006"), SinceISO: since.Format(time.RFC3339),
		Days: int(c.GetDays()), DaysOverdue: int(c.GetDaysOverdue()),
		Severity: severityName(c.GetSeverity()), SeverityCode: severityCode(c.GetSeverity()),
		NextActor: nextActorName(c.GetNextActor()), Assignee: c.GetAssignee(),
	}
}

// stuckFilter is the stuck list's query as it travels in links.
type stuckFilter struct {
	Stage         commonv1.Stage
	Severity      pb.Severity
	Role          commonv1.JobRole
	CampaignID    string
	Kind          pb.StuckKind
	BlockedReason commonv1.BlockReason
	// AsOf is the past London date the page shows the pipeline at (the end
	// of that day), "" for now.
	AsOf      string
	PageToken string
}

// request is the API request for one page of the filtered list.
func (f stuckFilter) request(region string, pageSize int32, token string) *pb.ListStuckCandidatesRequest {
	return &pb.ListStuckCandidatesRequest{
		Region: region, Stage: f.Stage, Severity: f.Severity, Role: f.Role, CampaignId: f.CampaignID,
		Kind: f.Kind, BlockedReason: f.BlockedReason, PageSize: pageSize, PageToken: token, AsOf: asOfTimestamp(f.AsOf),
	}
}

// filtered reports whether any filter is set.
func (f stuckFilter) filtered() bool {
	f.PageToken, f.AsOf = "", ""
	return f != stuckFilter{}
}

// query encodes the filter; with page false it leaves the page token out.
func (f stuckFilter) query(page bool) string {
	q := url.Values{}
	if f.Stage != commonv1.Stage_STAGE_UNSPECIFIED {
		q.Set("stage", stageCode(f.Stage))
	}
	if f.Severity != pb.Severity_SEVERITY_UNSPECIFIED {
		q.Set("severity", severityCode(f.Severity))
	}
	if f.Role != 0 {
		q.Set("role", enumCode(f.Role, "JOB_ROLE_"))
	}
	if f.CampaignID != "" {
		q.Set("campaign", f.CampaignID)
	}
	if f.Kind != 0 {
		q.Set("rule", enumCode(f.Kind, "STUCK_KIND_"))
	}
	if f.BlockedReason != 0 {
		q.Set("blocked_reason", enumCode(f.BlockedReason, "BLOCK_REASON_"))
	}
	if f.AsOf != "" {
		q.Set("as_of", f.AsOf)
	}
	if page && f.PageToken != "" {
		q.Set("page_token", f.PageToken)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

func stuckToView(region string, f stuckFilter, resp *pb.ListStuckCandidatesResponse) stuckView {
	base := "/regions/" + url.PathEscape(region)
	v := stuckView{
		Region: region, RegionName: regionName(region), AsOf: f.AsOf,
		Warnings: int(resp.GetWarningCount()), Breaches: int(resp.GetBreachCount()),
		CSVURL: base + "/stuck.csv" + f.query(false), FragmentURL: base + "/stuck",
		StageOptions:    []option{{Value: "", Label: "All stages", Selected: f.Stage == 0}},
		SeverityOptions: []option{{Value: "", Label: "Warnings and breaches", Selected: f.Severity == 0}},
		RoleOptions:     []option{{Value: "", Label: "All roles", Selected: f.Role == 0}},
		KindOptions:     []option{{Value: "", Label: "Any reason", Selected: f.Kind == 0}},
		ReasonOptions:   []option{{Value: "", Label: "Any block reason", Selected: f.BlockedReason == 0}},
		Campaign:        f.CampaignID, Filtered: f.filtered(),
	}
	for _, r := range filterRoles {
		v.RoleOptions = append(v.RoleOptions, option{Value: enumCode(r, "JOB_ROLE_"), Label: roleName(r), Selected: r == f.Role})
	}
	for _, k := range filterKinds {
		v.KindOptions = append(v.KindOptions, option{Value: enumCode(k, "STUCK_KIND_"), Label: kindName(k), Selected: k == f.Kind})
	}
	for _, r := range filterReasons {
		v.ReasonOptions = append(v.ReasonOptions, option{Value: enumCode(r, "BLOCK_REASON_"), Label: blockReasonName(r), Selected: r == f.BlockedReason})
	}
	if f.Stage != 0 {
		v.Stage = stageCode(f.Stage)
	}
	if f.Severity != 0 {
		v.Severity = severityCode(f.Severity)
	}
	for _, s := range stuckStages {
		v.StageOptions = append(v.StageOptions, option{Value: stageCode(s), Label: stageName(s), Selected: s == f.Stage})
	}
	for _, s := range severities {
		v.SeverityOptions = append(v.SeverityOptions, option{Value: severityCode(s), Label: severityOnly[s], Selected: s == f.Severity})
	}
	for _, c := range resp.GetCandidates() {
		v.Rows = append(v.Rows, stuckToRow(c))
	}
	if next := resp.GetNextPageToken(); next != "" {
		nextPage := f
		nextPage.PageToken = next
		v.NextURL = base + nextPage.query(true)
	}
	if f.PageToken != "" {
		v.FirstURL = base + f.query(false)
	}
	return v
}

// chartsView holds a region's charts, each with the table of its data.
type chartsView struct {
	FragmentURL  string
	Trend        chart.LineChart
	TrendRows    []trendRow
	TrendWeeks   int
	Funnel       chart.BarChart
	FunnelRows   []funnelRow
	Durations    chart.BarChart
	DurationRows []durationRow
	// VettingRows are where vetting waits: its steps, then blocks by reason.
	VettingRows  []vettingRow
	Measures     []measureRow
	StartedEarly int
	Breakdown    breakdownView
}

// breakdownView is a region's pipeline by application source and the
// reasons applications left it (GetReasonBreakdown).
type breakdownView struct {
	Sources []sourceRow
	Reasons []reasonRow
}

type sourceRow struct {
	Source                                string
	Submitted, PassedSift, Offered, Hired int
	Conversion, TimeToHireMedian          string
	TimeToHireCount, Rejected, Withdrawn  int
}

type reasonRow struct {
	Exit, Reason, Stage string
	Count               int
	Median              string
}

func breakdownToView(b *pb.GetReasonBreakdownResponse) breakdownView {
	var v breakdownView
	for _, s := range b.GetSources() {
		r := sourceRow{Source: sourceName(s.GetSource())}
		for _, st := range s.GetStages() {
			switch st.GetStage() {
			case commonv1.Stage_STAGE_SIFT:
				r.Submitted = int(st.GetReached())
			case commonv1.Stage_STAGE_INTERVIEW:
				r.PassedSift = int(st.GetReached())
			case commonv1.Stage_STAGE_OFFER:
				r.Offered = int(st.GetReached())
			case commonv1.Stage_STAGE_HIRED:
				r.Hired = int(st.GetReached())
			}
			r.Rejected += int(st.GetRejected())
			r.Withdrawn += int(st.GetWithdrawn())
		}
		r.Conversion = "–"
		if r.Submitted > 0 {
			r.Conversion = percent(float64(r.Hired) / float64(r.Submitted))
		}
		tth := s.GetTimeToHire().GetCalendarDays()
		r.TimeToHireCount, r.TimeToHireMedian = int(tth.GetCount()), days(tth.GetMedian())
		v.Sources = append(v.Sources, r)
	}
	for _, c := range b.GetReasons() {
		v.Reasons = append(v.Reasons, reasonRow{Exit: exitName(c.GetKind()), Reason: reasonName(c.GetReasonCode()),
			Stage: stageName(c.GetStage()), Count: int(c.GetCount()), Median: days(c.GetDaysToExit().GetMedian())})
	}
	return v
}

type trendRow struct {
	Week   string
	Count  int
	Median string
}

type funnelRow struct {
	Stage      string
	Reached    int
	Conversion string
	Rejected   int
	Withdrawn  int
}

type durationRow struct {
	Stage             string
	Count             int
	Mean, Median, P90 string
	Current           int
}

type vettingRow struct {
	Span              string
	Count             int
	Mean, Median, P90 string
}

// vettingSpanNames name the steps of GetVettingDurations.
var vettingSpanNames = map[pb.VettingStep]string{
	pb.VettingStep_VETTING_STEP_OPENED_TO_FORMS_RECEIVED:  "Opened to forms received",
	pb.VettingStep_VETTING_STEP_FORMS_RECEIVED_TO_CLEARED: "Forms received to cleared",
	pb.VettingStep_VETTING_STEP_OPENED_TO_CLEARED:         "Opened to cleared",
}

// vettingToRows lists the steps of vetting, then the blocks by reason.
func vettingToRows(r *pb.GetVettingDurationsResponse) []vettingRow {
	var rows []vettingRow
	add := func(name string, s *pb.Statistics) {
		rows = append(rows, vettingRow{Span: name, Count: int(s.GetCount()), Mean: days(s.GetMean()), Median: days(s.GetMedian()), P90: days(s.GetP90())})
	}
	for _, s := range r.GetSteps() {
		add(vettingSpanNames[s.GetStep()], s.GetDays())
	}
	for _, b := range r.GetBlocked() {
		add("Blocked: "+blockReasonName(b.GetReason()), b.GetDays())
	}
	return rows
}

type measureRow struct {
	Name                             string
	Count                            int
	Median, P90, WorkMedian, WorkP90 string
}

// trendWeeks is how far back the time-to-hire trend goes.
const trendWeeks = 26

func chartsToView(region string, tth *pb.GetTimeToHireResponse, funnel *pb.GetFunnelResponse, durations *pb.GetStageDurationsResponse) (chartsView, error) {
	name := regionName(region)
	v := chartsView{FragmentURL: "/regions/" + url.PathEscape(region) + "/charts", TrendWeeks: trendWeeks, StartedEarly: int(tth.GetStartedBeforeVettingCleared())}

	var points []chart.Point
	for _, m := range tth.GetMeasures() {
		v.Measures = append(v.Measures, measureRow{
			Name: measureName(m.GetMeasure()), Count: int(m.GetCalendarDays().GetCount()),
			Median: days(m.GetCalendarDays().GetMedian()), P90: days(m.GetCalendarDays().GetP90()),
			WorkMedian: days(m.GetWorkingDays().GetMedian()), WorkP90: days(m.GetWorkingDays().GetP90()),
		})
		if m.GetMeasure() != pb.Measure_MEASURE_TIME_TO_HIRE {
			continue
		}
		weeks, err := weekly.Points(m.GetWeeklyTrend())
		if err != nil {
			return chartsView{}, err
		}
		var next time.Time
		for _, w := range weeks {
			// Weeks with no offer have no point: keep their place on the axis.
			for ; !next.IsZero() && next.Before(w.Week); next = next.AddDate(0, 0, 7) {
				points = append(points, chart.Point{Label: next.Format("2 Jan"), Missing: true})
			}
			next = w.Week.AddDate(0, 0, 7)
			points = append(points, chart.Point{Label: w.Week.Format("2 Jan"), Value: w.Median, Text: days(w.Median) + " days"})
			v.TrendRows = append(v.TrendRows, trendRow{Week: w.Week.Format("2 Jan 2006"), Count: w.Count, Median: days(w.Median)})
		}
	}
	v.Trend = chart.LineChart{
		ID: "trend", YLabel: "days", Points: points,
		Title: "Median time to hire by week, " + name,
		Desc:  fmt.Sprintf("Line chart of the median number of calendar days from campaign close to conditional offer, for offers made in each of the last %d weeks. The table below gives the same figures.", trendWeeks),
	}

	var bars []chart.Bar
	for _, s := range funnel.GetStages() {
		bars = append(bars, chart.Bar{Label: stageName(s.GetStage()), Value: float64(s.GetReached()), Text: strconv.Itoa(int(s.GetReached()))})
		v.FunnelRows = append(v.FunnelRows, funnelRow{Stage: stageName(s.GetStage()), Reached: int(s.GetReached()),
			Conversion: percent(s.GetConversionFromPrevious()), Rejected: int(s.GetRejected()), Withdrawn: int(s.GetWithdrawn())})
	}
	v.Funnel = chart.BarChart{ID: "funnel", Bars: bars,
		Title: "Applications reaching each stage, " + name,
		Desc:  "Bar chart of how many applications ever reached each stage of the pipeline. The table below gives the same figures with conversion rates."}

	bars = nil
	for _, d := range durations.GetStages() {
		bars = append(bars, chart.Bar{Label: stageName(d.GetStage()), Value: d.GetDays().GetMedian(), Text: days(d.GetDays().GetMedian()) + " days"})
		v.DurationRows = append(v.DurationRows, durationRow{Stage: stageName(d.GetStage()), Count: int(d.GetDays().GetCount()),
			Mean: days(d.GetDays().GetMean()), Median: days(d.GetDays().GetMedian()), P90: days(d.GetDays().GetP90()), Current: int(d.GetCurrent())})
	}
	v.Durations = chart.BarChart{ID: "durations", Bars: bars,
		Title: "Median days spent in each stage, " + name,
		Desc:  "Bar chart of the median number of calendar days applications spent in each stage before leaving it. The table below gives the same figures."}
	return v, nil
}

// asOfTimestamp is the end of the London date d ("2006-01-02") as the
// reports' as_of: the pipeline as it stood when that day ended. nil for "".
func asOfTimestamp(d string) *timestamppb.Timestamp {
	day, err := time.ParseInLocation(time.DateOnly, d, london)
	if d == "" || err != nil {
		return nil
	}
	return timestamppb.New(day.AddDate(0, 0, 1).Add(-time.Microsecond))
}

// parseAsOf reads a page's as_of: a London date before today (the page
// then shows the pipeline as it stood at the end of it), or "" — also for
// today or a later date, which is the live page.
func parseAsOf(v string, now time.Time) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", true
	}
	day, err := time.ParseInLocation(time.DateOnly, v, london)
	if err != nil || day.Year() < 2000 {
		return "", false
	}
	today := now.In(london)
	if !day.Before(time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, london)) {
		return "", true
	}
	return day.Format(time.DateOnly), true
}
