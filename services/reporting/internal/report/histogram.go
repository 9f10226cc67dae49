package report

import (
	"cmp"
	"slices"
	"sort"
	"sync"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/stats"
)

// counts is a dense histogram of whole days: n[i] applications took
// first+i days.
type counts struct {
	first int32
	n     []int
	total int
}

// cover grows h to hold the values lo..hi.
func (h *counts) cover(lo, hi int32) {
	if len(h.n) == 0 {
		// Room either side: the next values are likely to be near.
		h.first, h.n = lo-32, make([]int, int(hi-lo)+97)
		return
	}
	last := h.first + int32(len(h.n)) - 1
	if lo >= h.first && hi <= last {
		return
	}
	newFirst, newLast := min(lo, h.first), max(hi, last)
	// Grow by at least half again, on the side that ran out.
	if lo < h.first {
		newFirst = min(newFirst, h.first-int32(len(h.n)/2))
	}
	if hi > last {
		newLast = max(newLast, last+int32(len(h.n)/2))
	}
	grown := make([]int, int(newLast-newFirst)+1)
	copy(grown[h.first-newFirst:], h.n)
	h.first, h.n = newFirst, grown
}

func (h *counts) add(v, c int32) {
	if i := v - h.first; len(h.n) == 0 || i < 0 || int(i) >= len(h.n) {
		h.cover(v, v)
	}
	h.n[v-h.first] += int(c)
	h.total += int(c)
}

// merge adds o's counts to h.
func (h *counts) merge(o *counts) {
	if o.total == 0 {
		return
	}
	h.cover(o.first, o.first+int32(len(o.n))-1)
	dst := h.n[o.first-h.first:]
	for i, c := range o.n {
		dst[i] += c
	}
	h.total += o.total
}

func (h *counts) summary() stats.Summary { return stats.FromCounts(int(h.first), h.n) }

// trimmed returns h without the zeros at either end.
func (h counts) trimmed() counts {
	lo, hi := 0, len(h.n)
	for lo < hi && h.n[lo] == 0 {
		lo++
	}
	for hi > lo && h.n[hi-1] == 0 {
		hi--
	}
	return counts{first: h.first + int32(lo), n: h.n[lo:hi:hi], total: h.total}
}

// filter picks the histogram rows a report sums.
type filter struct {
	// campaign, if set, keeps one campaign's rows; role, if set, one
	// role's.
	campaign string
	role     commonv1.JobRole
	// from and to bound the end day, inclusive.
	from, to int32
}

// tally is a measure's histogram over a filter: calendar days, working
// days, and calendar days per week (Monday) if byWeek.
type tally struct {
	cal, work counts
	byWeek    bool
	// weeks in the order first seen; ascending unless index is set (weeks
	// arrived out of order, from several regions or campaigns).
	weeks []weekTally
	index map[int32]int
}

// weekTally is one week of a tally. It may stand for a snapshot's weekly
// histogram and its summary, shared, until something is added to it.
type weekTally struct {
	week    int32
	counts  *counts
	summary *stats.Summary // of a shared histogram
}

// own returns the week's histogram, copied first if shared.
func (w *weekTally) own() *counts {
	if w.summary != nil {
		c := &counts{}
		c.merge(w.counts)
		w.counts, w.summary = c, nil
	}
	return w.counts
}

func (w *weekTally) stats() stats.Summary {
	if w.summary != nil {
		return *w.summary
	}
	return w.counts.summary()
}

// week returns week w's entry, or nil.
func (t *tally) week(w int32) *weekTally {
	if n := len(t.weeks); n > 0 && t.weeks[n-1].week == w {
		return &t.weeks[n-1]
	}
	if t.index != nil {
		if i, ok := t.index[w]; ok {
			return &t.weeks[i]
		}
		return nil
	}
	// Without an index the weeks are ascending: an earlier week may
	// still be among them (campaigns are summed one after another).
	if i, ok := slices.BinarySearchFunc(t.weeks, w, func(x weekTally, w int32) int { return cmp.Compare(x.week, w) }); ok {
		return &t.weeks[i]
	}
	return nil
}

// addWeek appends week w's entry.
func (t *tally) addWeek(wt weekTally) {
	if n := len(t.weeks); n > 0 && wt.week < t.weeks[n-1].week && t.index == nil {
		t.index = make(map[int32]int, n+1)
		for i, x := range t.weeks {
			t.index[x.week] = i
		}
	}
	if t.index != nil {
		t.index[wt.week] = len(t.weeks)
	}
	t.weeks = append(t.weeks, wt)
}

func (t *tally) cell(c cell) {
	t.cal.add(c.days, c.n)
	t.work.add(c.work, c.n)
	if t.byWeek {
		w := monday(c.end)
		wt := t.week(w)
		if wt == nil {
			t.addWeek(weekTally{week: w, counts: &counts{}})
			wt = &t.weeks[len(t.weeks)-1]
		}
		wt.own().add(c.days, c.n)
	}
}

// mergeWeek adds a snapshot's histogram of week w, summarised as sum.
func (t *tally) mergeWeek(w int32, c *counts, sum *stats.Summary) {
	if wt := t.week(w); wt != nil {
		wt.own().merge(c)
		return
	}
	t.addWeek(weekTally{week: w, counts: c, summary: sum})
}

