package disclosure

import (
	"math/rand/v2"
	"testing"
)

// nationalQuarter is a large window: 12 regions of 3 campaigns, 19 ethnic
// groups (ONS 2021) plus the two undeclared rows, 6 stages.
func nationalQuarter(seed uint64) Node {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]string, 21)
	for i := range rows {
		rows[i] = string(rune('A' + i))
	}
	cols := []string{"applied", "sift", "interview", "offer", "accepted", "hired"}
	weights := make([]float64, len(rows))
	for r := range weights {
		weights[r] = 1 / float64(r+1)
	}
	var regions []Node
	for range 12 {
		var camps []Node
		for range 3 {
			cells := make([][]int, len(rows))
			for r := range rows {
				cells[r] = make([]int, len(cols))
				v := int(weights[r] * float64(rng.IntN(120)))
				for c := range cols {
					cells[r][c] = v
					v = v * (50 + rng.IntN(40)) / 100
				}
			}
			camps = append(camps, Node{Table: Table{Rows: rows, Cols: cols, Cells: cells, Nested: true, NotDeclared: []int{19, 20}}})
		}
		regions = append(regions, sumNode(camps...))
	}
	return sumNode(regions...)
}

func BenchmarkProtectTreeNationalQuarter(b *testing.B) {
	root := nationalQuarter(1)
	for b.Loop() {
		if _, err := ProtectTree(Config{}, root); err != nil {
			b.Fatal(err)
		}
	}
}
