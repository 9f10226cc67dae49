package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/weekly"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// These tests cover the converters and templates with hand-made report
// messages; pages served over the real reporting API are tested in e2e/.

func summary(stuck int32, sift int32, asOf time.Time) *pb.RegionSummary {
	return &pb.RegionSummary{
		Region: "kent-surrey-sussex", StuckCount: stuck, MedianTimeToHireDays: 12.5, TimeToHireCount: 8, AsOf: timestamppb.New(asOf),
		StageCounts: []*pb.StageCount{
			{Stage: commonv1.Stage_STAGE_SIFT, Count: sift},
			{Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, Count: 4},
			{Stage: commonv1.Stage_STAGE_REJECTED, Count: 9},
		},
	}
}

func TestSummaryView(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 14, 3, 5, 0, time.UTC)
	v := summaryToView(summary(3, 7, at))
	want := map[string]string{
		"stuck": "3", "median": "12.5", "stage-sift": "7", "stage-pre-employment": "4", "stage-interview": "0",
		"stage-rejected": "9", "active": "11", "as-of": "14:03:05",
	}
	for k, w := range want {
		if got := v.Fields[k]; got != w {
			t.Errorf("field %s = %q, want %q", k, got, w)
		}
	}
	none := summary(3, 7, at)
	none.MedianTimeToHireDays, none.TimeToHireCount = 0, 0
	if got := summaryToView(none).Fields["median"]; got != noOffers {
		t.Errorf("median with no offers = %q, want %q", got, noOffers)
	}
	if v.Name != "Kent, Surrey and Sussex" {
		t.Errorf("name = %q", v.Name)
	}
	// The signature follows the figures, not the time they were read.
	if later := summaryToView(summary(3, 7, at.Add(time.Minute))); later.Sig != v.Sig {
		t.Error("signature changed with as_of alone")
	}
	if changed := summaryToView(summary(2, 7, at)); changed.Sig == v.Sig {
		t.Error("signature did not change with the stuck count")
	}
}

func TestDays(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0", 12: "12", 12.5: "12.5", 12.04: "12", 3.96: "4"} {
		if got := days(in); got != want {
			t.Errorf("days(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestFilterCodesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range stuckStages {
		got, ok := parseStage(stageCode(s))
		if !ok || got != s {
			t.Errorf("parseStage(stageCode(%v)) = %v, %v", s, got, ok)
		}
	}
	if _, ok := parseStage("rejected"); ok {
		t.Error("the stuck list was filtered by a stage nobody is stuck in")
	}
	for _, s := range severities {
		if got, ok := parseSeverity(severityCode(s)); !ok || got != s {
			t.Errorf("parseSeverity(severityCode(%v)) = %v, %v", s, got, ok)
		}
	}
	f := stuckFilter{Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, Severity: pb.Severity_SEVERITY_BREACH, PageToken: "abc"}
	if got := f.query(true); got != "?page_token=abc&severity=breach&stage=pre-employment" {
		t.Errorf("query = %q", got)
	}
	if got := (stuckFilter{}).query(true); got != "" {
		t.Errorf("empty filter query = %q", got)
	}
}

// TestStuckFilterRoundTrip: every filter the page offers survives a link
// (query, then regionRequest) and reaches the API request; a value the
// page does not offer is a bad filter, sent nowhere.
func TestStuckFilterRoundTrip(t *testing.T) {
	t.Parallel()
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, pages: p}
	read := func(query string) (stuckFilter, int) {
		req := httptest.NewRequest(http.MethodGet, "/regions/london"+query, nil)
		req.SetPathValue("region", "london")
		rec := httptest.NewRecorder()
		_, f, _ := s.regionRequest(rec, req)
		return f, rec.Code
	}
	want := stuckFilter{Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, Severity: pb.Severity_SEVERITY_BREACH,
		Role: commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER, CampaignID: "0190d6a0-5b1e-7c3a-9f00-2d4e6b8a1c33",
		Kind: pb.StuckKind_STUCK_KIND_VETTING_BLOCKED, BlockedReason: commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS, PageToken: "tok"}
	q := want.query(true)
	if q != "?blocked_reason=overseas-checks&campaign=0190d6a0-5b1e-7c3a-9f00-2d4e6b8a1c33&page_token=tok&role=victim-liaison-officer&rule=vetting-blocked&severity=breach&stage=pre-employment" {
		t.Errorf("query = %q", q)
	}
	if got, code := read(q); got != want || code != http.StatusOK {
		t.Errorf("read back %+v (%d), want %+v", got, code, want)
	}
	if got, _ := read("?campaign=0190D6A0-5B1E-7C3A-9F00-2D4E6B8A1C33"); got.CampaignID != want.CampaignID {
		t.Errorf("campaign in capitals read as %q", got.CampaignID)
	}
	r := want.request("london", 50, "tok")
	if r.GetRole() != want.Role || r.GetCampaignId() != want.CampaignID || r.GetKind() != want.Kind || r.GetBlockedReason() != want.BlockedReason ||
		r.GetStage() != want.Stage || r.GetSeverity() != want.Severity || r.GetPageToken() != "tok" || r.GetPageSize() != 50 {
		t.Errorf("API request %v does not carry the filter %+v", r, want)
	}
	for _, bad := range []string{"?role=judge", "?rule=bored", "?blocked_reason=none", "?campaign=c1", "?campaign=%27%3B--"} {
		if _, code := read(bad); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, code)
		}
	}
}

func TestToProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code int
		log  bool
	}{
		{errNotFound, http.StatusNotFound, false},
		{errBadFilter, http.StatusBadRequest, false},
		{status.Error(codes.NotFound, "x"), http.StatusNotFound, false},
		{status.Error(codes.InvalidArgument, "page_token: bad"), http.StatusBadRequest, false},
		{status.Error(codes.PermissionDenied, "x"), http.StatusForbidden, false},
		{status.Error(codes.Unauthenticated, "x"), http.StatusServiceUnavailable, true},
		{status.Error(codes.Unavailable, "connection refused"), http.StatusServiceUnavailable, true},
		{status.Error(codes.Internal, "internal error"), http.StatusInternalServerError, true},
		{errors.New("template: boom"), http.StatusInternalServerError, true},
		{errSignedOut, http.StatusUnauthorized, false},
		{&tooManyDownloads{retryAfter: 1500 * time.Millisecond}, http.StatusTooManyRequests, false},
		{session.ErrSignInState, http.StatusBadRequest, false},
		{fmt.Errorf("%w: nonce", session.ErrSignInFailed), http.StatusBadRequest, true},
		{&session.ProviderError{Code: "access_denied"}, http.StatusForbidden, true},
		{session.ErrUnavailable, http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		p, log := toProblem(tt.err)
		if p.Code != tt.code || log != tt.log {
			t.Errorf("toProblem(%v) = %d, log %v; want %d, log %v", tt.err, p.Code, log, tt.code, tt.log)
		}
		if p.Next.Href == "" || p.Next.Text == "" {
			t.Errorf("toProblem(%v) offers no way on", tt.err)
		}
		if strings.Contains(p.Message, "connection refused") || strings.Contains(p.Message, "page_token") {
			t.Errorf("toProblem(%v) shows the reporting service's message: %q", tt.err, p.Message)
		}
	}
}

func TestRegionPageRenders(t *testing.T) {
	t.Parallel()
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	stuck := &pb.ListStuckCandidatesResponse{
		WarningCount: 0, BreachCount: 1, NextPageToken: "tok",
		Candidates: []*pb.StuckCandidate{{
			ApplicationId: "0190c0de-0000-7000-8000-000000000001", CampaignId: "0190c0de-0000-7000-8000-0000000000ca",
			Region: "kent-surrey-sussex", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT,
			Kind: pb.StuckKind_STUCK_KIND_VETTING_BLOCKED, Since: timestamppb.New(since), Days: 10, DaysOverdue: 5,
			Severity: pb.Severity_SEVERITY_BREACH, BlockedReason: commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE,
			NextActor: pb.NextActor_NEXT_ACTOR_VETTING,
		}, {
			ApplicationId: "0190c0de-0000-7000-8000-000000000002", CampaignId: "0190c0de-0000-7000-8000-0000000000cb",
			CampaignTitle: "Admin <spring> & summer", Region: "kent-surrey-sussex", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR,
			Stage: commonv1.Stage_STAGE_SIFT, Kind: pb.StuckKind_STUCK_KIND_STAGE, Since: timestamppb.New(since), Days: 15, DaysOverdue: 1,
			Severity: pb.Severity_SEVERITY_BREACH, NextActor: pb.NextActor_NEXT_ACTOR_SPOC,
		}},
	}
	tth := &pb.GetTimeToHireResponse{Measures: []*pb.MeasureResult{{
		Measure: pb.Measure_MEASURE_TIME_TO_HIRE, CalendarDays: &pb.Statistics{Count: 3, Median: 20},
		WeeklyTrend: weekly.Trend([]weekly.Point{{Week: time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), Count: 3, Median: 20}}),
	}}}
	funnel := &pb.GetFunnelResponse{Stages: []*pb.FunnelStage{{Stage: commonv1.Stage_STAGE_SIFT, Reached: 10, ConversionFromPrevious: 1}}}
	durations := &pb.GetStageDurationsResponse{Stages: []*pb.StageDuration{{Stage: commonv1.Stage_STAGE_SIFT, Days: &pb.Statistics{Count: 2, Median: 6}, Current: 7}}}
	charts, err := chartsToView("kent-surrey-sussex", tth, funnel, durations)
	if err != nil {
		t.Fatal(err)
	}
	f := stuckFilter{Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT}
	v := regionView{
		chrome: chrome{Title: "Kent, Surrey and Sussex", User: "Priya Shah"}, Region: "kent-surrey-sussex", Summary: summaryToView(summary(1, 7, since)),
		Columns: stageColumns(allStages), Stuck: stuckToView("kent-surrey-sussex", f, stuck),
		Charts: charts,
	}
	var buf bytes.Buffer
	if err := p.byName["region"].ExecuteTemplate(&buf, "layout", v); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		`<title>Kent, Surrey and Sussex – Recruitment pipeline dashboard</title>`,
		`data-live-events="/regions/kent-surrey-sussex/events"`,
		`data-field="stuck">1</p>`,
		`<code class="id">0190c0de-0000-7000-8000-000000000001</code>`,
		// The campaign by its title (escaped), or by its id while reporting
		// has none.
		`<td><code class="id">0190c0de-0000-7000-8000-0000000000ca</code></td>`,
		`<td>Admin &lt;spring&gt; &amp; summer</td>`,
		`<th scope="col">Campaign</th>`,
		`Vetting blocked: Referee not responding`,
		`<time datetime="2026-11-02T09:00:00Z">2 Nov 2026</time>`,
		`<strong class="tag tag-breach">Breach</strong>`,
		`<option value="pre-employment" selected>Pre-employment checks</option>`,
		`<option value="breach">Breaches only</option>`,
		`<option value="warning">Warnings only</option>`,
		`<label class="label" for="role">Job role</label>`,
		`<option value="probation-officer">Probation officer</option>`,
		`<label class="label" for="rule">Why stuck</label>`,
		`<option value="vetting-blocked">Vetting blocked</option>`,
		`<label class="label" for="blocked_reason">Vetting block reason</label>`,
		`<option value="missing-documents">Missing documents</option>`,
		`<label class="label" for="campaign">Campaign id</label>`,
		`href="/regions/kent-surrey-sussex?page_token=tok&amp;stage=pre-employment#stuck" rel="next"`,
		`href="/regions/kent-surrey-sussex/stuck.csv?stage=pre-employment" download`,
		`data-fragment="/regions/kent-surrey-sussex/stuck"`,
		`data-fragment="/regions/kent-surrey-sussex/charts"`,
		`aria-labelledby="trend-title trend-desc"`,
		`<th scope="row">16 Nov 2026</th><td class="num">3</td><td class="num">20</td>`,
		`<script src="/static/live.js?v=`,
		`<span class="header-user">Signed in as Priya Shah</span>`,
		`<form class="header-account" method="post" action="/auth/signout">`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("region page lacks %s", want)
		}
	}
	// No inline script or style: the Content-Security-Policy forbids them.
	for _, bad := range []string{"<script>", " style=", "<style", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("region page contains %q", bad)
		}
	}
}

