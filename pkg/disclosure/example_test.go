package disclosure_test

import (
	"fmt"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/disclosure"
)

// A window's tables are protected together: the nation, its regions, and
// their campaigns' applications in the quarter. Every surface publishes a
// node of the one protection and derives rates through it. Here the
// region hides its undeclared rows' later stages: their small counts are
// each the sum of two campaigns' smaller ones, which publishing them would
// expose, and the categories' counts stay published.
func ExampleProtectTree() {
	from, to := disclosure.Quarter(time.Date(2026, 8, 14, 0, 0, 0, 0, time.UTC))
	if err := disclosure.ValidateWindow(from, to); err != nil {
		panic(err)
	}
	rows := []string{"Disabled", "Not disabled", "Prefer not to say", "Not answered"}
	cols := []string{"applied", "sift passed", "interview passed"}
	table := func(cells ...[]int) disclosure.Table {
		return disclosure.Table{Rows: rows, Cols: cols, Cells: cells, Nested: true, NotDeclared: []int{2, 3}}
	}
	campaignA := disclosure.Node{Table: table([]int{30, 12, 4}, []int{150, 80, 40}, []int{10, 6, 3}, []int{20, 10, 5})}
	campaignB := disclosure.Node{Table: table([]int{12, 8, 6}, []int{90, 50, 30}, []int{6, 4, 2}, []int{12, 6, 3})}
	region := disclosure.Node{Table: table([]int{42, 20, 10}, []int{240, 130, 70}, []int{16, 10, 5}, []int{32, 16, 8}),
		Children: []disclosure.Node{campaignA, campaignB}}

	pub, err := disclosure.ProtectTree(disclosure.Config{}, region)
	if err != nil {
		panic(err)
	}
	p := pub.Published
	fmt.Println("window", from.Format("2006-01-02"), "to", to.Format("2006-01-02"))
	for r, row := range p.Cells {
		fmt.Printf("%-18s", p.Rows[r])
		for _, c := range row {
			if c.Suppressed {
				fmt.Printf("%6s", "[c]")
			} else {
				fmt.Printf("%6d", c.Value)
			}
		}
		if rate, ok := p.Rate(r, 0, 1); ok {
			fmt.Printf("  sift pass rate %.2f", rate)
		}
		fmt.Println()
	}
	impact := p.AdverseImpact(0, 1)
	fmt.Printf("disabled/not disabled at sift: %.2f flagged=%v\n", impact[0].Ratio, impact[0].Flagged)
	// Output:
	// window 2026-07-01 to 2026-10-01
	// Disabled              40    20    10  sift pass rate 0.50
	// Not disabled         240   130    70  sift pass rate 0.54
	// Prefer not to say    [c]    10   [c]
	// Not answered          30   [c]   [c]
	// disabled/not disabled at sift: 0.92 flagged=false
}