// weekly returns the weeks with applications, in order.
func (t *tally) weekly() []weekTally {
	out := make([]weekTally, 0, len(t.weeks))
	for _, w := range t.weeks {
		if w.counts.total > 0 {
			out = append(out, w)
		}
	}
	if t.index != nil {
		slices.SortFunc(out, func(a, b weekTally) int { return cmp.Compare(a.week, b.week) })
	}
	return out
}

// sum adds measure m of the snapshots' rows that pass f to t. Without a
// campaign or role it adds whole weeks from the regions' weekly
// histograms and reads single rows only in the weeks the window cuts.
func sum(snaps []*snapshot, m projection.Measure, f filter, t *tally) {
	for _, s := range snaps {
		if f.campaign != "" || f.role != 0 {
			eachCampaign([]*snapshot{s}, f.campaign, func(a *campaignAgg) {
				for _, c := range a.window(m, f.from, f.to) {
					if f.role == 0 || c.role == f.role {
						t.cell(c)
					}
				}
			})
			continue
		}
		wk := s.weekly(m)
		if len(wk.weeks) == 0 {
			continue
		}
		// A window over every week (all time, say) takes the totals.
		whole := f.from <= wk.weeks[0] && f.to >= wk.weeks[len(wk.weeks)-1]+6
		if whole {
			t.cal.merge(&wk.totalCal)
			t.work.merge(&wk.totalWork)
		}
		i := sort.Search(len(wk.weeks), func(i int) bool { return wk.weeks[i]+6 >= f.from })
		for ; i < len(wk.weeks) && wk.weeks[i] <= f.to; i++ {
			w := wk.weeks[i]
			if w >= f.from && w+6 <= f.to {
				if !whole {
					t.cal.merge(&wk.cal[i])
					t.work.merge(&wk.work[i])
				}
				if t.byWeek {
					t.mergeWeek(w, &wk.cal[i], &wk.calSummary[i])
				}
				continue
			}
			for _, c := range wk.cells[wk.start[i]:wk.start[i+1]] {
				if c.end >= f.from && c.end <= f.to {
					t.cell(c)
				}
			}
		}
	}
}

// weekly is a region's histograms of one measure per week (Monday of the
// end day), over every campaign and role.
type weekly struct {
	weeks      []int32 // ascending
	cal, work  []counts
	calSummary []stats.Summary
	// totalCal and totalWork sum every week.
	totalCal, totalWork counts
	// cells are the rows summed over campaigns and roles, in end-day
	// order; week i's are cells[start[i]:start[i+1]] (for the weeks a
	// window cuts).
	cells []cell
	start []int
}

// weekly returns the snapshot's weekly histograms of m, built on first use.
func (s *snapshot) weekly(m projection.Measure) *weekly {
	s.weeklyOnce[m].Do(func() { s.weeklyOf[m] = buildWeekly(s.campaigns, m) })
	return s.weeklyOf[m]
}

func buildWeekly(campaigns map[CampaignKey]*campaignAgg, m projection.Measure) *weekly {
	var all []cell
	for _, a := range campaigns {
		all = append(all, a.measures[m]...)
	}
	slices.SortFunc(all, func(a, b cell) int {
		if a.end != b.end {
			return cmp.Compare(a.end, b.end)
		}
		if a.days != b.days {
			return cmp.Compare(a.days, b.days)
		}
		return cmp.Compare(a.work, b.work)
	})
	wk := &weekly{}
	for _, c := range all {
		c.role = 0
		if n := len(wk.cells); n > 0 && wk.cells[n-1].end == c.end && wk.cells[n-1].days == c.days && wk.cells[n-1].work == c.work {
			wk.cells[n-1].n += c.n
		} else {
			wk.cells = append(wk.cells, c)
		}
	}
	var cal, work counts
	flush := func() {
		cal = cal.trimmed()
		work = work.trimmed()
		wk.cal, wk.work = append(wk.cal, cal), append(wk.work, work)
		wk.calSummary = append(wk.calSummary, cal.summary())
		wk.totalCal.merge(&cal)
		wk.totalWork.merge(&work)
		cal, work = counts{}, counts{}
	}
	for i, c := range wk.cells {
		if w := monday(c.end); len(wk.weeks) == 0 || w != wk.weeks[len(wk.weeks)-1] {
			if len(wk.weeks) > 0 {
				flush()
			}
			wk.weeks, wk.start = append(wk.weeks, w), append(wk.start, i)
		}
		cal.add(c.days, c.n)
		work.add(c.work, c.n)
	}
	if len(wk.weeks) > 0 {
		flush()
	}
	wk.start = append(wk.start, len(wk.cells))
	wk.totalCal, wk.totalWork = wk.totalCal.trimmed(), wk.totalWork.trimmed()
	return wk
}

// weeklyCache is the lazily built weekly histograms of a snapshot.
type weeklyCache struct {
	weeklyOnce [maxMeasure + 1]sync.Once
	weeklyOf   [maxMeasure + 1]*weekly
}

// Days are handled as day numbers: days since 1970-01-01, as the store
// reads them (end_date - DATE '1970-01-01').

// dayNumber is the day number of t's calendar date.
func dayNumber(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// dayTime is the date of day number d, at midnight UTC.
func dayTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// monday is the Monday of d's ISO week (PostgreSQL's date_trunc('week')).
// Day 4, 1970-01-05, was a Monday.
func monday(d int32) int32 {
	off := (d - 4) % 7
	if off < 0 {
		off += 7
	}
	return d - off
}
