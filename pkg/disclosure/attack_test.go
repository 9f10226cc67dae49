package disclosure

import (
	"fmt"
)

// The attacker of these tests reads only what is published — every table of
// a window (the tree), each count rounded or suppressed with its reason —
// plus what he can know without us: the rules (threshold, rounding base),
// which tables contain which (national ⊃ region ⊃ campaign), and the exact
// all-candidates count of every column of every table (the ordinary funnel
// publishes it). From those he writes every linear fact (a column sums to
// its all-candidates count, a funnel row never grows, a parent's count is
// its children's sum, the declared count plus the undeclared rows is the
// total) and finds, by an exact integer search, the smallest and largest
// value each hidden count can take. Unlike Protect's own check (interval
// propagation), the search is exact: it finds every narrowing the linear
// facts allow, over the integers.

// testingT is what the attack helpers need of *testing.T and *rapid.T.
type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Error(args ...any)
	Logf(format string, args ...any)
}

type avar struct{ lo, hi int }

type acons struct {
	total int
	parts []int
	chain bool // total >= parts[0] rather than total = Σ parts
}

type attacker struct {
	dom   []avar
	cons  []acons
	byVar [][]int
	// budget of search nodes per probe; exhausting it fails the test
	// rather than guessing.
	budget int
}

// target is a hidden count the attacker tries to recover, with its true
// value (for the report) and where it is.
type target struct {
	v    int
	raw  int
	name string
}

// attackView builds the attacker's system for the published tree pub of the
// raw tree raw (raw is read only for the all-candidates column totals and to
// name which counts were small).
func attackView(t testingT, cfg Config, raw Node, pub PublishedNode) (*attacker, []target) {
	t.Helper()
	cfg = cfg.WithDefaults()
	a := &attacker{budget: 20000}
	var targets []target
	ceiling := 0
	for _, row := range raw.Table.Cells {
		ceiling += row[0]
	}
	newVar := func(c Cell, raw int, name string) int {
		i := len(a.dom)
		switch {
		case !c.Suppressed:
			lo := c.Value - cfg.RoundBase/2
			hi := lo + cfg.RoundBase - 1
			if cfg.RoundBase <= 1 {
				lo, hi = c.Value, c.Value
			}
			a.dom = append(a.dom, avar{max(lo, cfg.Threshold, 0), hi})
		case c.Reason == ReasonPrimary:
			a.dom = append(a.dom, avar{0, cfg.Threshold - 1})
		case c.Reason == ReasonSecondary:
			a.dom = append(a.dom, avar{cfg.Threshold, ceiling})
		default:
			a.dom = append(a.dom, avar{0, ceiling})
		}
		protected := c.Suppressed && (c.Reason == ReasonPrimary || c.Reason == ReasonSecondary)
		if protected || (raw < cfg.Threshold && c.Reason != reasonUnpublished) {
			targets = append(targets, target{i, raw, name})
		}
		return i
	}
	knownVar := func(v int) int {
		a.dom = append(a.dom, avar{v, v})
		return len(a.dom) - 1
	}
	type ids struct {
		cells    [][]int
		declared int
	}
	var walk func(n Node, p PublishedNode, path string) ids
	walk = func(n Node, p PublishedNode, path string) ids {
		tb, pb := n.Table, p.Published
		var out ids
		out.cells = make([][]int, len(tb.Rows))
		colTot := make([]int, len(tb.Cols))
		for c := range tb.Cols {
			s := 0
			for r := range tb.Rows {
				s += tb.Cells[r][c]
			}
			colTot[c] = knownVar(s)
		}
		for r := range tb.Rows {
			out.cells[r] = make([]int, len(tb.Cols))
			for c := range tb.Cols {
				out.cells[r][c] = newVar(pb.Cells[r][c], tb.Cells[r][c], fmt.Sprintf("%s[%s,%s]", path, tb.Rows[r], tb.Cols[c]))
			}
		}
		for c := range tb.Cols {
			parts := make([]int, len(tb.Rows))
			for r := range tb.Rows {
				parts[r] = out.cells[r][c]
			}
			a.cons = append(a.cons, acons{total: colTot[c], parts: parts})
		}
		for r := range tb.Rows {
			for c := 1; c < len(tb.Cols); c++ {
				a.cons = append(a.cons, acons{total: out.cells[r][c-1], parts: []int{out.cells[r][c]}, chain: true})
			}
		}
		total := colTot[0]
		total0 := colTotal0(tb)
		notDecl := map[int]bool{}
		for _, r := range tb.NotDeclared {
			notDecl[r] = true
		}
		var decl, undecl []int
		for r := range tb.Rows {
			if notDecl[r] {
				undecl = append(undecl, out.cells[r][0])
				continue
			}
			decl = append(decl, out.cells[r][0])
		}
		// Not published, but the gate's side is: shown or withheld.
		need := MinDeclared(cfg, total0)
		if pb.Withheld {
			a.dom = append(a.dom, avar{0, need - 1})
		} else {
			a.dom = append(a.dom, avar{need, total0})
		}
		out.declared = len(a.dom) - 1
		a.cons = append(a.cons, acons{total: out.declared, parts: decl}, acons{total: total, parts: append([]int{out.declared}, undecl...)})
		kids := make([]ids, len(n.Children))
		for i, ch := range n.Children {
			kids[i] = walk(ch, p.Children[i], fmt.Sprintf("%s/%d", path, i))
		}
		if len(kids) > 0 {
			link := func(parent int, child func(ids) int) {
				parts := make([]int, len(kids))
				for i, k := range kids {
					parts[i] = child(k)
				}
				a.cons = append(a.cons, acons{total: parent, parts: parts})
			}
			for r := range tb.Rows {
				for c := range tb.Cols {
					link(out.cells[r][c], func(k ids) int { return k.cells[r][c] })
				}
			}
			link(out.declared, func(k ids) int { return k.declared })
		}
		return out
	}
	walk(raw, pub, "root")
	a.byVar = make([][]int, len(a.dom))
	for k, c := range a.cons {
		a.byVar[c.total] = append(a.byVar[c.total], k)
		for _, p := range c.parts {
			a.byVar[p] = append(a.byVar[p], k)
		}
	}
	return a, targets
}

