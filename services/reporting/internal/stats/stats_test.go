package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }

func TestOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want Summary
	}{
		{nil, Summary{}},
		{[]float64{}, Summary{}},
		{[]float64{5}, Summary{Count: 1, Mean: 5, Median: 5, P90: 5}},
		{[]float64{1, 2, 3, 4}, Summary{Count: 4, Mean: 2.5, Median: 2.5, P90: 3.7}},
		{[]float64{4, 1, 3, 2}, Summary{Count: 4, Mean: 2.5, Median: 2.5, P90: 3.7}},
		{[]float64{10, 0, 20}, Summary{Count: 3, Mean: 10, Median: 10, P90: 18}},
		{[]float64{7, 7, 7, 7, 7}, Summary{Count: 5, Mean: 7, Median: 7, P90: 7}},
		// rank 0.9*9 = 8.1: 9 + 0.1*(100-9)
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 100}, Summary{Count: 10, Mean: 14.5, Median: 5.5, P90: 18.1}},
		// rank 0.9*10 = 9 exactly: the tenth value, no interpolation
		{[]float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Summary{Count: 11, Mean: 5, Median: 5, P90: 9}},
		{[]float64{-3, 3}, Summary{Count: 2, Mean: 0, Median: 0, P90: 2.4}},
		{[]float64{0.5, 1.5}, Summary{Count: 2, Mean: 1, Median: 1, P90: 1.4}},
	} {
		t.Run(fmt.Sprint(tc.in), func(t *testing.T) {
			t.Parallel()
			orig := slices.Clone(tc.in)
			got := Of(tc.in)
			if got.Count != tc.want.Count || !near(got.Mean, tc.want.Mean) ||
				!near(got.Median, tc.want.Median) || !near(got.P90, tc.want.P90) {
				t.Errorf("Of(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			if !slices.Equal(tc.in, orig) {
				t.Errorf("Of modified its input: %v, was %v", tc.in, orig)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	v := []float64{1, 2, 3, 4}
	for _, tc := range []struct {
		values []float64
		p      float64
		want   float64
	}{
		{v, 0, 1},
		{v, 1, 4},
		{v, 0.25, 1.75},
		{v, 0.5, 2.5},
		{v, 0.9, 3.7},
		{v, -0.5, 1}, // clamped
		{v, 1.5, 4},  // clamped
		{[]float64{5}, 0.9, 5},
		{nil, 0.5, 0},
		{[]float64{0, 10, 20}, 0.9, 18},
	} {
		if got := Percentile(tc.values, tc.p); !near(got, tc.want) {
			t.Errorf("Percentile(%v, %g) = %g, want %g", tc.values, tc.p, got, tc.want)
		}
	}
}

func TestFromHistogram(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h    map[int]int
		want Summary
	}{
		{nil, Summary{}},
		{map[int]int{3: 0}, Summary{}},
		{map[int]int{5: 1}, Summary{Count: 1, Mean: 5, Median: 5, P90: 5}},
		{map[int]int{1: 1, 2: 1, 3: 1, 4: 1}, Summary{Count: 4, Mean: 2.5, Median: 2.5, P90: 3.7}},
		{map[int]int{0: 1, 10: 1, 20: 1}, Summary{Count: 3, Mean: 10, Median: 10, P90: 18}},
		// expanded: 2,2,2,9 -> median rank 1.5 between 2 and 2, p90 rank 2.7: 2 + 0.7*7
		{map[int]int{2: 3, 9: 1}, Summary{Count: 4, Mean: 3.75, Median: 2, P90: 6.9}},
		// counts ≤ 0 are ignored
		{map[int]int{1: 2, 50: 0, 99: -4, 3: 2}, Summary{Count: 4, Mean: 2, Median: 2, P90: 3}},
		// a million applications in three buckets, never expanded. Median rank
		// 499999.5 straddles 10|20; p90 rank 899999.1 straddles 20|40.
		{map[int]int{10: 500_000, 20: 400_000, 40: 100_000}, Summary{Count: 1_000_000, Mean: 17, Median: 15, P90: 22}},
	} {
		t.Run(fmt.Sprint(tc.h), func(t *testing.T) {
			t.Parallel()
			got := FromHistogram(tc.h)
			if got.Count != tc.want.Count || !near(got.Mean, tc.want.Mean) ||
				!near(got.Median, tc.want.Median) || !near(got.P90, tc.want.P90) {
				t.Errorf("FromHistogram(%v) = %+v, want %+v", tc.h, got, tc.want)
			}
		})
	}
}

// TestFromHistogramMatchesOf checks FromHistogram against Of on the expanded
// data, bit for bit, over random histograms.
func TestFromHistogramMatchesOf(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(42, 7))
	for i := range 3000 {
		h := map[int]int{}
		var expanded []float64
		lo, width := rng.IntN(400)-100, 1+rng.IntN(300)
		for range rng.IntN(25) {
			v, c := lo+rng.IntN(width), rng.IntN(40)
			if i%3 == 0 {
				c = 1 + rng.IntN(3) // small counts: single values dominate ranks
			}
			h[v] += c
			for range c {
				expanded = append(expanded, float64(v))
			}
		}
		rng.Shuffle(len(expanded), func(a, b int) { expanded[a], expanded[b] = expanded[b], expanded[a] })
		got, want := FromHistogram(h), Of(expanded)
		if got != want {
			t.Fatalf("histogram %v:\nFromHistogram = %+v\nOf            = %+v", h, got, want)
		}
	}
}

// TestFromCountsMatchesFromHistogram checks the dense form against the
// map form, bit for bit, over random histograms (negative values, gaps and
// zero counts included).
func TestFromCountsMatchesFromHistogram(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 11))
	for i := range 6000 {
		first, width := rng.IntN(200)-100, rng.IntN(120)
		if i%2 == 0 {
			width = rng.IntN(6) // a few values: small counts, where the ranks crowd
		}
		counts := make([]int, width)
		h := map[int]int{}
		for i := range counts {
			if rng.IntN(3) == 0 {
				continue
			}
			counts[i] = rng.IntN(30)
			if width < 6 {
				counts[i] = rng.IntN(3)
			}
			h[first+i] = counts[i]
		}
		if got, want := FromCounts(first, counts), FromHistogram(h); got != want {
			t.Fatalf("counts from %d %v:\nFromCounts    = %+v\nFromHistogram = %+v", first, counts, got, want)
		}
	}
}
