package funnel_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
)

var (
	q2From = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	q2To   = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
)

// cohort makes applications of region and campaign answering answer:
// reached[s] of them reach Stages[s] (reached[0] apply), each stage
// taking days; the rest of each stage end there.
func cohort(region, campaign, answer string, days float64, reached ...int) []funnel.Row {
	var rows []funnel.Row
	step := time.Duration(days * 24 * float64(time.Hour))
	for i := range reached[0] {
		at := q2From.Add(time.Duration(i) * time.Hour)
		r := funnel.Row{Milestones: funnel.Milestones{ApplicationID: fmt.Sprintf("%s-%s-%s-%d", region, campaign, answer, i), Region: region, CampaignID: campaign}, Answer: answer}
		last := 0
		for s, n := range reached {
			if i < n {
				t := at.Add(time.Duration(s) * step)
				r.Reached[s], last = &t, s
			}
		}
		if last < len(funnel.Stages)-1 {
			end := at.Add(time.Duration(last+1) * step)
			r.EndedAt = &end
		}
		rows = append(rows, r)
	}
	return rows
}

func row(t *testing.T, f funnel.Funnel, category string) int {
	t.Helper()
	for i, r := range f.Published.Rows {
		if r == category {
			return i
		}
	}
	t.Fatalf("no row %q", category)
	return -1
}

// A region where black candidates pass the sift at half the rate of white
// ones: the transition is flagged, the small groups are suppressed, and
// nothing published is below the threshold.
func TestReportFlagsAdverseImpact(t *testing.T) {
	t.Parallel()
	var rows []funnel.Row
	rows = append(rows, cohort("london", "c1", "white", 5, 400, 200, 120, 80, 60)...)
	rows = append(rows, cohort("london", "c1", "black", 9, 200, 50, 30, 20, 15)...)
	rows = append(rows, cohort("london", "c1", "asian", 5, 150, 75, 45, 30, 22)...)
	rows = append(rows, cohort("london", "c1", "mixed", 5, 4, 2, 1, 1, 1)...)
	rows = append(rows, cohort("london", "c1", "other", 5, 60, 30, 18, 12, 10)...)
	rows = append(rows, cohort("london", "c1", monitoring.PreferNotToSay, 5, 60, 30, 20, 15, 11)...)
	rows = append(rows, cohort("london", "c1", "", 5, 90, 45, 25, 20, 12)...)

	f, err := funnel.Report(disclosure.Config{}, funnel.Query{Region: "london", From: q2From, To: q2To, Characteristic: monitoring.EthnicGroup}, rows)
	if err != nil {
		t.Fatal(err)
	}
	p := f.Published
	if p.Withheld {
		t.Fatalf("withheld; declaration rate %v", f.DeclarationRate)
	}
	if p.Total.Suppressed || p.Total.Value != 965 {
		t.Errorf("total = %+v; want 965 (London's applications)", p.Total)
	}
	black, white, mixed := row(t, f, "black"), row(t, f, "white"), row(t, f, "mixed")
	if c := p.Cells[black][0]; c.Suppressed || c.Value != 200 {
		t.Errorf("black applied = %+v; want 200", c)
	}
	sift := f.Transitions[black][0]
	if !sift.Conversion.OK || !sift.ImpactRatio.OK || !sift.Flagged || sift.ImpactRatio.Value > 0.6 {
		t.Errorf("black sift transition = %+v; want flagged with an impact ratio near 0.5", sift)
	}
	if w := f.Transitions[white][0]; !w.ImpactRatio.OK || w.Flagged || w.ImpactRatio.Value != 1 {
		t.Errorf("white sift transition = %+v; want the reference group, ratio 1", w)
	}
	if c := p.Cells[mixed][0]; !c.Suppressed || c.Reason != disclosure.ReasonPrimary {
		t.Errorf("mixed applied = %+v; want primary suppression (4 < 10)", c)
	}
	if m := f.Transitions[mixed][0]; m.Conversion.OK || m.ImpactRatio.OK || m.Flagged {
		t.Errorf("mixed transition = %+v; want nothing derived from a suppressed group", m)
	}
	for r := range p.Rows {
		for c := range p.Cols {
			if cell := p.Cells[r][c]; !cell.Suppressed && cell.Value != 0 && cell.Value < 10 {
				t.Errorf("%s/%s published %d, below the threshold", p.Rows[r], p.Cols[c], cell.Value)
			}
			if cell := p.Cells[r][c]; !cell.Suppressed && cell.Value%5 != 0 {
				t.Errorf("%s/%s published %d, not rounded to 5", p.Rows[r], p.Cols[c], cell.Value)
			}
		}
	}
	if m := f.MedianDays[black][0]; !m.OK || m.Value != 9 {
		t.Errorf("black median days in sift = %+v; want 9", m)
	}
	if m := f.MedianDays[mixed][0]; m.OK {
		t.Errorf("mixed median days in sift = %+v; want suppressed", m)
	}
	if !f.DeclarationRate.OK || f.DeclarationRate.Value < 0.8 || f.DeclarationRate.Value > 0.87 {
		t.Errorf("declaration rate = %+v; want about 815/965", f.DeclarationRate)
	}
}