// propagate narrows d to a fixpoint; false when some domain empties.
func (a *attacker) propagate(d []avar) bool {
	for changed := true; changed; {
		changed = false
		for _, c := range a.cons {
			if c.chain {
				hi, lo := &d[c.total], &d[c.parts[0]]
				if lo.hi > hi.hi {
					lo.hi, changed = hi.hi, true
				}
				if hi.lo < lo.lo {
					hi.lo, changed = lo.lo, true
				}
				continue
			}
			sl, sh := 0, 0
			for _, p := range c.parts {
				sl += d[p].lo
				sh += d[p].hi
			}
			tv := &d[c.total]
			if tv.lo < sl {
				tv.lo, changed = sl, true
			}
			if tv.hi > sh {
				tv.hi, changed = sh, true
			}
			for _, p := range c.parts {
				pv := &d[p]
				if l := tv.lo - (sh - pv.hi); pv.lo < l {
					pv.lo, changed = l, true
				}
				if h := tv.hi - (sl - pv.lo); pv.hi > h {
					pv.hi, changed = h, true
				}
			}
		}
		for _, v := range d {
			if v.lo > v.hi {
				return false
			}
		}
	}
	return true
}

// feasible reports whether some integer assignment within d satisfies every
// constraint, splitting the smallest open domain in halves; ok is false
// when the search ran out of budget before deciding.
func (a *attacker) feasible(d []avar, nodes *int) (found, ok bool) {
	*nodes++
	if *nodes > a.budget {
		return false, false
	}
	if !a.propagate(d) {
		return false, true
	}
	pick := -1
	for i, v := range d {
		if v.lo < v.hi && (pick < 0 || v.hi-v.lo < d[pick].hi-d[pick].lo) {
			pick = i
		}
	}
	if pick < 0 {
		return true, true // every domain is one value and propagation held
	}
	mid := d[pick].lo + (d[pick].hi-d[pick].lo)/2
	for _, half := range []avar{{d[pick].lo, mid}, {mid + 1, d[pick].hi}} {
		e := append([]avar(nil), d...)
		e[pick] = half
		found, ok := a.feasible(e, nodes)
		if found || !ok {
			return found, ok
		}
	}
	return false, true
}

// intervals is the range of each variable in vars over the integer
// solutions: first the linear programme's bounds (rounded inwards), then
// each end moved inwards while an integer search proves it infeasible. An
// undecided search keeps the LP end (counted in undecided): the attack is
// then at least as strong as an LP audit.
func (a *attacker) intervals(t testingT, vars []int) (lo, hi []int, undecided int) {
	t.Helper()
	d := append([]avar(nil), a.dom...)
	if !a.propagate(d) {
		t.Fatalf("attacker: the publication is inconsistent with its own rules")
	}
	lo, hi, ok := a.lpBounds(d, vars)
	if !ok {
		t.Fatalf("attacker: the linear programme of the publication is infeasible")
	}
	probe := func(v, x int) (bool, bool) {
		e := append([]avar(nil), d...)
		e[v] = avar{x, x}
		nodes := 0
		return a.feasible(e, &nodes)
	}
	for k, v := range vars {
		for lo[k] < hi[k] {
			found, ok := probe(v, lo[k])
			if !ok {
				undecided++
			}
			if found || !ok {
				break
			}
			lo[k]++
		}
		for hi[k] > lo[k] {
			found, ok := probe(v, hi[k])
			if !ok {
				undecided++
			}
			if found || !ok {
				break
			}
			hi[k]--
		}
	}
	return lo, hi, undecided
}

