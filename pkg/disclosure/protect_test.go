package disclosure

import (
	"testing"
)

var stages = []string{"applied", "sift passed", "interview passed", "offer accepted", "hired"}

func funnel(rows []string, cells ...[]int) Table {
	return Table{Rows: rows, Cols: stages[:len(cells[0])], Cells: cells, Nested: true, NotDeclared: []int{len(rows) - 2, len(rows) - 1}}
}

var ethnic = []string{"White", "Asian", "Black", "Mixed", "Other", "Prefer not to say", "Not answered"}

// realistic is one region's quarter: most of the later stages of the
// smaller groups are small.
func realistic() Table {
	return funnel(ethnic,
		[]int{600, 300, 150, 100, 80},
		[]int{80, 40, 20, 12, 9},
		[]int{60, 25, 11, 6, 4},
		[]int{30, 14, 8, 5, 3},
		[]int{15, 8, 4, 2, 1},
		[]int{40, 20, 10, 8, 7},
		[]int{75, 40, 20, 15, 12},
	)
}

func TestProtectAttackedCases(t *testing.T) {
	t.Parallel()
	two := []string{"Yes", "No", "Prefer not to say", "Not answered"}
	cases := map[string]Table{
		"realistic funnel": realistic(),
		// One small cell per column: without secondary suppression each is
		// the column's all-candidates count minus the rest.
		"one small cell per column": funnel(two,
			[]int{300, 120, 60},
			[]int{200, 80, 7},
			[]int{40, 20, 10},
			[]int{50, 25, 12}),
		"zeros": funnel(two,
			[]int{100, 0, 0},
			[]int{0, 0, 0},
			[]int{50, 20, 0},
			[]int{30, 12, 0}),
		"one non-zero row": funnel(two,
			[]int{0, 0, 0},
			[]int{87, 40, 13},
			[]int{0, 0, 0},
			[]int{0, 0, 0}),
		"all rows small": funnel(two,
			[]int{9, 5, 2},
			[]int{8, 3, 1},
			[]int{4, 2, 0},
			[]int{6, 6, 6}),
		"exact rounding, no slack": funnel(two,
			[]int{25, 20, 15},
			[]int{30, 25, 3},
			[]int{10, 10, 10},
			[]int{10, 10, 10}),
	}
	for name, tb := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, cfg := range []Config{{}, {RoundBase: 1}, {Threshold: 5, RoundBase: 1}} {
				root := Node{Table: tb}
				pub, err := ProtectTree(cfg, root)
				if err != nil {
					t.Fatal(err)
				}
				assertRules(t, cfg, root, pub)
				assertUnrecoverable(t, cfg, root, pub)
			}
		})
	}
}

// assertRules checks the publication against the raw counts: every count
// below the threshold hidden as primary, every published count the raw one
// rounded, and no count hidden without a reason.
func assertRules(t testingT, cfg Config, raw Node, pub PublishedNode) {
	t.Helper()
	cfg = cfg.WithDefaults()
	tb, p := raw.Table, pub.Published
	check := func(name string, v int, c Cell, withheldOK bool) {
		t.Helper()
		switch {
		case c.Suppressed && c.Reason == ReasonDeclaration && withheldOK && p.Withheld:
		case v < cfg.Threshold && !(c.Suppressed && c.Reason == ReasonPrimary):
			t.Errorf("%s = %d published as %+v, want primary suppression", name, v, c)
		case v >= cfg.Threshold && c.Suppressed && c.Reason != ReasonSecondary:
			t.Errorf("%s = %d suppressed as %+v, want published or secondary", name, v, c)
		case !c.Suppressed && c.Value != round(v, cfg.RoundBase):
			t.Errorf("%s = %d published as %d, want %d", name, v, c.Value, round(v, cfg.RoundBase))
		case !c.Suppressed && c.Value%cfg.RoundBase != 0:
			t.Errorf("%s published as %d, not a multiple of %d", name, c.Value, cfg.RoundBase)
		}
	}
	for r, row := range tb.Cells {
		for c, v := range row {
			check(tb.Rows[r]+"/"+tb.Cols[c], v, p.Cells[r][c], true)
		}
	}
	for i, ch := range raw.Children {
		assertRules(t, cfg, ch, pub.Children[i])
	}
}

