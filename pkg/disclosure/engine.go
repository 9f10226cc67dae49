package disclosure

import (
	"cmp"
	"fmt"
	"slices"
)

// The model is every count of a window's tables as one variable, with what
// binds them: sums (a total is the sum of its parts — a column's cells and
// its all-candidates count, a row's count at a stage and at the next plus
// the drop-outs, the first column and the declared plus undeclared rows, a
// parent's count and its children's) and chains (a later stage never
// exceeds an earlier one). Protection runs the attack the tests run in a
// cheaper form (interval propagation) and suppresses more until it fails.

type sum struct {
	total int
	parts []int
}

type chain struct{ hi, lo int } // val[lo] <= val[hi]

type nodeIDs struct {
	cells    [][]int
	exits    [][]int // exits[r][c] = cells[r][c] - cells[r][c+1], never published
	colTot   []int
	total    int
	declared int
}

type model struct {
	val   []int
	known []bool // the attacker knows it exactly whatever is published
	// aux marks variables that are never published but that the attacker
	// can reason with (a funnel's drop-outs between two stages).
	aux []bool
	// auxLo, auxHi bound aux variables where the publication says more than
	// [0, ceiling] (the declared count: the gate's side); auxHi < 0 unset.
	auxLo, auxHi []int
	sums         []sum
	chain        []chain
	nodes        []nodeIDs // preorder

	sup    []bool
	reason []string
	ceil   int // the largest known count (ceiling)
	// undeclared marks the cells of "prefer not to say" and "not
	// answered": prune lifts them last, so complements stay there.
	undeclared map[int]bool

	cons [][]int // constraint indexes per variable: sums first, then len(sums)+chain index
}

func (m *model) newVar(v int, known bool) int {
	m.val = append(m.val, v)
	m.known = append(m.known, known)
	m.aux = append(m.aux, false)
	return len(m.val) - 1
}

func (m *model) newAux(v int) int {
	i := m.newVar(v, false)
	m.aux[i] = true
	return i
}

// gate bounds every node's declared count by the side of the
// declaration-rate gate its publication shows.
func (m *model) gate(cfg Config) {
	m.auxLo, m.auxHi = make([]int, len(m.val)), make([]int, len(m.val))
	for i := range m.auxHi {
		m.auxHi[i] = -1
	}
	for _, ids := range m.nodes {
		total := m.val[ids.total]
		d := ids.declared
		if need := MinDeclared(cfg, total); m.val[d] >= need {
			m.auxLo[d], m.auxHi[d] = need, total
		} else {
			m.auxLo[d], m.auxHi[d] = 0, need-1
		}
	}
}

func build(root Node) (*model, error) {
	t := root.Table
	if len(t.Rows) == 0 || len(t.Cols) == 0 {
		return nil, fmt.Errorf("table: needs at least one row and one column")
	}
	notDeclared := make([]bool, len(t.Rows))
	for _, r := range t.NotDeclared {
		if r < 0 || r >= len(t.Rows) {
			return nil, fmt.Errorf("table: not-declared row %d out of range", r)
		}
		notDeclared[r] = true
	}
	m := &model{}
	if _, err := m.add(root, t, notDeclared, "root"); err != nil {
		return nil, err
	}
	for i, s := range m.sums {
		got := 0
		for _, p := range s.parts {
			got += m.val[p]
		}
		if got != m.val[s.total] {
			return nil, fmt.Errorf("table: counts do not add up (constraint %d: %d, parts sum to %d): children must partition their parent", i, m.val[s.total], got)
		}
	}
	m.cons = make([][]int, len(m.val))
	for i, s := range m.sums {
		m.cons[s.total] = append(m.cons[s.total], i)
		for _, p := range s.parts {
			m.cons[p] = append(m.cons[p], i)
		}
	}
	for i, c := range m.chain {
		m.cons[c.hi] = append(m.cons[c.hi], len(m.sums)+i)
		m.cons[c.lo] = append(m.cons[c.lo], len(m.sums)+i)
	}
	return m, nil
}

