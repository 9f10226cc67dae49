package report

import (
	"context"
	"time"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// EarlyStarts is a region's candidates started before vetting cleared,
// against its early start policy.
type EarlyStarts struct {
	Region  string
	Enabled bool
	Cap     int
	// Started: started subject to vetting, vetting neither cleared nor
	// failed; Overdue: of those, past their vetting due date.
	Started, Overdue int
}

// EarlyStarts reads region's early starts as of now: a due date is passed
// from the day after it (as the stuck rule VETTING_OVERDUE).
func (s *Service) EarlyStarts(ctx context.Context, region string, now time.Time) (EarlyStarts, error) {
	return s.store.EarlyStarts(ctx, region, projection.Day(now))
}
