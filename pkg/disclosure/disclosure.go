// Package disclosure is the statistical disclosure control of the equality
// monitoring reports: which counts of a characteristic-by-stage table may be
// published, rounded how, and which are suppressed so that no hidden count
// can be recovered — from the table's own totals, from the all-candidates
// stage totals the ordinary funnel publishes, from the other tables of the
// same window (national, region, campaign) or from another window.
//
// Every surface (API, dashboard, CSV) publishes what Protect or ProtectTree
// returns and derives rates, ratios and medians only through Published's
// methods, so the numbers are identical everywhere. docs/design.md
// ("Disclosure control") gives the rules and their reasoning.
//
// The guarantee, checked by an attacker in the tests: an adversary who knows
// the rules (threshold, rounding, which cells are suppressed and whether
// primarily or secondarily), every published table of a window and the exact
// all-candidates stage totals of every table, cannot narrow any suppressed
// count to fewer than Threshold possible values — unless the all-candidates
// totals alone already narrow it that far, in which case he learns nothing
// beyond them.
package disclosure

import (
	"fmt"
	"math"
)

// Defaults of Config: a zero field takes its default.
const (
	DefaultThreshold          = 10
	DefaultRoundBase          = 5
	DefaultMinDeclarationRate = 0.6
	// MinThreshold is the lowest threshold Validate accepts.
	MinThreshold = 5
)

// Suppression reasons (Cell.Reason).
const (
	// ReasonPrimary: the count is below the threshold.
	ReasonPrimary = "primary"
	// ReasonSecondary: the count is at or above the threshold but hidden so
	// that a primary cell cannot be recovered from totals.
	ReasonSecondary = "secondary"
	// ReasonDeclaration: the table is withheld because too few declared
	// the characteristic (Published.Withheld).
	ReasonDeclaration = "declaration"
)

// Config holds the disclosure rules. A zero field takes its default.
type Config struct {
	// Threshold: counts below it are suppressed (default 10; at least 5).
	Threshold int
	// RoundBase: published counts are rounded to the nearest multiple of
	// it, halves up (default 5; 1 publishes exact counts).
	RoundBase int
	// MinDeclarationRate: a characteristic is shown only where at least
	// this share of the table's people declared a category, i.e. answered
	// with neither "prefer not to say" nor nothing (default 0.6).
	MinDeclarationRate float64
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.RoundBase == 0 {
		c.RoundBase = DefaultRoundBase
	}
	if c.MinDeclarationRate == 0 {
		c.MinDeclarationRate = DefaultMinDeclarationRate
	}
	return c
}

// Validate refuses rules that would publish small counts: a threshold below
// MinThreshold, a rounding base below 1, a declaration rate outside [0, 1].
// Zero fields are taken as their defaults first.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Threshold < MinThreshold:
		return fmt.Errorf("threshold: must be at least %d, got %d", MinThreshold, c.Threshold)
	case c.RoundBase < 1:
		return fmt.Errorf("round_base: must be at least 1, got %d", c.RoundBase)
	case c.MinDeclarationRate < 0 || c.MinDeclarationRate > 1:
		return fmt.Errorf("min_declaration_rate: must be between 0 and 1, got %v", c.MinDeclarationRate)
	}
	return nil
}

// Table is one characteristic's funnel: rows are its categories, which
// must be exhaustive (including "prefer not to say" and "not answered"), so
// that each column sums to the all-candidates count of that column; columns
// are successive pipeline stages (applied, reached sift, ...), each
// counting a subset of the previous one's people, so a row never grows
// along the columns and the table's people are its first column.
type Table struct {
	Rows, Cols []string
	// Cells[r][c] is the raw count of row r in column c.
	Cells [][]int
	// Nested must be true: only funnels are supported. A table of disjoint
	// columns (each row with a total) is refused, because its protection
	// is not proven against the attack (docs/design.md).
	Nested bool
	// NotDeclared lists the rows that are not a declaration ("prefer not
	// to say", "not answered"): they count against the declaration rate
	// and never as a group in an adverse-impact comparison.
	NotDeclared []int
	// StageTotals, when set, are the all-candidates counts of each column
	// as the ordinary funnel reports them for the same scope and window;
	// Protect refuses a table whose columns do not sum to them (rows not
	// exhaustive: someone is missing, and the protection assumes the
	// attacker knows those totals).
	StageTotals []int
}

// Cell is one published count. A suppressed cell has Value 0 and a Reason;
// a surface shows it as suppressed, never as 0.
type Cell struct {
	Value      int
	Suppressed bool
	Reason     string
}

// Published is a protected table: rounded counts, suppressed cells, and
// totals computed from the raw counts then rounded (so a total may differ
// from the sum of the published cells).
type Published struct {
	Rows, Cols []string
	Cells      [][]Cell
	// ColTotals are the all-candidates counts of each column, rounded.
	ColTotals []Cell
	// Total is the table's people: ColTotals[0].
	Total Cell
	// Withheld: fewer than MinDeclared of the table's people declared a
	// category, so every row's cells are suppressed (ReasonDeclaration);
	// the column totals and Total remain.
	Withheld bool

	notDeclared []bool
}

// Protect protects a table that is the only equality table published over
// its people. When tables overlap — a region's and its campaigns' tables of
// the same window, the national and the regional tables — they must be
// protected together by ProtectTree, else one is the difference of others.
func Protect(cfg Config, t Table) (Published, error) {
	out, err := ProtectTree(cfg, Node{Table: t})
	if err != nil {
		return Published{}, err
	}
	return out.Published, nil
}