// reasonUnpublished marks the counts of a table nobody publishes (the union
// of two windows): the attacker relates the published tables through it
// but it is not itself a target.
const reasonUnpublished = "unpublished"

// unpublished is the publication of a table that is not published: every
// count hidden, only its all-candidates totals known.
func unpublished(tb Table) Published {
	p := Published{Rows: tb.Rows, Cols: tb.Cols, Cells: make([][]Cell, len(tb.Rows))}
	hidden := Cell{Suppressed: true, Reason: reasonUnpublished}
	for r := range tb.Rows {
		for range tb.Cols {
			p.Cells[r] = append(p.Cells[r], hidden)
		}
	}
	return p
}

// hideAll is the publication that hides every count but the all-candidates
// totals, each with the reason its size gives: what the attacker knows with
// no equality table published at all.
func hideAll(cfg Config, raw Node) PublishedNode {
	cfg = cfg.WithDefaults()
	hide := func(v int) Cell {
		if v < cfg.Threshold {
			return Cell{Suppressed: true, Reason: ReasonPrimary}
		}
		return Cell{Suppressed: true, Reason: ReasonSecondary}
	}
	tb := raw.Table
	p := Published{Rows: tb.Rows, Cols: tb.Cols, Cells: make([][]Cell, len(tb.Rows))}
	dv := 0
	notDecl := map[int]bool{}
	for _, r := range tb.NotDeclared {
		notDecl[r] = true
	}
	for r, row := range tb.Cells {
		p.Cells[r] = make([]Cell, len(row))
		for c, v := range row {
			p.Cells[r][c] = hide(v)
		}
		if !notDecl[r] {
			dv += row[0]
		}
	}
	p.Withheld = dv < MinDeclared(cfg, colTotal0(tb))
	out := PublishedNode{Published: p}
	for _, ch := range raw.Children {
		out.Children = append(out.Children, hideAll(cfg, ch))
	}
	return out
}

// assertUnrecoverable fails for every leak the attack finds in pub.
func assertUnrecoverable(t testingT, cfg Config, raw Node, pub PublishedNode) {
	t.Helper()
	for _, l := range leaks(t, cfg, raw, pub) {
		t.Error(l)
	}
}

// leaks runs the attack on pub: every hidden count (and every count below
// the threshold, however hidden) the attacker narrows to fewer than
// Threshold values, unless hiding everything would leave him that narrow
// interval anyway.
func leaks(t testingT, cfg Config, raw Node, pub PublishedNode) []string {
	t.Helper()
	cfg = cfg.WithDefaults()
	a, targets := attackView(t, cfg, raw, pub)
	base, _ := attackView(t, cfg, raw, hideAll(cfg, raw))
	vars := make([]int, len(targets))
	for k, tg := range targets {
		vars[k] = tg.v
	}
	lo, hi, und := a.intervals(t, vars)
	blo, bhi, bund := base.intervals(t, vars)
	if und+bund > 0 {
		t.Logf("attacker: %d interval ends left at the LP bound (integer search undecided)", und+bund)
	}
	var out []string
	for k, tg := range targets {
		if tg.raw < lo[k] || tg.raw > hi[k] {
			t.Fatalf("%s: true count %d outside the attacker's interval [%d, %d]: the attack model is wrong", tg.name, tg.raw, lo[k], hi[k])
		}
		if hi[k]-lo[k] >= cfg.Threshold-1 || hi[k]-lo[k] >= bhi[k]-blo[k] {
			continue
		}
		out = append(out, fmt.Sprintf("%s: true count %d recovered to [%d, %d] (%d values; the all-candidates totals alone give [%d, %d])",
			tg.name, tg.raw, lo[k], hi[k], hi[k]-lo[k]+1, blo[k], bhi[k]))
	}
	return out
}

func colTotal0(tb Table) int {
	n := 0
	for _, row := range tb.Cells {
		n += row[0]
	}
	return n
}