// add adds n's table and its children's, returning n's variables.
func (m *model) add(n Node, shape Table, notDeclared []bool, path string) (nodeIDs, error) {
	t := n.Table
	if !t.Nested {
		return nodeIDs{}, fmt.Errorf("table %s: only funnels are supported (Nested: each column a subset of the previous)", path)
	}
	if !slices.Equal(t.Rows, shape.Rows) || !slices.Equal(t.Cols, shape.Cols) || !slices.Equal(t.NotDeclared, shape.NotDeclared) {
		return nodeIDs{}, fmt.Errorf("table %s: rows, columns and undeclared rows must be the root's", path)
	}
	if len(t.Cells) != len(t.Rows) {
		return nodeIDs{}, fmt.Errorf("table %s: %d rows of cells for %d rows", path, len(t.Cells), len(t.Rows))
	}
	ids := nodeIDs{cells: make([][]int, len(t.Rows)), exits: make([][]int, len(t.Rows)), colTot: make([]int, len(t.Cols))}
	m.nodes = append(m.nodes, ids)
	at := len(m.nodes) - 1
	colSum := make([]int, len(t.Cols))
	for r, row := range t.Cells {
		if len(row) != len(t.Cols) {
			return nodeIDs{}, fmt.Errorf("table %s: row %q has %d cells for %d columns", path, t.Rows[r], len(row), len(t.Cols))
		}
		ids.cells[r] = make([]int, len(row))
		for c, v := range row {
			if v < 0 {
				return nodeIDs{}, fmt.Errorf("table %s: negative count in row %q column %q", path, t.Rows[r], t.Cols[c])
			}
			if c > 0 && v > row[c-1] {
				return nodeIDs{}, fmt.Errorf("table %s: row %q grows from column %q to %q", path, t.Rows[r], t.Cols[c-1], t.Cols[c])
			}
			ids.cells[r][c] = m.newVar(v, false)
			if notDeclared[r] {
				if m.undeclared == nil {
					m.undeclared = map[int]bool{}
				}
				m.undeclared[ids.cells[r][c]] = true
			}
			colSum[c] += v
		}
	}
	if t.StageTotals != nil && !slices.Equal(t.StageTotals, colSum) {
		return nodeIDs{}, fmt.Errorf("table %s: columns sum to %v, not the stage totals %v: the rows must count every candidate", path, colSum, t.StageTotals)
	}
	for c := range t.Cols {
		ids.colTot[c] = m.newVar(colSum[c], true)
		parts := make([]int, len(t.Rows))
		for r := range t.Rows {
			parts[r] = ids.cells[r][c]
		}
		m.sums = append(m.sums, sum{ids.colTot[c], parts})
	}
	// A funnel row is its drop-outs at each stage plus those still in the
	// last; the drop-outs of a stage over all rows are known (the
	// difference of two all-candidates counts). Through these variables
	// interval propagation finds what the attacker gets by adding the
	// chains of several rows (Σ later stage ≤ Σ earlier stage).
	for r, row := range t.Cells {
		m.chainRow(ids.cells[r])
		ids.exits[r] = make([]int, len(row)-1)
		for c := range len(row) - 1 {
			ids.exits[r][c] = m.newAux(row[c] - row[c+1])
			m.sums = append(m.sums, sum{ids.cells[r][c], []int{ids.cells[r][c+1], ids.exits[r][c]}})
		}
	}
	for c := range len(t.Cols) - 1 {
		parts := make([]int, len(t.Rows))
		for r := range t.Rows {
			parts[r] = ids.exits[r][c]
		}
		m.sums = append(m.sums, sum{m.newVar(colSum[c]-colSum[c+1], true), parts})
	}
	// The table's people are its first column; the declared count and the
	// undeclared rows make them up.
	ids.total = ids.colTot[0]
	var decl, undecl []int
	dv := 0
	for r := range t.Rows {
		if notDeclared[r] {
			undecl = append(undecl, ids.cells[r][0])
		} else {
			decl = append(decl, ids.cells[r][0])
			dv += t.Cells[r][0]
		}
	}
	// The declared count is not published, but whether the table is
	// withheld tells on which side of the gate it lies (protect bounds it).
	ids.declared = m.newAux(dv)
	m.sums = append(m.sums, sum{ids.declared, decl}, sum{ids.total, append([]int{ids.declared}, undecl...)})
	m.nodes[at] = ids

	kids := make([]nodeIDs, len(n.Children))
	for i, ch := range n.Children {
		k, err := m.add(ch, shape, notDeclared, fmt.Sprintf("%s/%d", path, i))
		if err != nil {
			return nodeIDs{}, err
		}
		kids[i] = k
	}
	if len(kids) > 0 {
		link := func(parent int, child func(nodeIDs) int) {
			parts := make([]int, len(kids))
			for i, k := range kids {
				parts[i] = child(k)
			}
			m.sums = append(m.sums, sum{parent, parts})
		}
		for r := range t.Rows {
			for c := range t.Cols {
				link(ids.cells[r][c], func(k nodeIDs) int { return k.cells[r][c] })
			}
			for c := range ids.exits[r] {
				link(ids.exits[r][c], func(k nodeIDs) int { return k.exits[r][c] })
			}
		}
		for c := range t.Cols {
			link(ids.colTot[c], func(k nodeIDs) int { return k.colTot[c] })
		}
		link(ids.declared, func(k nodeIDs) int { return k.declared })
	}
	return ids, nil
}