// primaryOnly publishes a tree the naive way: counts below the threshold
// hidden, nothing else; the attacker must see through it.
func primaryOnly(cfg Config, raw Node) PublishedNode {
	cfg = cfg.WithDefaults()
	cell := func(v int) Cell {
		if v < cfg.Threshold {
			return Cell{Suppressed: true, Reason: ReasonPrimary}
		}
		return Cell{Value: round(v, cfg.RoundBase)}
	}
	tb := raw.Table
	p := Published{Rows: tb.Rows, Cols: tb.Cols, Cells: make([][]Cell, len(tb.Rows))}
	notDecl := map[int]bool{}
	for _, r := range tb.NotDeclared {
		notDecl[r] = true
	}
	dv := 0
	for r, row := range tb.Cells {
		for _, v := range row {
			p.Cells[r] = append(p.Cells[r], cell(v))
		}
		if !notDecl[r] {
			dv += row[0]
		}
	}
	p.Withheld = dv < MinDeclared(cfg, colTotal0(tb))
	out := PublishedNode{Published: p}
	for _, ch := range raw.Children {
		out.Children = append(out.Children, primaryOnly(cfg, ch))
	}
	return out
}

// TestAttackerRecoversNaiveSuppression proves the attack can fail: against
// primary suppression alone it recovers the hidden counts, exactly without
// rounding.
func TestAttackerRecoversNaiveSuppression(t *testing.T) {
	t.Parallel()
	two := []string{"Yes", "No", "Prefer not to say", "Not answered"}
	root := Node{Table: funnel(two,
		[]int{300, 120, 60},
		[]int{200, 80, 7},
		[]int{40, 20, 10},
		[]int{50, 25, 12})}
	for _, cfg := range []Config{{RoundBase: 1}, {}} {
		got := leaks(t, cfg, root, primaryOnly(cfg, root))
		if len(got) == 0 {
			t.Errorf("%+v: the attacker recovered nothing from primary suppression alone", cfg)
		}
		t.Log(got)
	}
}

func TestProtectRefusesBadTables(t *testing.T) {
	t.Parallel()
	good := realistic()
	cases := map[string]func(*Table){
		"not a funnel":        func(tb *Table) { tb.Nested = false },
		"row grows":           func(tb *Table) { tb.Cells[1][2] = tb.Cells[1][1] + 1 },
		"negative count":      func(tb *Table) { tb.Cells[6][4] = -1 },
		"ragged row":          func(tb *Table) { tb.Cells[2] = tb.Cells[2][:3] },
		"missing row":         func(tb *Table) { tb.Cells = tb.Cells[:6] },
		"undeclared row out":  func(tb *Table) { tb.NotDeclared = []int{7} },
		"no rows":             func(tb *Table) { tb.Rows, tb.Cells = nil, nil },
		"a candidate missing": func(tb *Table) { tb.StageTotals = []int{901, 447, 223, 148, 116} },
	}
	for name, spoil := range cases {
		tb := good
		tb.Cells = make([][]int, len(good.Cells))
		for r := range good.Cells {
			tb.Cells[r] = append([]int(nil), good.Cells[r]...)
		}
		spoil(&tb)
		if _, err := Protect(Config{}, tb); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	good.StageTotals = []int{900, 447, 223, 148, 116}
	if _, err := Protect(Config{}, good); err != nil {
		t.Errorf("stage totals that match refused: %v", err)
	}
	if _, err := Protect(Config{Threshold: 4}, good); err == nil {
		t.Error("a threshold of 4 was accepted")
	}
}
