package web

import (
	"testing"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestVettingToRows: the steps first, then each block reason, named as the
// rest of the dashboard names them.
func TestVettingToRows(t *testing.T) {
	t.Parallel()
	rows := vettingToRows(&pb.GetVettingDurationsResponse{
		Steps:   []*pb.VettingStepDuration{{Step: pb.VettingStep_VETTING_STEP_OPENED_TO_CLEARED, Days: &pb.Statistics{Count: 4, Median: 21, Mean: 18.5, P90: 21}}},
		Blocked: []*pb.BlockedDuration{{Reason: commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS, Days: &pb.Statistics{Count: 1, Median: 6, Mean: 6, P90: 6}}},
	})
	want := []vettingRow{
		{Span: "Opened to cleared", Count: 4, Mean: days(18.5), Median: days(21), P90: days(21)},
		{Span: "Blocked: Overseas checks", Count: 1, Mean: days(6), Median: days(6), P90: days(6)},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
}