func (m *model) chainRow(row []int) {
	for c := 1; c < len(row); c++ {
		m.chain = append(m.chain, chain{hi: row[c-1], lo: row[c]})
	}
}

// protect marks the suppressed variables: below the threshold (primary),
// then more (secondary) until the attack leaves every suppressed count at
// least Threshold possible values — or as many as the known totals leave.
func (m *model) protect(cfg Config) {
	m.gate(cfg)
	m.ceil = m.ceiling()
	n := len(m.val)
	m.sup = make([]bool, n)
	m.reason = make([]string, n)
	for i, v := range m.val {
		if v < cfg.Threshold && !m.aux[i] {
			m.sup[i], m.reason[i] = true, ReasonPrimary
		}
	}
	all := make([]bool, n)
	for i := range all {
		all[i] = !m.known[i] || m.sup[i]
	}
	// Unconverged baseline intervals are only wider: the need is higher.
	blo, bhi, _ := m.bounds(cfg, all)
	need := make([]int, n)
	for i := range need {
		need[i] = min(cfg.Threshold-1, bhi[i]-blo[i])
	}
	for range n + 1 {
		lo, hi, converged := m.bounds(cfg, m.sup)
		if !converged {
			break // wider than the attacker's: cannot vouch for any
		}
		var failing []int
		for i := range m.val {
			if m.sup[i] && !m.known[i] && !m.aux[i] && hi[i]-lo[i] < need[i] {
				failing = append(failing, i)
			}
		}
		if len(failing) == 0 {
			m.prune(cfg, need)
			return
		}
		touched := map[int]bool{}
		added := false
		for _, i := range failing {
			if slices.ContainsFunc(m.cons[i], func(k int) bool { return touched[k] }) {
				continue
			}
			j := m.candidate(i)
			if j < 0 {
				continue
			}
			m.sup[j], m.reason[j] = true, ReasonSecondary
			added = true
			for _, k := range m.cons[j] {
				touched[k] = true
			}
		}
		if !added {
			break
		}
	}
	// Nothing left to suppress near a failing cell: hide every count the
	// attacker does not already know. That is the baseline, so it passes;
	// pruning then publishes again what no hidden count needs.
	for i := range m.val {
		if !m.known[i] && !m.aux[i] && !m.sup[i] {
			m.sup[i], m.reason[i] = true, ReasonSecondary
		}
	}
	m.prune(cfg, need)
}

// members returns the variables of constraint k.
func (m *model) members(k int) []int {
	if k < len(m.sums) {
		s := m.sums[k]
		return append([]int{s.total}, s.parts...)
	}
	c := m.chain[k-len(m.sums)]
	return []int{c.hi, c.lo}
}

// candidate picks the published count to hide next for failing variable i:
// from the constraint of i with the fewest hidden members (where hiding one
// more widens i the most), the smallest count (the least information lost).
// When every member of i's constraints is hidden or known, it looks one and
// then two constraints further out; -1 when there is nothing there either.
func (m *model) candidate(i int) int {
	type option struct{ hidden, val, id int }
	seen := map[int]bool{i: true}
	frontier := []int{i}
	for range 3 {
		var best *option
		var next []int
		for _, v := range frontier {
			for _, k := range m.cons[v] {
				mem := m.members(k)
				hidden := 0
				for _, u := range mem {
					if m.sup[u] && !m.known[u] {
						hidden++
					}
				}
				for _, u := range mem {
					if !seen[u] {
						seen[u] = true
						next = append(next, u)
					}
					if m.sup[u] || m.known[u] || m.aux[u] {
						continue
					}
					o := option{hidden, m.val[u], u}
					if best == nil || cmp.Or(cmp.Compare(o.hidden, best.hidden), cmp.Compare(o.val, best.val), cmp.Compare(o.id, best.id)) < 0 {
						best = &o
					}
				}
			}
		}
		if best != nil {
			return best.id
		}
		frontier = next
	}
	return -1
}

