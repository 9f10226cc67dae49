package funnel

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/region"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Query is what a funnel is asked for.
type Query struct {
	// Region is a region code, or "" for the nation.
	Region string
	// CampaignID is one campaign, or "" for all.
	CampaignID string
	// From and To are the window of submission times, [From, To): one
	// quarter (disclosure.ValidateWindow).
	From, To       time.Time
	Characteristic monitoring.Characteristic
}

// Row is one application of a window: its milestones and its answer to
// the query's characteristic ("" not answered).
type Row struct {
	Milestones
	Answer string
}

// Measure is a published statistic; OK false when it is suppressed.
type Measure struct {
	Value float64
	OK    bool
}

// Transition is a row's conversion from one stage to the next.
type Transition struct {
	Conversion, ImpactRatio Measure
	Flagged                 bool
}

// Funnel is one characteristic's published funnel: every number in it
// comes from disclosure's Published and its methods, so every surface that
// shows a Funnel shows the same numbers.
type Funnel struct {
	Query     Query
	Published disclosure.Published
	Policy    disclosure.Config
	// DeclarationRate is from the published counts.
	DeclarationRate Measure
	// Transitions[r][s] is row r's conversion from Stages[s] to
	// Stages[s+1].
	Transitions [][]Transition
	// MedianDays[r][s] is row r's median days in Stages[s].
	MedianDays [][]Measure
	// MedianBlocked[r] is row r's median days of a vetting case blocked.
	MedianBlocked []Measure
}

// ErrUnknownCampaign means the query's campaign has no application in the
// window (or is of another region): answered as an empty funnel would
// leak nothing, but a typo deserves an answer.
var ErrUnknownCampaign = errors.New("campaign has no applications in the window")

// Report computes the funnel q asks for from rows, every application of
// q's window in the nation (what the answers and milestones hold; the
// query's region and campaign pick a table of the tree, not the rows).
// The nation's, every region's and every campaign's tables of the window
// are protected together (disclosure.ProtectTree), so no table is the
// difference of others, whichever of them a caller asks for; the result is
// deterministic, so every surface asking the same question publishes the
// same numbers.
func Report(cfg disclosure.Config, q Query, rows []Row) (Funnel, error) {
	cfg = cfg.WithDefaults()
	cats := monitoring.Categories(q.Characteristic)
	catIndex := make(map[string]int, len(cats))
	for i, c := range cats {
		catIndex[c] = i
	}
	rowOf := func(r *Row) int {
		if r.Answer == "" {
			return catIndex[monitoring.NotAnswered]
		}
		if i, ok := catIndex[r.Answer]; ok {
			return i
		}
		// An answer the questions no longer list counts as not declared,
		// never as its own (small) group.
		return catIndex[monitoring.NotAnswered]
	}
	cols := make([]string, len(Stages))
	for i, s := range Stages {
		cols[i] = s.String()
	}
	notDeclared := []int{catIndex[monitoring.PreferNotToSay], catIndex[monitoring.NotAnswered]}
	newTable := func() disclosure.Table {
		cells := make([][]int, len(cats))
		for i := range cells {
			cells[i] = make([]int, len(cols))
		}
		return disclosure.Table{Rows: cats, Cols: cols, Cells: cells, Nested: true, NotDeclared: notDeclared}
	}
	count := func(t disclosure.Table, r *Row) {
		row := rowOf(r)
		for s := range Stages {
			if r.Reached[s] != nil {
				t.Cells[row][s]++
			}
		}
	}

	// The tree: the nation, its regions (every region, in their fixed
	// order), each region's campaigns (by id).
	byRegion := map[string]map[string][]*Row{}
	for i := range rows {
		r := &rows[i]
		if r.Reached[0] == nil {
			continue // no submission seen yet: not an application of the window
		}
		if byRegion[r.Region] == nil {
			byRegion[r.Region] = map[string][]*Row{}
		}
		byRegion[r.Region][r.CampaignID] = append(byRegion[r.Region][r.CampaignID], r)
	}
	root := disclosure.Node{Table: newTable()}
	type pos struct{ region, campaign int }
	var want *pos
	if q.Region == "" {
		want = &pos{-1, -1}
	}
	for ri, reg := range region.All {
		node := disclosure.Node{Table: newTable()}
		campaigns := byRegion[reg]
		ids := make([]string, 0, len(campaigns))
		for id := range campaigns {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, cmp.Compare)
		for ci, id := range ids {
			leaf := disclosure.Node{Table: newTable()}
			for _, r := range campaigns[id] {
				count(leaf.Table, r)
				count(node.Table, r)
				count(root.Table, r)
			}
			node.Children = append(node.Children, leaf)
			if q.CampaignID == id && (q.Region == "" || q.Region == reg) {
				want = &pos{ri, ci}
			}
		}
		root.Children = append(root.Children, node)
		if q.CampaignID == "" && q.Region == reg {
			want = &pos{ri, -1}
		}
	}
	if want == nil || (q.CampaignID != "" && want.campaign < 0) {
		return Funnel{}, ErrUnknownCampaign
	}
	out, err := disclosure.ProtectTree(cfg, root)
	if err != nil {
		return Funnel{}, err
	}
	p, group := out.Published, rows
	var members []*Row
	switch {
	case want.region < 0 && want.campaign < 0:
		for i := range group {
			if group[i].Reached[0] != nil {
				members = append(members, &group[i])
			}
		}
	case want.campaign < 0:
		p = out.Children[want.region].Published
		for _, rs := range byRegion[region.All[want.region]] {
			members = append(members, rs...)
		}
	default:
		p = out.Children[want.region].Children[want.campaign].Published
		members = byRegion[region.All[want.region]][q.CampaignID]
	}
	f := Funnel{Query: q, Published: p, Policy: cfg}
	if rate, ok := p.DeclarationRate(); ok {
		f.DeclarationRate = Measure{rate, true}
	}
	f.Transitions = make([][]Transition, len(cats))
	for r := range cats {
		f.Transitions[r] = make([]Transition, len(Stages)-1)
	}
	for s := 0; s+1 < len(Stages); s++ {
		for r, imp := range p.AdverseImpact(s, s+1) {
			t := &f.Transitions[r][s]
			if rate, ok := p.Rate(r, s, s+1); ok {
				t.Conversion = Measure{rate, true}
			}
			if imp.OK {
				t.ImpactRatio, t.Flagged = Measure{imp.Ratio, true}, imp.Flagged
			}
		}
	}
	f.MedianDays, f.MedianBlocked = medians(cfg, p, members, rowOf, len(cats))
	return f, nil
}

