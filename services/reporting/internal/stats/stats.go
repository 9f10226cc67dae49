// Package stats summarises durations as count, mean, median and p90.
//
// Percentiles use linear interpolation between closest ranks. For n values
// sorted ascending, v[0] ≤ v[1] ≤ … ≤ v[n−1], the percentile at fraction p
// (0 ≤ p ≤ 1; p90 is p = 0.9) lies at the 0-based rank r = p × (n − 1).
// With i = ⌊r⌋ and f = r − i it is v[i] + f × (v[i+1] − v[i]), or v[i] when
// f = 0. This is the same as PostgreSQL's percentile_cont and NumPy's
// default ("linear") method. The median is p = 0.5, so with an even count it
// is the mean of the two middle values.
//
// The mean is the sum divided by the count. An empty input gives the zero
// Summary. Values and p must not be NaN.
package stats

import (
	"math"
	"slices"
	"sort"
)

// Summary describes a set of values.
type Summary struct {
	Count int
	Mean  float64
	// Median and P90 are the 50th and 90th percentiles, interpolated as in
	// the package documentation.
	Median float64
	P90    float64
}

// Of summarises values (need not be sorted; not modified).
func Of(values []float64) Summary {
	if len(values) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	// Summing in sorted order makes the mean independent of input order,
	// and for integer data (below 2^53) exactly equal to FromHistogram's.
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	return Summary{
		Count:  len(sorted),
		Mean:   sum / float64(len(sorted)),
		Median: Percentile(sorted, 0.5),
		P90:    Percentile(sorted, 0.9),
	}
}

// FromHistogram summarises integer-valued data given as value -> count
// (e.g. days -> applications), without expanding it. Counts of zero or
// less are ignored. It gives exactly the result of Of on the expanded data
// as long as the sum of |value| × count stays below 2^53, where float64
// addition of integers is exact.
//
// It sorts the distinct values once and walks them with cumulative counts,
// so it costs O(k log k) for k distinct values, whatever the total count.
func FromHistogram(h map[int]int) Summary {
	var keys []int
	for v, c := range h {
		if c > 0 {
			keys = append(keys, v)
		}
	}
	slices.Sort(keys)
	counts := make([]int, len(keys))
	for i, v := range keys {
		counts[i] = h[v]
	}
	return fromSorted(keys, counts)
}

// FromCounts is FromHistogram for a dense histogram: counts[i] values
// equal to first+i (counts of zero or less ignored). It gives exactly
// FromHistogram's result for the same data, in O(len(counts)) and without
// allocating.
func FromCounts(first int, counts []int) Summary {
	n := 0
	var sum float64
	for i, c := range counts {
		if c > 0 {
			n += c
			sum += float64(first+i) * float64(c)
		}
	}
	if n == 0 {
		return Summary{}
	}
	// The values at the four 0-based positions of the expanded sorted data
	// that the median and p90 can need, found in one walk. The positions
	// are not in order for small n (the median's next can pass the p90's).
	i50, f50 := rank(0.5, n)
	i90, f90 := rank(0.9, n)
	pos := [4]int{i50, min(i50+1, n-1), i90, min(i90+1, n-1)}
	order := [4]int{0, 1, 2, 3}
	for a := 1; a < len(order); a++ { // insertion sort: no allocation
		for b := a; b > 0 && pos[order[b]] < pos[order[b-1]]; b-- {
			order[b], order[b-1] = order[b-1], order[b]
		}
	}
	var val [4]float64
	k, cum := 0, 0
	for i, c := range counts {
		if c <= 0 {
			continue
		}
		cum += c
		for k < len(order) && pos[order[k]] < cum {
			val[order[k]] = float64(first + i)
			k++
		}
		if k == len(order) {
			break
		}
	}
	pct := func(lo, hi, f float64) float64 {
		if f == 0 {
			return lo
		}
		return interpolate(lo, hi, f)
	}
	return Summary{
		Count:  n,
		Mean:   sum / float64(n),
		Median: pct(val[0], val[1], f50),
		P90:    pct(val[2], val[3], f90),
	}
}

// fromSorted summarises counts[i] values equal to keys[i], keys ascending
// and counts positive.
func fromSorted(keys, counts []int) Summary {
	// cum[i] is the number of values ≤ keys[i], so the value at 0-based
	// position j of the expanded sorted data is the first key with cum > j.
	cum := make([]int, len(keys))
	var sum float64
	total := 0
	for i, v := range keys {
		total += counts[i]
		cum[i] = total
		sum += float64(v) * float64(counts[i])
	}
	n := total
	if n == 0 {
		return Summary{}
	}
	at := func(j int) float64 {
		return float64(keys[sort.Search(len(cum), func(i int) bool { return cum[i] > j })])
	}
	pct := func(p float64) float64 {
		i, f := rank(p, n)
		if f == 0 {
			return at(i)
		}
		return interpolate(at(i), at(i+1), f)
	}
	return Summary{
		Count:  n,
		Mean:   sum / float64(n),
		Median: pct(0.5),
		P90:    pct(0.9),
	}
}

// Percentile of sorted values with linear interpolation between closest
// ranks: rank = p*(n-1) (0-based), i.e. the same as PostgreSQL
// percentile_cont and NumPy's default ("linear"). p is clamped to [0, 1];
// an empty slice gives 0.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i, f := rank(p, len(sorted))
	if f == 0 {
		return sorted[i]
	}
	return interpolate(sorted[i], sorted[i+1], f)
}

// rank splits p × (n − 1) into its whole part i and fraction f; f > 0 only
// when i+1 < n. Of and FromHistogram share it so that they agree bit for bit.
func rank(p float64, n int) (int, float64) {
	p = min(max(p, 0), 1)
	r := p * float64(n-1)
	i := math.Floor(r)
	return int(i), r - i
}

func interpolate(lo, hi, f float64) float64 {
	return lo + f*(hi-lo)
}
