package disclosure

import (
	"testing"
)

// sumNode makes a parent of children: each count the sum of theirs.
func sumNode(children ...Node) Node {
	first := children[0].Table
	cells := make([][]int, len(first.Rows))
	for r := range cells {
		cells[r] = make([]int, len(first.Cols))
		for _, ch := range children {
			for c, v := range ch.Table.Cells[r] {
				cells[r][c] += v
			}
		}
	}
	t := first
	t.Cells = cells
	return Node{Table: t, Children: children}
}

var sexRows = []string{"Female", "Male", "Prefer not to say", "Not answered"}

// window is a quarter: national = two regions, each two campaigns. The
// second region's second campaign is small, and in the first region one
// campaign holds nearly all of one group.
func window() Node {
	c := func(cells ...[]int) Node { return Node{Table: funnel(sexRows, cells...)} }
	return sumNode(
		sumNode(
			c([]int{60, 30, 12}, []int{40, 22, 9}, []int{6, 3, 1}, []int{12, 6, 2}),
			c([]int{25, 11, 4}, []int{52, 30, 14}, []int{3, 1, 1}, []int{9, 5, 3}),
		),
		sumNode(
			c([]int{70, 33, 15}, []int{45, 20, 11}, []int{8, 4, 2}, []int{14, 7, 3}),
			c([]int{12, 6, 3}, []int{9, 4, 2}, []int{2, 1, 0}, []int{4, 2, 1}),
		),
	)
}

// TestProtectTreeResistsOverlappingFilters attacks a window's national,
// regional and campaign tables together: a campaign's hidden count must not
// be its region's count minus its sibling's, nor a region's the nation's
// minus the other region's.
func TestProtectTreeResistsOverlappingFilters(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {RoundBase: 1}} {
		root := window()
		pub, err := ProtectTree(cfg, root)
		if err != nil {
			t.Fatal(err)
		}
		assertRules(t, cfg, root, pub)
		assertUnrecoverable(t, cfg, root, pub)
	}
}

// TestSeparateProtectionLeaks shows why overlapping tables must be protected
// together: each table protected on its own is safe alone, yet the attacker
// recovers counts from the set.
func TestSeparateProtectionLeaks(t *testing.T) {
	t.Parallel()
	cfg := Config{RoundBase: 1}
	root := window()
	var alone func(n Node) PublishedNode
	alone = func(n Node) PublishedNode {
		p, err := Protect(cfg, n.Table)
		if err != nil {
			t.Fatal(err)
		}
		out := PublishedNode{Published: p}
		for _, ch := range n.Children {
			out.Children = append(out.Children, alone(ch))
		}
		return out
	}
	got := leaks(t, cfg, root, alone(root))
	if len(got) == 0 {
		t.Fatal("tables protected one by one leaked nothing: the attack across filters is too weak to test ProtectTree")
	}
	t.Log(got)
}

func TestProtectTreeRefusesChildrenThatDoNotPartition(t *testing.T) {
	t.Parallel()
	root := window()
	root.Table.Cells[0][0]++
	if _, err := ProtectTree(Config{}, root); err == nil {
		t.Fatal("a parent that is not the sum of its children was accepted")
	}
	root = window()
	root.Children[1].Table.Rows = ethnic[:4]
	if _, err := ProtectTree(Config{}, root); err == nil {
		t.Fatal("a child with other rows was accepted")
	}
}