// bounds is the attacker: the interval of every variable given what is
// published when hidden marks the suppressed ones — a published count lies
// in its rounding interval and is at least the threshold; a primary hidden
// count is below it, a secondary one at or above; known totals are exact —
// narrowed by interval propagation over the sums and chains to a fixpoint.
// converged is false when a work limit stopped it first: the intervals
// still hold the true values but may be wider than the attacker's.
func (m *model) bounds(cfg Config, hidden []bool) (lo, hi []int, converged bool) {
	n := len(m.val)
	lo, hi = make([]int, n), make([]int, n)
	for i := range m.val {
		lo[i], hi[i] = m.domain(cfg, i, hidden[i])
	}
	nc := len(m.sums) + len(m.chain)
	queue := make([]int, 0, nc)
	for k := range nc {
		queue = append(queue, k)
	}
	return lo, hi, m.propagate(lo, hi, queue)
}

// ceiling is the largest known count: no count exceeds it.
func (m *model) ceiling() int {
	c := 0
	for i, v := range m.val {
		if m.known[i] {
			c = max(c, v)
		}
	}
	return c
}

// domain is what the publication alone says of variable i when hidden
// tells whether it is suppressed.
func (m *model) domain(cfg Config, i int, hidden bool) (lo, hi int) {
	v := m.val[i]
	switch {
	case m.known[i]:
		return v, v
	case m.aux[i] && m.auxHi[i] >= 0:
		return m.auxLo[i], m.auxHi[i]
	case m.aux[i]:
		return 0, m.ceil
	case hidden && v < cfg.Threshold:
		return 0, cfg.Threshold - 1
	case hidden:
		return cfg.Threshold, m.ceil
	default:
		l, h := roundingInterval(round(v, cfg.RoundBase), cfg.RoundBase)
		return max(l, cfg.Threshold), h
	}
}

// propagate narrows lo, hi over the sums and chains to a fixpoint, starting
// from the constraints in queue (and those of every variable it narrows).
// It returns false when its work limit stopped it first: the intervals
// still hold the true values but may be wider than the attacker's. Interval
// propagation only narrows and its fixpoint does not depend on the order,
// so narrowing one variable of a fixpoint and propagating from its
// constraints gives the fixpoint of the narrower publication.
func (m *model) propagate(lo, hi []int, queue []int) bool {
	nc := len(m.sums) + len(m.chain)
	queued := make([]bool, nc)
	for _, k := range queue {
		queued[k] = true
	}
	set := func(v, l, h int) {
		if l <= lo[v] && h >= hi[v] {
			return
		}
		lo[v], hi[v] = max(lo[v], l), min(hi[v], h)
		for _, k := range m.cons[v] {
			if !queued[k] {
				queued[k] = true
				queue = append(queue, k)
			}
		}
	}
	for budget := 1000 * (nc + 1); len(queue) > 0; budget-- {
		if budget == 0 {
			return false
		}
		k := queue[0]
		queue = queue[1:]
		queued[k] = false
		if k >= len(m.sums) {
			c := m.chain[k-len(m.sums)]
			set(c.lo, lo[c.lo], hi[c.hi])
			set(c.hi, lo[c.lo], hi[c.hi])
			continue
		}
		s := m.sums[k]
		sl, sh := 0, 0
		for _, p := range s.parts {
			sl += lo[p]
			sh += hi[p]
		}
		set(s.total, sl, sh)
		tl, th := lo[s.total], hi[s.total]
		for _, p := range s.parts {
			set(p, tl-(sh-hi[p]), th-(sl-lo[p]))
		}
	}
	return true
}

