package weekly

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func monday(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestTrendRoundTrip(t *testing.T) {
	t.Parallel()
	// Across the October clock change and a year end, with gaps.
	in := []Point{
		{Week: monday(2026, 10, 19), Count: 3, Mean: 10.5, Median: 10, P90: 14.2},
		{Week: monday(2026, 10, 26), Count: 1, Mean: 7, Median: 7, P90: 7},
		{Week: monday(2026, 12, 28), Count: 2, Mean: 20, Median: 20, P90: 21.8},
		{Week: monday(2027, 1, 11), Count: 5, Mean: 4.4, Median: 4, P90: 6},
	}
	tr := Trend(in)
	if got, want := tr.GetWeekOffset(), []int32{0, 1, 10, 12}; !slices.Equal(got, want) {
		t.Errorf("offsets %v, want %v", got, want)
	}
	if !proto.Equal(tr.GetFirstWeek(), &commonv1.Date{Year: 2026, Month: 10, Day: 19}) {
		t.Errorf("first_week %v, want 2026-10-19", tr.GetFirstWeek())
	}
	b, err := proto.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back reportingv1.WeeklyTrend
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	out, err := Points(&back)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d points back, want %d", len(out), len(in))
	}
	for i := range in {
		if !out[i].Week.Equal(in[i].Week) || out[i].Count != in[i].Count || out[i].Mean != in[i].Mean ||
			out[i].Median != in[i].Median || out[i].P90 != in[i].P90 {
			t.Errorf("point %d = %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestEmptyTrend(t *testing.T) {
	t.Parallel()
	for _, tr := range []*reportingv1.WeeklyTrend{nil, {}, Trend(nil)} {
		if got, err := Points(tr); err != nil || len(got) != 0 {
			t.Errorf("Points(%v) = %v, %v; want no points", tr, got, err)
		}
	}
}

func TestMalformedTrend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tr   *reportingv1.WeeklyTrend
		want string
	}{
		{"short list", &reportingv1.WeeklyTrend{FirstWeek: &commonv1.Date{Year: 2026, Month: 1, Day: 5},
			WeekOffset: []int32{0, 1}, Count: []int32{1}, Mean: []float64{1, 2}, Median: []float64{1, 2}, P90: []float64{1, 2}}, "2 offsets, 1 counts"},
		{"no first week", &reportingv1.WeeklyTrend{WeekOffset: []int32{0}, Count: []int32{1}, Mean: []float64{1}, Median: []float64{1}, P90: []float64{1}}, "no first_week"},
	}
	for _, tt := range tests {
		if _, err := Points(tt.tr); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	// An all-time trend: 143 weeks.
	in := make([]Point, 143)
	for i := range in {
		in[i] = Point{Week: monday(2024, 1, 1).AddDate(0, 0, 7*i), Count: i * 3, Mean: 12.3, Median: 11.5, P90: 30.25}
	}
	bs, err := proto.Marshal(Trend(in))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var tr reportingv1.WeeklyTrend
		if err := proto.Unmarshal(bs, &tr); err != nil {
			b.Fatal(err)
		}
	}
}
