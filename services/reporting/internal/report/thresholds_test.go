package report

import (
	"context"
	"errors"
	"testing"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// thresholdWriter is a Store that sets thresholds (and reads nothing).
type thresholdWriter struct{ Store }

func (thresholdWriter) SetThresholds(_ context.Context, _ string, _ int64, th projection.Thresholds) (projection.Thresholds, error) {
	th.Version++
	return th, nil
}

// TestSetThresholdsMarksTheChangeOnceCommitted: reports read the versions
// again after the thresholds' transaction commits, never before (a read in
// between would be reused), and a failed one changes nothing.
func TestSetThresholdsMarksTheChangeOnceCommitted(t *testing.T) {
	t.Parallel()
	s := NewService(thresholdWriter{})
	gen := func() uint64 {
		s.versions.mu.Lock()
		defer s.versions.mu.Unlock()
		return s.versions.gen
	}
	for _, tc := range []struct {
		commitErr error
		notices   uint64
	}{{errors.New("rolled back"), 0}, {nil, 1}} {
		before := gen()
		err := s.SetThresholds(context.Background(), "london", 0, projection.DefaultThresholds(),
			func(ctx context.Context, set func(context.Context) (projection.Thresholds, error)) error {
				if saved, err := set(ctx); err != nil || saved.Version != 1 {
					t.Errorf("set = version %d, %v; want version 1", saved.Version, err)
				}
				if gen() != before {
					t.Error("the change was marked before the commit")
				}
				return tc.commitErr
			})
		if err != tc.commitErr || gen()-before != tc.notices {
			t.Errorf("commit error %v: SetThresholds = %v with %d change notices; want %v with %d",
				tc.commitErr, err, gen()-before, tc.commitErr, tc.notices)
		}
	}
}