// prune publishes again what the greedy search hid without need: it tries
// each secondary suppression — the categories' counts before the undeclared
// rows' (which no comparison uses, so complements are best kept there),
// largest first (the most useful to publish), ties by variable order so
// the result is deterministic — and
// publishes it if every hidden count still keeps its need. The greedy
// search picks complements one failing count at a time, each against the
// old publication, so on trees (a small group in two regions, a campaign
// equal to its region) it cascades and can end hiding whole regions;
// pruning keeps only the complements that some hidden count needs. Each
// try narrows the one count and propagates from it (see propagate); a try
// that hits the work limit keeps the count hidden.
func (m *model) prune(cfg Config, need []int) {
	lo, hi, converged := m.bounds(cfg, m.sup)
	if !converged {
		return
	}
	var order []int
	for i := range m.val {
		if m.sup[i] && m.reason[i] == ReasonSecondary && !m.known[i] && !m.aux[i] {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(compareBool(m.undeclared[a], m.undeclared[b]), cmp.Compare(m.val[b], m.val[a]), cmp.Compare(a, b))
	})
	l2, h2 := make([]int, len(lo)), make([]int, len(hi))
	inUnit := make([]bool, len(m.val))
	for _, v := range order {
		if !m.sup[v] {
			continue // published with an earlier unit
		}
		unit := []int{v}
		inUnit[v] = true
		for len(unit) <= maxPruneUnit {
			fail := m.tryPublish(cfg, need, lo, hi, l2, h2, unit, inUnit)
			if fail < 0 {
				for _, u := range unit {
					m.sup[u], m.reason[u] = false, ""
				}
				lo, l2 = l2, lo
				hi, h2 = h2, hi
				break
			}
			if fail == len(m.val) || m.reason[fail] != ReasonSecondary {
				break
			}
			unit = append(unit, fail)
			inUnit[fail] = true
		}
		for _, u := range unit {
			inUnit[u] = false
		}
	}
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// maxPruneUnit bounds how many secondary suppressions prune lifts together.
const maxPruneUnit = 12

// tryPublish propagates, into l2 and h2, the fixpoint lo, hi narrowed by
// publishing the counts of unit. It returns -1 when every other hidden
// count keeps its need, else the first that does not (len(m.val) when
// propagation hit its work limit).
func (m *model) tryPublish(cfg Config, need, lo, hi, l2, h2, unit []int, inUnit []bool) int {
	copy(l2, lo)
	copy(h2, hi)
	var queue []int
	for _, v := range unit {
		pl, ph := m.domain(cfg, v, false)
		l2[v], h2[v] = max(l2[v], pl), min(h2[v], ph)
		queue = append(queue, m.cons[v]...)
	}
	if !m.propagate(l2, h2, queue) {
		return len(m.val)
	}
	for i := range m.val {
		if !inUnit[i] && m.sup[i] && !m.known[i] && !m.aux[i] && h2[i]-l2[i] < need[i] {
			return i
		}
	}
	return -1
}
func (m *model) cell(cfg Config, v int) Cell {
	if m.sup[v] {
		return Cell{Suppressed: true, Reason: m.reason[v]}
	}
	return Cell{Value: round(m.val[v], cfg.RoundBase)}
}

// publish builds the published tables of n and its children; at is n's
// preorder index.
func (m *model) publish(cfg Config, n Node, at int) PublishedNode {
	return m.publishFrom(cfg, n, &at)
}

func (m *model) publishFrom(cfg Config, n Node, at *int) PublishedNode {
	ids := m.nodes[*at]
	*at++
	t := n.Table
	p := Published{
		Rows: slices.Clone(t.Rows), Cols: slices.Clone(t.Cols),
		Cells:       make([][]Cell, len(t.Rows)),
		ColTotals:   make([]Cell, len(t.Cols)),
		Total:       m.cell(cfg, ids.total),
		notDeclared: make([]bool, len(t.Rows)),
	}
	for _, r := range t.NotDeclared {
		p.notDeclared[r] = true
	}
	p.Withheld = m.val[ids.declared] < MinDeclared(cfg, m.val[ids.total])
	withheld := Cell{Suppressed: true, Reason: ReasonDeclaration}
	for r := range t.Rows {
		p.Cells[r] = make([]Cell, len(t.Cols))
		for c := range t.Cols {
			p.Cells[r][c] = m.cell(cfg, ids.cells[r][c])
			if p.Withheld {
				p.Cells[r][c] = withheld
			}
		}
	}
	for c := range t.Cols {
		p.ColTotals[c] = m.cell(cfg, ids.colTot[c])
	}
	out := PublishedNode{Published: p}
	for _, ch := range n.Children {
		out.Children = append(out.Children, m.publishFrom(cfg, ch, at))
	}
	return out
}