// medians are each row's median days in each stage (of those who left it)
// and median days blocked in vetting (of cases opened), published only
// where the row's count at that stage is and the group measured is at
// least the threshold.
func medians(cfg disclosure.Config, p disclosure.Published, members []*Row, rowOf func(*Row) int, nRows int) ([][]Measure, []Measure) {
	days := make([][][]float64, nRows)
	blocked := make([][]float64, nRows)
	for r := range days {
		days[r] = make([][]float64, len(Stages))
	}
	for _, m := range members {
		r := rowOf(m)
		for s := range Stages {
			if d, ok := m.daysInStage(s); ok {
				days[r][s] = append(days[r][s], d)
			}
		}
		if d, ok := m.daysBlocked(); ok {
			blocked[r] = append(blocked[r], d)
		}
	}
	inStage := make([][]Measure, nRows)
	inBlock := make([]Measure, nRows)
	preEmployment := slices.Index(Stages, commonv1.Stage_STAGE_PRE_EMPLOYMENT)
	for r := range nRows {
		inStage[r] = make([]Measure, len(Stages))
		for s := range Stages {
			if !disclosure.GroupShown(cfg, len(days[r][s])) {
				continue
			}
			if v, ok := p.Median(r, s, median(days[r][s])); ok {
				inStage[r][s] = Measure{v, true}
			}
		}
		if disclosure.GroupShown(cfg, len(blocked[r])) {
			if v, ok := p.Median(r, preEmployment, median(blocked[r])); ok {
				inBlock[r] = Measure{v, true}
			}
		}
	}
	return inStage, inBlock
}

// median of xs (not empty), to one decimal: days finer than that would
// say more about individuals than about the group.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return float64(int(m*10+0.5)) / 10
}
