package disclosure

import (
	"testing"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{{}, {Threshold: 5}, {Threshold: 10, RoundBase: 1}, {MinDeclarationRate: 1}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v refused: %v", c, err)
		}
	}
	for _, c := range []Config{{Threshold: 4}, {Threshold: 1}, {Threshold: -10}, {RoundBase: -1}, {MinDeclarationRate: 1.01}, {MinDeclarationRate: -0.1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if d := (Config{}).WithDefaults(); d.Threshold != 10 || d.RoundBase != 5 || d.MinDeclarationRate != 0.6 {
		t.Errorf("defaults = %+v", d)
	}
}

// The declaration-rate gate: shown at 60% declared, withheld below, and a
// withheld table hides every row but keeps its totals.
func TestDeclarationRateGate(t *testing.T) {
	t.Parallel()
	rows := []string{"Yes", "No", "Prefer not to say", "Not answered"}
	at := func(declared, undeclared int) Table {
		return funnel(rows,
			[]int{declared / 2, declared / 4},
			[]int{declared - declared/2, declared / 4},
			[]int{undeclared / 2, undeclared / 4},
			[]int{undeclared - undeclared/2, undeclared / 4})
	}
	shown, err := Protect(Config{}, at(120, 80)) // 60%
	if err != nil {
		t.Fatal(err)
	}
	if shown.Withheld || shown.Cells[0][0].Suppressed {
		t.Errorf("60%% declared withheld: %+v", shown)
	}
	if r, ok := shown.DeclarationRate(); !ok || r != 0.6 {
		t.Errorf("DeclarationRate = %v, %v, want 0.6", r, ok)
	}
	held, err := Protect(Config{}, at(118, 82)) // 59%
	if err != nil {
		t.Fatal(err)
	}
	if !held.Withheld {
		t.Fatal("59% declared shown")
	}
	for r := range held.Cells {
		for c, cell := range held.Cells[r] {
			if !cell.Suppressed || cell.Reason != ReasonDeclaration {
				t.Errorf("withheld table shows row %d col %d: %+v", r, c, cell)
			}
		}
		if _, ok := held.Rate(r, 0, 1); ok {
			t.Errorf("withheld table gives a rate for row %d", r)
		}
	}
	if held.Total.Suppressed || held.Total.Value != 200 {
		t.Errorf("withheld table lost its total: %+v", held.Total)
	}
	if _, ok := held.DeclarationRate(); ok {
		t.Error("withheld table gives a declaration rate")
	}
	if got, _ := Protect(Config{MinDeclarationRate: 0.5}, at(118, 82)); got.Withheld {
		t.Error("a configured 50% gate withheld 59%")
	}
}

// Rates, ratios and medians come from the published counts, so a surface
// that recomputes them from what it shows gets the same numbers.
func TestAdverseImpactFromPublishedCounts(t *testing.T) {
	t.Parallel()
	rows := []string{"A", "B", "C", "D", "Prefer not to say", "Not answered"}
	p, err := Protect(Config{}, funnel(rows,
		[]int{200, 100}, // 0.5
		[]int{100, 38},  // 40/100 = 0.4 after rounding: ratio 0.8, not flagged
		[]int{100, 37},  // 35/100 = 0.35: ratio 0.7, flagged
		[]int{8, 8},     // small: no rate
		[]int{50, 45},   // 0.9 but undeclared: not the best group
		[]int{60, 30}))
	if err != nil {
		t.Fatal(err)
	}
	got := p.AdverseImpact(0, 1)
	want := []Impact{
		{Rate: 0.5, Ratio: 1, OK: true},
		{Rate: 0.4, Ratio: 0.8, OK: true},
		{Rate: 0.35, Ratio: 0.7, OK: true, Flagged: true},
		{}, {}, {},
	}
	for r := range want {
		g, w := got[r], want[r]
		if g.OK != w.OK || g.Flagged != w.Flagged || !near(g.Rate, w.Rate) || !near(g.Ratio, w.Ratio) {
			t.Errorf("row %s: %+v, want %+v", rows[r], g, w)
		}
	}
	if _, ok := p.Median(3, 0, 12); ok {
		t.Error("median of a suppressed group shown")
	}
	if m, ok := p.Median(0, 1, 12); !ok || m != 12 {
		t.Error("median of a published group hidden")
	}
	if GroupShown(Config{}, 9) || !GroupShown(Config{}, 10) || !GroupShown(Config{Threshold: 5}, 5) {
		t.Error("GroupShown does not follow the threshold")
	}
	if _, ok := p.Rate(0, 0, 9); ok {
		t.Error("a rate to a column out of range")
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
