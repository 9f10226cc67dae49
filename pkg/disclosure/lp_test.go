package disclosure

import (
	"math"
)

// A dense two-phase simplex (Bland's rule, so degenerate tables cannot make
// it cycle) for the attacker's linear programme: the smallest and largest
// value of a hidden count over every real solution of the published facts.
// Those bounds are what an audit tool (τ-ARGUS's) computes; an integer
// solution is always among them, so rounding them inwards is still sound for
// the attacker.

const lpEps = 1e-7

type lp struct {
	m, n  int // rows, structural columns (artificials follow)
	t     [][]float64
	basis []int
	ok    bool // phase 1 found a feasible basis
}

// newLP builds A x = b, x >= 0, and runs phase 1.
func newLP(a [][]float64, b []float64, n int) *lp {
	m := len(a)
	p := &lp{m: m, n: n, t: make([][]float64, m), basis: make([]int, m)}
	for i := range a {
		row := make([]float64, n+m+1)
		sign := 1.0
		if b[i] < 0 {
			sign = -1
		}
		for j, v := range a[i] {
			row[j] = sign * v
		}
		row[n+i] = 1
		row[n+m] = sign * b[i]
		p.t[i] = row
		p.basis[i] = n + i
	}
	cost := make([]float64, n+m)
	for j := n; j < n+m; j++ {
		cost[j] = -1
	}
	p.run(cost, n+m)
	val := 0.0
	for i := range m {
		if p.basis[i] >= n {
			val += p.t[i][n+m]
		}
	}
	p.ok = val < 1e-6
	if !p.ok {
		return p
	}
	// Drive artificials at zero out of the basis where a structural column
	// can replace them; a row with none is redundant and stays inert.
	for i := range m {
		if p.basis[i] < n {
			continue
		}
		for j := range n {
			if math.Abs(p.t[i][j]) > lpEps {
				p.pivot(i, j)
				break
			}
		}
	}
	return p
}

func (p *lp) pivot(r, c int) {
	w := len(p.t[r])
	pv := p.t[r][c]
	for j := range w {
		p.t[r][j] /= pv
	}
	for i := range p.m {
		if i == r {
			continue
		}
		f := p.t[i][c]
		if f == 0 {
			continue
		}
		for j := range w {
			p.t[i][j] -= f * p.t[r][j]
		}
	}
	p.basis[r] = c
}

// run maximizes cost·x over the columns below limit from the current basis;
// false when unbounded.
func (p *lp) run(cost []float64, limit int) bool {
	rhs := p.n + p.m
	for {
		enter := -1
		for j := range limit {
			rc := cost[j]
			for i := range p.m {
				rc -= cost[p.basis[i]] * p.t[i][j]
			}
			if rc > lpEps {
				enter = j
				break
			}
		}
		if enter < 0 {
			return true
		}
		leave := -1
		best := math.Inf(1)
		for i := range p.m {
			if p.t[i][enter] > lpEps {
				ratio := p.t[i][rhs] / p.t[i][enter]
				if ratio < best-lpEps || (ratio < best+lpEps && leave >= 0 && p.basis[i] < p.basis[leave]) {
					best, leave = ratio, i
				}
			}
		}
		if leave < 0 {
			return false
		}
		p.pivot(leave, enter)
	}
}

// max is the largest cost·x over the feasible set (from a copy of the phase
// 1 basis).
func (p *lp) max(cost []float64) float64 {
	q := &lp{m: p.m, n: p.n, t: make([][]float64, p.m), basis: append([]int(nil), p.basis...)}
	for i := range p.t {
		q.t[i] = append([]float64(nil), p.t[i]...)
	}
	full := make([]float64, p.n+p.m)
	copy(full, cost)
	if !q.run(full, p.n) {
		return math.Inf(1)
	}
	v := 0.0
	for i := range q.m {
		v += full[q.basis[i]] * q.t[i][p.n+p.m]
	}
	return v
}

// lpBounds is the attacker's LP: variables are the attacker's counts within
// their domains d, facts his constraints. It returns the rounded-inwards
// real bounds of every variable in vars.
func (a *attacker) lpBounds(d []avar, vars []int) (lo, hi []int, ok bool) {
	nv := len(d)
	var chains, sums []acons
	for _, c := range a.cons {
		if c.chain {
			chains = append(chains, c)
		} else {
			sums = append(sums, c)
		}
	}
	// columns: y (nv), bound slacks (nv), chain slacks
	n := 2*nv + len(chains)
	var rows [][]float64
	var rhs []float64
	for i, v := range d {
		r := make([]float64, n)
		r[i], r[nv+i] = 1, 1
		rows, rhs = append(rows, r), append(rhs, float64(v.hi-v.lo))
	}
	for _, c := range sums {
		r := make([]float64, n)
		r[c.total] += 1
		b := -float64(d[c.total].lo)
		for _, p := range c.parts {
			r[p] -= 1
			b += float64(d[p].lo)
		}
		rows, rhs = append(rows, r), append(rhs, b)
	}
	for k, c := range chains {
		r := make([]float64, n)
		hiV, loV := c.total, c.parts[0]
		r[loV] += 1
		r[hiV] -= 1
		r[2*nv+k] = 1
		rows, rhs = append(rows, r), append(rhs, float64(d[hiV].lo-d[loV].lo))
	}
	p := newLP(rows, rhs, n)
	if !p.ok {
		return nil, nil, false
	}
	lo, hi = make([]int, len(vars)), make([]int, len(vars))
	for k, v := range vars {
		cost := make([]float64, n)
		cost[v] = 1
		mx := p.max(cost)
		cost[v] = -1
		mn := -p.max(cost)
		lo[k] = d[v].lo + int(math.Ceil(mn-1e-6))
		hi[k] = d[v].lo + int(math.Floor(mx+1e-6))
	}
	return lo, hi, true
}
