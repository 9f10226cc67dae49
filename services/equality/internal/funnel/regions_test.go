package funnel_test

import (
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
)

// TestRegionReportWithSmallGroupsInSeveralRegions is issue 17's repro: two
// regions hold data and one of them has a small ethnic group. The whole
// tree (nation, twelve regions, campaigns) used to hide every cell of that
// region; now the small group is hidden and the large groups are shown at
// every stage, with their adverse-impact ratios.
func TestRegionReportWithSmallGroupsInSeveralRegions(t *testing.T) {
	t.Parallel()
	var rows []funnel.Row
	for _, reg := range []string{"london", "wales"} {
		rows = append(rows, cohort(reg, reg+"-c1", "white", 5, 400, 200, 120, 80, 60)...)
		rows = append(rows, cohort(reg, reg+"-c1", "black", 9, 200, 50, 30, 20, 15)...)
		rows = append(rows, cohort(reg, reg+"-c1", "asian", 5, 150, 75, 45, 30, 22)...)
		if reg == "london" {
			rows = append(rows, cohort(reg, reg+"-c1", "mixed", 5, 4, 2, 1, 1, 1)...)
		} else {
			rows = append(rows, cohort(reg, reg+"-c1", "mixed", 5, 40, 20, 12, 11, 10)...)
		}
		rows = append(rows, cohort(reg, reg+"-c1", "other", 5, 60, 30, 18, 12, 10)...)
		rows = append(rows, cohort(reg, reg+"-c1", monitoring.PreferNotToSay, 5, 60, 30, 20, 15, 11)...)
		rows = append(rows, cohort(reg, reg+"-c1", "", 5, 90, 45, 25, 20, 12)...)
	}
	for _, reg := range []string{"london", "wales"} {
		f, err := funnel.Report(disclosure.Config{}, funnel.Query{Region: reg, From: q2From, To: q2To, Characteristic: monitoring.EthnicGroup}, rows)
		if err != nil {
			t.Fatal(err)
		}
		p := f.Published
		shown := 0
		for r, name := range p.Rows {
			for c := range p.Cols {
				if !p.Cells[r][c].Suppressed {
					shown++
				}
			}
			if name == "mixed" && reg == "london" && !p.Cells[r][0].Suppressed {
				t.Errorf("%s: the small group's applied count is published", reg)
			}
			if name == "white" || name == "black" {
				for c := range p.Cols {
					if p.Cells[r][c].Suppressed {
						t.Errorf("%s: %s hidden at %s: %v", reg, name, p.Cols[c], p.Cells[r])
					}
				}
			}
		}
		if total := len(p.Rows) * len(p.Cols); 2*shown <= total {
			t.Errorf("%s: %d of %d cells published", reg, shown, total)
		}
		impact := p.AdverseImpact(0, 1)
		if len(impact) == 0 || !impact[0].OK {
			t.Errorf("%s: no adverse impact at the sift: %+v", reg, impact)
		}
	}
}
