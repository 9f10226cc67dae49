package disclosure

import (
	"fmt"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// Property tests: random tables, heavy in zeros and small counts, each
// protected and then attacked (attack_test.go). Tables stay small so the
// exact attack stays quick.

func genConfig(t *rapid.T) Config {
	return Config{
		Threshold: rapid.IntRange(MinThreshold, 12).Draw(t, "threshold"),
		RoundBase: rapid.SampledFrom([]int{1, 2, 3, 5}).Draw(t, "roundBase"),
	}
}

// genCount draws a count that is often zero or below any threshold.
func genCount(t *rapid.T, label string, upTo int) int {
	if upTo <= 0 {
		return 0
	}
	switch rapid.IntRange(0, 3).Draw(t, label+"Kind") {
	case 0:
		return 0
	case 1:
		return rapid.IntRange(0, min(upTo, 12)).Draw(t, label)
	default:
		return rapid.IntRange(0, upTo).Draw(t, label)
	}
}

func genTable(t *rapid.T, nRows, nCols int) Table {
	rows := make([]string, nRows)
	for i := range rows {
		rows[i] = fmt.Sprintf("r%d", i)
	}
	cols := make([]string, nCols)
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	cells := make([][]int, nRows)
	// Sometimes every row is small, sometimes one row holds everyone.
	shape := rapid.IntRange(0, 2).Draw(t, "shape")
	only := rapid.IntRange(0, nRows-1).Draw(t, "onlyRow")
	for r := range cells {
		cells[r] = make([]int, nCols)
		top := 120
		switch {
		case shape == 1:
			top = 12
		case shape == 2 && r != only:
			top = 0
		}
		for c := range cells[r] {
			if c > 0 {
				top = cells[r][c-1]
			}
			cells[r][c] = genCount(t, fmt.Sprintf("cell%d_%d", r, c), top)
		}
	}
	notDeclared := []int{nRows - 1}
	if nRows > 2 && rapid.Bool().Draw(t, "twoUndeclared") {
		notDeclared = append(notDeclared, nRows-2)
	}
	return Table{Rows: rows, Cols: cols, Cells: cells, Nested: true, NotDeclared: notDeclared}
}

func TestPropertyProtectedTablesResistTheAttack(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		tb := genTable(t, rapid.IntRange(2, 7).Draw(t, "rows"), rapid.IntRange(1, 5).Draw(t, "cols"))
		root := Node{Table: tb}
		pub, err := ProtectTree(cfg, root)
		if err != nil {
			t.Fatal(err)
		}
		assertRules(t, cfg, root, pub)
		assertUnrecoverable(t, cfg, root, pub)
	})
}

func TestPropertyProtectedTreesResistTheAttack(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		nRows := rapid.IntRange(2, 3).Draw(t, "rows")
		nCols := rapid.IntRange(1, 3).Draw(t, "cols")
		var kids []Node
		for range rapid.IntRange(1, 3).Draw(t, "children") {
			tb := genTable(t, nRows, nCols)
			if len(kids) > 0 {
				tb.NotDeclared = kids[0].Table.NotDeclared
			}
			kids = append(kids, Node{Table: tb})
		}
		root := sumNode(kids...)
		pub, err := ProtectTree(cfg, root)
		if err != nil {
			t.Fatal(err)
		}
		assertRules(t, cfg, root, pub)
		assertUnrecoverable(t, cfg, root, pub)
	})
}

// The same tree always publishes the same numbers: every surface that
// protects it agrees.
func TestPropertyProtectIsDeterministic(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		tb := genTable(t, rapid.IntRange(2, 8).Draw(t, "rows"), rapid.IntRange(1, 6).Draw(t, "cols"))
		a, err := Protect(cfg, tb)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Protect(cfg, tb)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("two protections of one table differ:\n%+v\n%+v", a, b)
		}
	})
}

// Rates come from published counts only: a rate exists only where both
// counts are published, equals their quotient, and in a funnel is at most 1.
func TestPropertyRatesOnlyFromPublishedCounts(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		tb := genTable(t, rapid.IntRange(2, 6).Draw(t, "rows"), rapid.IntRange(2, 5).Draw(t, "cols"))
		p, err := Protect(cfg, tb)
		if err != nil {
			t.Fatal(err)
		}
		for r := range p.Rows {
			for from := range p.Cols {
				for to := from; to < len(p.Cols); to++ {
					rate, ok := p.Rate(r, from, to)
					f, g := p.Cells[r][from], p.Cells[r][to]
					if ok != (!f.Suppressed && !g.Suppressed && f.Value > 0) {
						t.Fatalf("Rate(%d,%d,%d) ok=%v with cells %+v %+v", r, from, to, ok, f, g)
					}
					if ok && rate != float64(g.Value)/float64(f.Value) {
						t.Fatalf("Rate(%d,%d,%d) = %v, want %d/%d", r, from, to, rate, g.Value, f.Value)
					}
					if ok && (rate < 0 || rate > 1) {
						t.Fatalf("funnel rate %v outside [0, 1]", rate)
					}
				}
			}
			if _, ok := p.Median(r, 0, 3.5); ok != p.Shown(r, 0) || ok == p.Cells[r][0].Suppressed {
				t.Fatalf("median of row %d shown=%v for cell %+v", r, ok, p.Cells[r][0])
			}
		}
	})
}

// Three levels, as a window's national, regional and campaign tables.
func TestPropertyProtectedThreeLevelTreesResistTheAttack(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		nRows := rapid.IntRange(2, 3).Draw(t, "rows")
		nCols := rapid.IntRange(1, 2).Draw(t, "cols")
		var notDeclared []int
		leaf := func() Node {
			tb := genTable(t, nRows, nCols)
			if notDeclared == nil {
				notDeclared = tb.NotDeclared
			}
			tb.NotDeclared = notDeclared
			return Node{Table: tb}
		}
		var regions []Node
		for range rapid.IntRange(1, 2).Draw(t, "regions") {
			var camps []Node
			for range rapid.IntRange(1, 2).Draw(t, "campaigns") {
				camps = append(camps, leaf())
			}
			regions = append(regions, sumNode(camps...))
		}
		root := sumNode(regions...)
		pub, err := ProtectTree(cfg, root)
		if err != nil {
			t.Fatal(err)
		}
		assertRules(t, cfg, root, pub)
		assertUnrecoverable(t, cfg, root, pub)
	})
}
