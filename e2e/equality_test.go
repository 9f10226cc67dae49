package e2e

import (
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/equalitytable"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
)

// equalityGroup is one ethnic group of the imported London quarter: how
// many applied and how many passed the sift.
type equalityGroup struct {
	answer       string
	applied, won int
}

// equalityQuarter is London's third quarter of 2026 as this test imports
// it: black candidates pass the sift at half the rate of white ones, and
// a handful of mixed candidates make a group too small to publish.
var equalityQuarter = []equalityGroup{
	{"white", 100, 50}, {"black", 60, 15}, {"asian", 50, 25}, {"other", 30, 15}, {"mixed", 3, 1}, {"prefer_not_to_say", 20, 10},
}

func equalityRows() []*applicationsv1.ImportRow {
	var rows []*applicationsv1.ImportRow
	submitted := time.Date(2026, 7, 10, 10, 0, 0, 0, time.UTC)
	for _, g := range equalityQuarter {
		for i := range g.applied {
			ref := fmt.Sprintf("EQ-%s-%03d", g.answer, i)
			rows = append(rows, &applicationsv1.ImportRow{
				Reference: ref, CampaignReference: "EQ-LONDON-Q3", Region: "london", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR,
				CampaignTitle: "Administrative officers", Posts: 20,
				OpensOn: &commonv1.Date{Year: 2026, Month: 7, Day: 1}, ClosesOn: &commonv1.Date{Year: 2026, Month: 7, Day: 31},
				Candidate:   &applicationsv1.Candidate{Name: "Candidate " + ref, Email: strings.ToLower(ref) + "@example.org"},
				SubmittedAt: timestamppb.New(submitted.Add(time.Duration(i) * time.Minute)),
				History: &commonv1.ImportedHistory{Sift: &commonv1.ImportedSift{
					DecidedAt: timestamppb.New(time.Date(2026, 8, 5, 10, 0, 0, 0, time.UTC)), Passed: i < g.won,
					ReasonCode: map[bool]string{true: "", false: "insufficient_evidence"}[i < g.won]}},
				Monitoring: &equalityv1.MonitoringAnswers{EthnicGroup: g.answer, Sex: "female"},
			})
		}
	}
	return rows
}

