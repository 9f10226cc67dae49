package report

import (
	"context"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// Thresholds returns a region's stuck thresholds: those set for it, or
// the defaults.
func (s *Service) Thresholds(ctx context.Context, region string) (projection.Thresholds, error) {
	all, err := s.store.AllThresholds(ctx)
	if err != nil {
		return projection.Thresholds{}, err
	}
	return projection.ThresholdsFor(all, region), nil
}

// SetThresholds sets a region's stuck thresholds if expectedVersion is
// its current version (0 for the defaults; else record.ErrStale), and
// re-times the region's stuck clocks. inTx is the caller's transaction (the
// API records the request id in it): it runs write inside and commits. A
// report that begins after SetThresholds returns sees the new clocks.
func (s *Service) SetThresholds(ctx context.Context, region string, expectedVersion int64, th projection.Thresholds,
	inTx func(ctx context.Context, write func(context.Context) (projection.Thresholds, error)) error) error {
	err := inTx(ctx, func(ctx context.Context) (projection.Thresholds, error) {
		return s.store.SetThresholds(ctx, region, expectedVersion, th)
	})
	if err != nil {
		return err
	}
	// Not before the commit: a report in between would read the old
	// versions, and later ones would reuse that read.
	s.Changed()
	return nil
}