// Node is a table with the tables that partition its people: every count of
// the node is the sum of that count in its children. The root of a window is
// the national table, its children the regions' tables, theirs the tables of
// each campaign's applications in the window.
type Node struct {
	Table    Table
	Children []Node
}

// PublishedNode is a Node's protected table and its children's.
type PublishedNode struct {
	Published Published
	Children  []PublishedNode
}

// ProtectTree protects every table of a window together: the suppression of
// each table accounts for what its parent, siblings and children publish.
// The result is deterministic — the same tree gives the same publication —
// so every surface that protects the same tree shows the same numbers.
func ProtectTree(cfg Config, root Node) (PublishedNode, error) {
	if err := cfg.Validate(); err != nil {
		return PublishedNode{}, err
	}
	cfg = cfg.WithDefaults()
	m, err := build(root)
	if err != nil {
		return PublishedNode{}, err
	}
	m.protect(cfg)
	return m.publish(cfg, root, 0), nil
}

// Rate is the share of row's people in column fromCol who reach toCol,
// computed from the published (rounded) counts so every surface derives the
// same rate and none finer than the counts: false when either count is
// suppressed or the from count is zero.
func (p Published) Rate(row, fromCol, toCol int) (float64, bool) {
	if row < 0 || row >= len(p.Cells) || fromCol < 0 || toCol < 0 ||
		fromCol >= len(p.Cols) || toCol >= len(p.Cols) {
		return 0, false
	}
	from, to := p.Cells[row][fromCol], p.Cells[row][toCol]
	if from.Suppressed || to.Suppressed || from.Value == 0 {
		return 0, false
	}
	return float64(to.Value) / float64(from.Value), true
}

// Shown reports whether row's count in col is published; a statistic of
// that group (a median of days in stage) may be published only then.
func (p Published) Shown(row, col int) bool {
	if row < 0 || row >= len(p.Cells) || col < 0 || col >= len(p.Cols) {
		return false
	}
	return !p.Cells[row][col].Suppressed
}

// Median returns m, a statistic of the group counted in row's col, when that
// count is published; false otherwise (the group is small or hidden).
func (p Published) Median(row, col int, m float64) (float64, bool) {
	if !p.Shown(row, col) {
		return 0, false
	}
	return m, true
}

// GroupShown reports whether a statistic of a group of n people that is not
// a cell of a table (e.g. the blocked vetting cases of a category) may be
// published: n at least the threshold.
func GroupShown(cfg Config, n int) bool {
	return n >= cfg.WithDefaults().Threshold
}

// DeclarationRate is the share of the table's people in declared rows,
// from the published counts: Total less the undeclared rows' first column,
// over Total. False when one of those is suppressed, the total is zero or
// the table is withheld. (No declared count of its own is published: it
// would be one more sum over the first column for the attacker, costing a
// second suppression in it.)
func (p Published) DeclarationRate() (float64, bool) {
	if p.Withheld || p.Total.Suppressed || p.Total.Value == 0 {
		return 0, false
	}
	undeclared := 0
	for r := range p.Rows {
		if !p.isNotDeclared(r) {
			continue
		}
		c := p.Cells[r][0]
		if c.Suppressed {
			return 0, false
		}
		undeclared += c.Value
	}
	return float64(p.Total.Value-undeclared) / float64(p.Total.Value), true
}

// MinDeclared is the fewest declared people of total for a table to be shown
// (Config.MinDeclarationRate of total, rounded up); a table of no one is
// never shown.
func MinDeclared(cfg Config, total int) int {
	if total <= 0 {
		return 1
	}
	x := cfg.WithDefaults().MinDeclarationRate * float64(total)
	d := int(math.Ceil(x))
	for d > 0 && float64(d-1) >= x {
		d--
	}
	for float64(d) < x {
		d++
	}
	return d
}

// Impact is a row's conversion relative to the most successful declared
// group (the adverse impact ratio).
type Impact struct {
	Rate, Ratio float64
	OK          bool
	// Flagged: Ratio is below FourFifths.
	Flagged bool
}

// FourFifths is the adverse impact ratio below which a group is flagged.
const FourFifths = 0.8

// AdverseImpact returns, per row, its rate from fromCol to toCol relative to
// the highest rate among the declared rows whose rate is published. Rows not
// declared, rows whose rate is suppressed, and every row when no declared
// row has a positive rate, are not OK.
func (p Published) AdverseImpact(fromCol, toCol int) []Impact {
	out := make([]Impact, len(p.Rows))
	best := 0.0
	for r := range p.Rows {
		if p.isNotDeclared(r) {
			continue
		}
		if rate, ok := p.Rate(r, fromCol, toCol); ok {
			out[r].Rate, out[r].OK = rate, true
			best = max(best, rate)
		}
	}
	for r := range out {
		if !out[r].OK {
			continue
		}
		if best == 0 {
			out[r] = Impact{}
			continue
		}
		out[r].Ratio = out[r].Rate / best
		out[r].Flagged = out[r].Ratio < FourFifths
	}
	return out
}

func (p Published) isNotDeclared(r int) bool {
	return r < len(p.notDeclared) && p.notDeclared[r]
}

// round rounds v to the nearest multiple of base, halves up.
func round(v, base int) int {
	if base <= 1 {
		return v
	}
	return (v + base/2) / base * base
}

// roundingInterval is every raw value that rounds to p.
func roundingInterval(p, base int) (lo, hi int) {
	if base <= 1 {
		return p, p
	}
	lo = p - base/2
	return lo, lo + base - 1
}
