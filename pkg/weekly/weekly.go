// Package weekly converts between a reporting WeeklyTrend — parallel lists,
// compact on the wire — and the list of weekly points its readers want.
package weekly

import (
	"fmt"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/event"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// Point is one week of a trend: Count ends in the week starting on Monday
// Week (UTC midnight), with the mean, median and p90 of their days.
type Point struct {
	Week              time.Time
	Count             int
	Mean, Median, P90 float64
}

// Trend encodes points, which must be in ascending order of week, each a
// Monday.
func Trend(points []Point) *reportingv1.WeeklyTrend {
	t := &reportingv1.WeeklyTrend{}
	if len(points) == 0 {
		return t
	}
	first := points[0].Week
	t.FirstWeek = event.Date(first)
	t.WeekOffset = make([]int32, len(points))
	t.Count = make([]int32, len(points))
	t.Mean, t.Median, t.P90 = make([]float64, len(points)), make([]float64, len(points)), make([]float64, len(points))
	for i, p := range points {
		t.WeekOffset[i] = int32(p.Week.Sub(first).Round(24*time.Hour) / (7 * 24 * time.Hour))
		t.Count[i] = int32(p.Count)
		t.Mean[i], t.Median[i], t.P90[i] = p.Mean, p.Median, p.P90
	}
	return t
}

// Points decodes a trend. Lists of unequal length are an error (a server
// that does not keep the contract), never a panic.
func Points(t *reportingv1.WeeklyTrend) ([]Point, error) {
	n := len(t.GetWeekOffset())
	if len(t.GetCount()) != n || len(t.GetMean()) != n || len(t.GetMedian()) != n || len(t.GetP90()) != n {
		return nil, fmt.Errorf("weekly trend: lists of %d offsets, %d counts, %d means, %d medians and %d p90s",
			n, len(t.GetCount()), len(t.GetMean()), len(t.GetMedian()), len(t.GetP90()))
	}
	if n == 0 {
		return nil, nil
	}
	if t.GetFirstWeek() == nil {
		return nil, fmt.Errorf("weekly trend: %d points but no first_week", n)
	}
	first := event.DateTime(t.GetFirstWeek())
	out := make([]Point, n)
	for i := range n {
		out[i] = Point{Week: first.AddDate(0, 0, 7*int(t.GetWeekOffset()[i])), Count: int(t.GetCount()[i]),
			Mean: t.GetMean()[i], Median: t.GetMedian()[i], P90: t.GetP90()[i]}
	}
	return out, nil
}