func TestOverviewAndErrorPagesRender(t *testing.T) {
	t.Parallel()
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 14, 3, 5, 0, time.UTC)
	v := overviewView{chrome: chrome{Title: "Recruitment by region"}, Columns: stageColumns(pipelineStages),
		Rows: []summaryView{summaryToView(summary(3, 7, at))}}
	var buf bytes.Buffer
	if err := p.byName["overview"].ExecuteTemplate(&buf, "layout", v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<caption id="regions-caption" class="table-caption">1 region</caption>`,
		`<th scope="row"><a href="/regions/kent-surrey-sussex">Kent, Surrey and Sussex</a></th>`,
		`data-region="kent-surrey-sussex" data-field="stage-sift">7</td>`,
		`data-field="stuck">3</td>`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("overview lacks %s", want)
		}
	}
	buf.Reset()
	prob, _ := toProblem(errNotFound)
	if err := p.byName["error"].ExecuteTemplate(&buf, "layout", errorView{chrome: chrome{Title: prob.Title}, Message: prob.Message, Next: prob.Next}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<h1 class="heading-xl">Page not found</h1>`) {
		t.Errorf("error page:\n%s", buf.String())
	}
}

func TestTrendKeepsEmptyWeeksInPlace(t *testing.T) {
	t.Parallel()
	week := func(day int, median float64) weekly.Point {
		return weekly.Point{Week: time.Date(2026, 11, day, 0, 0, 0, 0, time.UTC), Count: 1, Median: median}
	}
	tth := &pb.GetTimeToHireResponse{Measures: []*pb.MeasureResult{{
		Measure: pb.Measure_MEASURE_TIME_TO_HIRE, WeeklyTrend: weekly.Trend([]weekly.Point{week(2, 10), week(16, 20), week(23, 25)}),
	}}}
	v, err := chartsToView("wales", tth, &pb.GetFunnelResponse{}, &pb.GetStageDurationsResponse{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range v.Trend.Points {
		got = append(got, fmt.Sprintf("%s:%v", p.Label, p.Missing))
	}
	want := []string{"2 Nov:false", "9 Nov:true", "16 Nov:false", "23 Nov:false"}
	if !slices.Equal(got, want) {
		t.Errorf("trend points = %v, want %v", got, want)
	}
	if len(v.TrendRows) != 3 {
		t.Errorf("trend table has %d rows, want the 3 weeks with offers", len(v.TrendRows))
	}
}
