package report

import (
	"testing"
)

// Campaigns are summed one after another, so a week seen before may come
// again after a later one: it must add to the week, never repeat it.
func TestTallyAddsAWeekSeenBeforeALaterOne(t *testing.T) {
	w0 := monday(20634)
	w1 := int32(w0 + 7)
	tl := tally{byWeek: true}
	for _, end := range []int32{w0, w1, w0 + 2, w1 + 1, w0 - 7, w0 + 3} {
		tl.cell(cell{end: end, days: 10, work: 8, n: 1})
	}
	got := tl.weekly()
	want := []struct {
		week  int32
		count int
	}{{w0 - 7, 1}, {w0, 3}, {w1, 2}}
	if len(got) != len(want) {
		t.Fatalf("weeks %v, want %v", weeksOf(got), want)
	}
	for i, w := range want {
		if got[i].week != w.week || got[i].stats().Count != w.count {
			t.Fatalf("week %d: %d with %d, want %d with %d", i, got[i].week, got[i].stats().Count, w.week, w.count)
		}
	}
}

func weeksOf(ws []weekTally) []int32 {
	out := make([]int32, len(ws))
	for i, w := range ws {
		out[i] = w.week
	}
	return out
}