var (
	tableRow  = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	tableCell = regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`)
)

// htmlTable reads the cells of the table with id from a page.
func htmlTable(t *testing.T, page, id string) [][]string {
	t.Helper()
	start := strings.Index(page, `<table class="table" id="`+id+`">`)
	end := strings.Index(page[max(start, 0):], "</table>")
	if start < 0 || end < 0 {
		t.Fatalf("no table %q in the page:\n%s", id, page)
	}
	var out [][]string
	for _, tr := range tableRow.FindAllStringSubmatch(page[start:start+end], -1) {
		var cells []string
		for _, td := range tableCell.FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, html.UnescapeString(strings.TrimSpace(td[1])))
		}
		out = append(out, cells)
	}
	return out
}

// TestEqualitySurfacesAgree imports a London quarter with monitoring
// answers and reads its equality funnel on the three surfaces: the API,
// pipelinectl's CSV and the dashboard's equality page publish the same
// cells, the sift disparity is flagged on each, the small group is
// suppressed on each, and no suppressed cell can be recovered from what
// they publish together with the all-candidates stage totals an attacker
// knows from the ordinary funnel. SPOCs, vetting contact points and
// dashboard readers get the 403 page.
func TestEqualitySurfacesAgree(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	idp, env := signInSetup(t, addr, time.Hour)
	st := start(t, env...)
	ctx := t.Context()
	admin := token(t, "admin-e2e", auth.RoleAdmin)
	imp, err := applicationsv1.NewApplicationsServiceClient(st.conns["applications"]).ImportApplications(ctx,
		&applicationsv1.ImportApplicationsRequest{RequestId: "eq-import-1", Rows: equalityRows()}, admin)
	if err != nil || imp.GetFailed() != 0 {
		t.Fatalf("import: %v, %v", imp.GetResults(), err)
	}

	equalityLondon := mintToken(t, "equality-london-1", auth.RoleEquality, "london")
	req := &equalityv1.GetEqualityFunnelRequest{Region: "london", From: &commonv1.Date{Year: 2026, Month: 7, Day: 1},
		To: &commonv1.Date{Year: 2026, Month: 10, Day: 1}, Characteristic: equalityv1.Characteristic_CHARACTERISTIC_ETHNIC_GROUP}
	client := equalityv1.NewEqualityServiceClient(st.conns["equality"])
	var resp *equalityv1.GetEqualityFunnelResponse
	testenv.Eventually(t, "the equality service follows the imported quarter", func() (bool, string) {
		resp, err = client.GetEqualityFunnel(ctx, req, token(t, "equality-london-1", auth.RoleEquality, "london"))
		if err != nil {
			return false, err.Error()
		}
		totals := resp.GetStageTotals()
		return resp.GetTotal().GetValue() == 265 && len(totals) > 1 && totals[1].GetValue() == 115,
			fmt.Sprintf("total %v, stage totals %v", resp.GetTotal(), totals)
	})
	api := append([][]string{equalitytable.Columns}, equalitytable.Rows(resp)...)
	flagged := slices.ContainsFunc(api, func(r []string) bool { return r[0] == "black" && r[1] == "sift" && r[5] == "yes" })
	if !flagged {
		t.Errorf("the API does not flag black candidates' sift: %v", api)
	}
	if !slices.ContainsFunc(api, func(r []string) bool { return r[0] == "mixed" && r[2] == equalitytable.Suppressed }) {
		t.Errorf("the API publishes the mixed group of 3: %v", api)
	}

	// The CSV of pipelinectl.
	out := newCtl(t, st).ok(equalityLondon, "equality", "funnel", "--region", "london", "--quarter", "2026-Q3",
		"--characteristic", "ethnic-group", "-o", "csv")
	csvRows, err := csv.NewReader(strings.NewReader(out.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, out.stdout)
	}
	if !slices.EqualFunc(csvRows, api, slices.Equal) {
		t.Errorf("the CSV differs from the API:\ncsv %v\napi %v", csvRows, api)
	}

	// The dashboard's equality page, for London's equality analyst.
	d := startDashboard(t, addr, st.addrs["reporting"], idp, "EQUALITY_ADDR="+st.addrs["equality"])
	code, page := d.get(t, d.signIn(t, idp, "equality-london"), "/regions/london/equality?quarter=2026-Q3&characteristic=ethnic-group")
	if code != http.StatusOK {
		t.Fatalf("equality page: %d\n%s", code, page)
	}
	if got := htmlTable(t, page, "equality"); !slices.EqualFunc(got, api, slices.Equal) {
		t.Errorf("the dashboard differs from the API:\npage %v\napi  %v", got, api)
	}
	// In a browser: signed in as London's equality analyst, the page is
	// accessible (axe-core, WCAG 2.2 AA) and shows the flagged sift.
	browserPage := browser(t)
	if err := chromedp.Do(browserPage, chromedp.Navigate(d.url+"/regions/london/equality?quarter=2026-Q3&characteristic=ethnic-group")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, browserPage, "the provider's sign-in page", `location.origin === '`+idp.Issuer()+`' && document.readyState === 'complete'`, 10*time.Second)
	if err := chromedp.Do(browserPage, chromedp.Click(chromedp.CSS(`button[name="user"][value="equality-london"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, browserPage, "the equality page after sign-in", `location.pathname === '/regions/london/equality' && document.readyState === 'complete'`, 10*time.Second)
	if n := evaluate[int](t, browserPage, `document.querySelectorAll('#equality tr.flagged').length`); n < 1 {
		t.Errorf("the page marks %d flagged rows, want the black candidates' sift", n)
	}
	screenshot(t, browserPage, "dashboard-equality.png")
	accessible(t, browserPage, "the equality page")

	for _, user := range []string{"dashboard-london", "spoc-london", "vetting-london"} {
		if code, _ := d.get(t, d.signIn(t, idp, user), "/regions/london/equality?quarter=2026-Q3"); code != http.StatusForbidden {
			t.Errorf("%s opens the equality page: %d, want 403", user, code)
		}
	}

	// The attack: every suppressed count, bounded by what the surfaces
	// publish (each published count v is a raw count in [v-2, v+2]), the
	// exact all-candidates stage totals, and the funnel's chain (a row
	// never grows from one stage to the next), must keep at least the
	// threshold's number of possible values.
	exact := []int{263, 116, 0, 0, 0}
	threshold := int(resp.GetPolicy().GetThreshold())
	half := int(resp.GetPolicy().GetRoundBase()) / 2
	for s := range resp.GetStages() {
		var hidden []int
		lo, hi := exact[s], exact[s]
		for r, row := range resp.GetRows() {
			c := row.GetReached()[s]
			if c.GetSuppressed() {
				hidden = append(hidden, r)
				continue
			}
			lo, hi = lo-int(c.GetValue())-half, hi-int(c.GetValue())+half
		}
		if len(hidden) != 1 {
			continue // two or more share the column's remainder
		}
		row := resp.GetRows()[hidden[0]]
		lo = max(lo, 0)
		if s+1 < len(resp.GetStages()) && !row.GetReached()[s+1].GetSuppressed() {
			lo = max(lo, int(row.GetReached()[s+1].GetValue())-half)
		}
		if s > 0 && !row.GetReached()[s-1].GetSuppressed() {
			hi = min(hi, int(row.GetReached()[s-1].GetValue())+half)
		}
		if hi-lo+1 < threshold && exact[s] >= threshold {
			t.Errorf("%s at %s is recoverable to [%d, %d] from the published totals", row.GetCategory(), resp.GetStages()[s], lo, hi)
		}
	}
	t.Logf("published: %s", strconv.Quote(fmt.Sprint(api)))

	// Erased and exported with the candidate: the equality service's part
	// of the subject access export holds the answers until
	// EraseCandidate, then nothing.
	id := imp.GetResults()[0].GetApplicationId()
	privacy := privacyv1.NewPrivacyServiceClient(st.conns["equality"])
	exported, err := privacy.ExportCandidate(ctx, &privacyv1.ExportCandidateRequest{ApplicationId: id}, admin)
	var answers equalityv1.MonitoringAnswers
	if err != nil || len(exported.GetRecords()) != 1 || exported.GetRecords()[0].UnmarshalTo(&answers) != nil || answers.GetEthnicGroup() != "white" {
		t.Fatalf("export before erasure: %v, %v; want the answers", exported, err)
	}
	if _, err := applicationsv1.NewApplicationsServiceClient(st.conns["applications"]).EraseCandidate(ctx,
		&applicationsv1.EraseCandidateRequest{RequestId: "eq-erase-1", ApplicationId: id, ReasonCode: "right_to_erasure"}, admin); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the equality service erases the answers", func() (bool, string) {
		r, err := privacy.ExportCandidate(ctx, &privacyv1.ExportCandidateRequest{ApplicationId: id}, admin)
		return err == nil && len(r.GetRecords()) == 0, fmt.Sprint(r, err)
	})
}
