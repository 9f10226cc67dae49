package disclosure

import (
	"fmt"
	"testing"
)

// regionTable is a region's ethnic-group funnel (the equality service's
// shape): five groups, then "prefer not to say" and "not answered"; mixed
// is the group given.
func regionTable(mixed []int) Table {
	return Table{
		Rows: []string{"white", "black", "asian", "mixed", "other", "prefer_not_to_say", "not_answered"},
		Cols: []string{"applied", "sift", "interview", "offer", "started"},
		Cells: [][]int{{400, 200, 120, 80, 60}, {200, 50, 30, 20, 15}, {150, 75, 45, 30, 22}, mixed,
			{60, 30, 18, 12, 10}, {60, 30, 20, 15, 11}, {90, 45, 25, 20, 12}},
		Nested: true, NotDeclared: []int{5, 6},
	}
}

func zeroTable() Table {
	t := regionTable([]int{0, 0, 0, 0, 0})
	for r := range t.Cells {
		t.Cells[r] = make([]int, len(t.Cols))
	}
	return t
}

// TestTreeKeepsRegionsUseful is issue 17's regression (the equality
// service's repro): with two or more regions holding data, one small group
// in a region made ProtectTree hide every cell of that region. Now, with
// one small group in a region (or in every region), each region still
// publishes its large groups' cells and most of the others, the small
// group stays protected, and the attacker still recovers nothing. (Empty
// regions, all-zero tables, sent the old search to hiding everything.)
func TestTreeKeepsRegionsUseful(t *testing.T) {
	t.Parallel()
	small, large := []int{4, 2, 1, 1, 1}, []int{40, 20, 12, 11, 10}
	// white has at least 60 people at every stage; white, black and asian
	// at least 30 up to the interview.
	mustShow := func(r, c int) bool { return r == 0 || (r <= 2 && c <= 2) }
	type tcase struct {
		name    string
		regions []Table // each region one campaign unless leaves
		leaves  bool
		empties int
	}
	cases := []tcase{
		{"small group in one of two regions", []Table{regionTable(small), regionTable(large)}, false, 0},
		{"small group in both regions", []Table{regionTable(small), regionTable(small)}, false, 0},
		{"campaign level", []Table{regionTable(small), regionTable(large)}, true, 0},
		{"empty regions beside", []Table{regionTable(small), regionTable(large), regionTable(small)}, true, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var kids []Node
			for _, tb := range tc.regions {
				n := Node{Table: tb}
				if tc.leaves {
					n = sumNode(Node{Table: tb})
				}
				kids = append(kids, n)
			}
			for range tc.empties {
				kids = append(kids, Node{Table: zeroTable()})
			}
			root := sumNode(kids...)
			for _, cfg := range []Config{{}, {RoundBase: 1}} {
				pub, err := ProtectTree(cfg, root)
				if err != nil {
					t.Fatal(err)
				}
				for i := range tc.regions {
					p := pub.Children[i].Published
					for r := range p.Rows {
						for c := range p.Cols {
							if mustShow(r, c) && p.Cells[r][c].Suppressed {
								t.Errorf("cfg %+v: region %d hides %s at %s: %s", cfg, i, p.Rows[r], p.Cols[c], dump(p))
							}
						}
					}
					shown := 0
					for r := range p.Rows {
						for c := range p.Cols {
							if !p.Cells[r][c].Suppressed {
								shown++
							}
						}
					}
					if total := len(p.Rows) * len(p.Cols); 2*shown <= total {
						t.Errorf("cfg %+v: region %d publishes %d of %d cells: %s", cfg, i, shown, total, dump(p))
					}
				}
				assertRules(t, cfg, root, pub)
				assertUnrecoverable(t, cfg, root, pub)
			}
		})
	}
}

func dump(p Published) string {
	s := ""
	for r := range p.Rows {
		s += fmt.Sprintf("\n  %s:", p.Rows[r])
		for _, c := range p.Cells[r] {
			if c.Suppressed {
				s += " [c]"
			} else {
				s += fmt.Sprintf(" %d", c.Value)
			}
		}
	}
	return s
}
