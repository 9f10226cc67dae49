package report

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The gauge of stuck clocks says what the stuck list's totals say, and
// moves a clock from warning to breach with time alone.
func TestStuckGaugeCountsTheListsTotals(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clocks := randomClocks(500, base)
	s := NewService(oneRegion{stuck: clocks})
	now := base
	reg := prometheus.NewRegistry()
	g := NewStuckGauge(s, []string{"london"}, time.Minute, func() time.Time { return now }, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, asOf := range []time.Time{base.Add(-time.Hour), base.Add(30 * 24 * time.Hour), base.Add(100 * 24 * time.Hour), base.Add(400 * 24 * time.Hour)} {
		now = asOf
		if err := g.Update(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, wantWarnings, wantBreaches := scanStuck(clocks, StuckFilter{AsOf: asOf})
		warnings := testutil.ToFloat64(g.clocks.WithLabelValues("london", "warning"))
		breaches := testutil.ToFloat64(g.clocks.WithLabelValues("london", "breach"))
		if warnings != float64(wantWarnings) || breaches != float64(wantBreaches) {
			t.Errorf("as of %s: gauge says %v warnings, %v breaches; the list %d, %d", asOf, warnings, breaches, wantWarnings, wantBreaches)
		}
	}
	if n := testutil.CollectAndCount(reg, "reporting_stuck_clocks"); n != 2 {
		t.Errorf("reporting_stuck_clocks has %d series, want 2 (london's warning and breach)", n)
	}
}
