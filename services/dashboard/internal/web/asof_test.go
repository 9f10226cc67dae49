package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestAsOfDate: a past date picked on the region page travels in the
// page's links and reaches the stuck list's request as the end of that
// London day; today, a later date or none is the live page; a date that
// is not one is a bad request.
func TestAsOfDate(t *testing.T) {
	t.Parallel()
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: func() time.Time { return now }, pages: p}
	read := func(query string) (stuckFilter, int) {
		req := httptest.NewRequest(http.MethodGet, "/regions/london"+query, nil)
		req.SetPathValue("region", "london")
		rec := httptest.NewRecorder()
		_, f, _ := s.regionRequest(rec, req)
		return f, rec.Code
	}
	f, code := read("?as_of=2026-07-31&stage=sift")
	if code != http.StatusOK || f.AsOf != "2026-07-31" {
		t.Fatalf("as_of read as %q (%d)", f.AsOf, code)
	}
	if q := f.query(false); q != "?as_of=2026-07-31&stage=sift" {
		t.Errorf("query = %q, want as_of kept", q)
	}
	// The end of 31 July in London (BST): 22:59:59.999999 UTC.
	want := time.Date(2026, 7, 31, 22, 59, 59, 999999000, time.UTC)
	if got := f.request("london", 50, "").GetAsOf(); got == nil || !got.AsTime().Equal(want) {
		t.Errorf("request as_of = %v, want %v", got, want)
	}
	if f.filtered() != true {
		t.Error("a stage filter with a date is not filtered")
	}
	if g, _ := read("?as_of=2026-07-31"); g.filtered() {
		t.Error("a date alone counts as a stuck filter")
	}
	for _, live := range []string{"", "?as_of=", "?as_of=2026-12-03", "?as_of=2027-01-01"} {
		if f, code := read(live); code != http.StatusOK || f.AsOf != "" || f.request("london", 1, "").GetAsOf() != nil {
			t.Errorf("%q: as_of %q (%d), want the live page", live, f.AsOf, code)
		}
	}
	for _, bad := range []string{"?as_of=yesterday", "?as_of=2026-13-01", "?as_of=1066-10-14"} {
		if _, code := read(bad); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, code)
		}
	}

	// The page as of a past date: not live, no workload, says so, and
	// keeps the date in the stuck filter's form.
	v := regionView{chrome: chrome{Title: "London"}, Region: "london", Summary: summaryToView(summary(1, 7, want)),
		Columns: stageColumns(allStages), Stuck: stuckToView("london", f, &pb.ListStuckCandidatesResponse{}),
		AsOf: f.AsOf, AsOfLabel: "Friday 31 July 2026", Today: "2026-12-03"}
	var buf bytes.Buffer
	if err := p.byName["region"].ExecuteTemplate(&buf, "layout", v); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		`<input class="input" id="as_of" name="as_of" type="date" value="2026-07-31" max="2026-12-03"`,
		`as it stood at the end of Friday 31 July 2026`,
		`<input type="hidden" name="as_of" value="2026-07-31">`,
		`Candidates by stage then`,
		`href="/regions/london/stuck.csv?as_of=2026-07-31&amp;stage=sift"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("past page lacks %s", want)
		}
	}
	for _, bad := range []string{`data-live-events`, `id="workload"`} {
		if strings.Contains(html, bad) {
			t.Errorf("past page has %s", bad)
		}
	}
}