// Below a 60% declaration rate nothing of the rows is published.
func TestReportWithholdsBelowTheDeclarationRate(t *testing.T) {
	t.Parallel()
	var rows []funnel.Row
	rows = append(rows, cohort("london", "c1", "yes", 5, 50, 20, 10, 5, 5)...)
	rows = append(rows, cohort("london", "c1", "", 5, 60, 20, 10, 5, 5)...)
	f, err := funnel.Report(disclosure.Config{}, funnel.Query{Region: "london", From: q2From, To: q2To, Characteristic: monitoring.Disability}, rows)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Published.Withheld {
		t.Fatal("not withheld at 50/110 declared")
	}
	for r := range f.Published.Rows {
		for c := range f.Published.Cols {
			if cell := f.Published.Cells[r][c]; !cell.Suppressed {
				t.Errorf("%s/%s published %d", f.Published.Rows[r], f.Published.Cols[c], cell.Value)
			}
		}
		for _, tr := range f.Transitions[r] {
			if tr.Conversion.OK || tr.Flagged {
				t.Errorf("%s: transition %+v published", f.Published.Rows[r], tr)
			}
		}
		for _, m := range f.MedianDays[r] {
			if m.OK {
				t.Errorf("%s: median published", f.Published.Rows[r])
			}
		}
	}
}

// The same question asked for the nation, a region and a campaign is
// answered from one protected tree: a campaign unknown in the region is
// an error, and the region's table is the one inside the national tree.
func TestReportPicksTheTableOfTheTree(t *testing.T) {
	t.Parallel()
	var rows []funnel.Row
	rows = append(rows, cohort("london", "c1", "yes", 5, 40, 20, 10, 5)...)
	rows = append(rows, cohort("london", "c3", "no", 5, 40, 20, 10, 5)...)
	rows = append(rows, cohort("wales", "c2", "no", 5, 40, 20, 10, 5)...)
	q := funnel.Query{From: q2From, To: q2To, Characteristic: monitoring.CaringResponsibilities}
	national, err := funnel.Report(disclosure.Config{}, q, rows)
	if err != nil {
		t.Fatal(err)
	}
	if national.Published.Total.Value != 120 {
		t.Errorf("national total %+v; want 120", national.Published.Total)
	}
	q.Region = "wales"
	wales, err := funnel.Report(disclosure.Config{}, q, rows)
	if err != nil || wales.Published.Total.Value != 40 {
		t.Errorf("wales: %+v, %v; want 40", wales.Published.Total, err)
	}
	q.CampaignID = "c1"
	if _, err := funnel.Report(disclosure.Config{}, q, rows); err != funnel.ErrUnknownCampaign {
		t.Errorf("a London campaign asked of Wales: %v; want ErrUnknownCampaign", err)
	}
	q.Region = "london"
	c1, err := funnel.Report(disclosure.Config{}, q, rows)
	if err != nil || c1.Published.Total.Value != 40 {
		t.Errorf("london c1: %+v, %v; want 40", c1.Published.Total, err)
	}
}
