package report

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StuckCount is how many of a region's stuck clocks are past their warning
// and not yet their breach (Warnings), and past their breach (Breaches).
type StuckCount struct {
	Region             string
	Warnings, Breaches int
}

// StuckCounts counts each region's stuck clocks as of asOf, from the
// cached snapshots (refreshed as for any report): the totals of Stuck's
// list with no filter.
func (s *Service) StuckCounts(ctx context.Context, regions []string, asOf time.Time) ([]StuckCount, error) {
	snaps, err := s.regions(ctx, regions)
	if err != nil {
		return nil, err
	}
	asOf = asOf.Truncate(time.Microsecond)
	now := asOf.UnixMicro()
	out := make([]StuckCount, len(regions))
	for i, snap := range snaps {
		out[i].Region = regions[i]
		// The clocks past their warning are a prefix (held by warning time).
		past := snap.stuck[:sort.Search(len(snap.stuck), func(j int) bool { return snap.stuck[j].WarningAt.After(asOf) })]
		for j := range past {
			if past[j].breach <= now {
				out[i].Breaches++
			} else {
				out[i].Warnings++
			}
		}
	}
	return out, nil
}

// StuckGauge keeps reporting_stuck_clocks{region, severity}: the stuck
// clocks of each region past their warning (severity "warning") or their
// breach ("breach") now, counted from the report cache every Interval.
// Time alone moves a clock from warning to breach, so it is counted again
// even when no event has come.
type StuckGauge struct {
	reports  *Service
	regions  []string
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	clocks   *prometheus.GaugeVec
}

// NewStuckGauge returns the gauge of regions' stuck clocks, registered with
// reg (if not nil), counted every interval (default 30s) by Run.
func NewStuckGauge(reports *Service, regions []string, interval time.Duration, now func() time.Time, reg prometheus.Registerer, log *slog.Logger) *StuckGauge {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	g := &StuckGauge{reports: reports, regions: regions, interval: interval, now: now, log: log,
		clocks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reporting_stuck_clocks",
			Help: "Stuck clocks past their warning threshold (severity warning) or their breach threshold (severity breach), per region.",
		}, []string{"region", "severity"}),
	}
	if reg != nil {
		reg.MustRegister(g.clocks)
	}
	return g
}

// Update counts the clocks now and sets the gauge.
func (g *StuckGauge) Update(ctx context.Context) error {
	counts, err := g.reports.StuckCounts(ctx, g.regions, g.now())
	if err != nil {
		return err
	}
	for _, c := range counts {
		g.clocks.WithLabelValues(c.Region, "warning").Set(float64(c.Warnings))
		g.clocks.WithLabelValues(c.Region, "breach").Set(float64(c.Breaches))
	}
	return nil
}

// Run updates the gauge every interval until ctx is done, then returns nil.
func (g *StuckGauge) Run(ctx context.Context) error {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		if err := g.Update(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("counting stuck clocks for reporting_stuck_clocks", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
