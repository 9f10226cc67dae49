package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestTimesOutsideTheWindow asks every report that takes a time for one far
// outside 2000-2100: each is InvalidArgument naming the field, never a
// report "as of" a wrapped or meaningless time.
func TestTimesOutsideTheWindow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, dashLondon)
	ok := timestamppb.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	bad := map[string]*timestamppb.Timestamp{
		"seconds 1<<62":  {Seconds: 1 << 62},
		"seconds -1<<62": {Seconds: -1 << 62},
		"year 1999":      timestamppb.New(time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC)),
		"year 2101":      timestamppb.New(time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)),
		"nanos -1":       {Seconds: ok.GetSeconds(), Nanos: -1},
	}
	calls := map[string]func(ctx context.Context, ts *timestamppb.Timestamp) (string, error){
		"ListStuckCandidates as_of": func(ctx context.Context, ts *timestamppb.Timestamp) (string, error) {
			_, err := c.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts})
			return "as_of", err
		},
		"GetRegionSummary as_of": func(ctx context.Context, ts *timestamppb.Timestamp) (string, error) {
			_, err := c.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: "london", AsOf: ts})
			return "as_of", err
		},
		"ListRegionSummaries as_of": func(ctx context.Context, ts *timestamppb.Timestamp) (string, error) {
			_, err := c.ListRegionSummaries(ctx, &pb.ListRegionSummariesRequest{AsOf: ts})
			return "as_of", err
		},
		"GetTimeToHire from": func(ctx context.Context, ts *timestamppb.Timestamp) (string, error) {
			_, err := c.GetTimeToHire(ctx, &pb.GetTimeToHireRequest{Region: "london", From: ts, To: ok})
			return "from", err
		},
		"GetTimeToHire to": func(ctx context.Context, ts *timestamppb.Timestamp) (string, error) {
			_, err := c.GetTimeToHire(ctx, &pb.GetTimeToHireRequest{Region: "london", To: ts})
			return "to", err
		},
		"GetStageDurations from": func(ctx context.Context, ts *timestamppb.Timestamp) (string, error) {
			_, err := c.GetStageDurations(ctx, &pb.GetStageDurationsRequest{Region: "london", From: ts})
			return "from", err
		},
		"GetStageDurations to": func(ctx context.Context, ts *timestamppb.Timestamp) (string, error) {
			_, err := c.GetStageDurations(ctx, &pb.GetStageDurationsRequest{Region: "london", From: ok, To: ts})
			return "to", err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The same call with a sane time answers, so the refusal is the time's.
			if _, err := call(t.Context(), ok); err != nil {
				t.Fatalf("with %v: %v", ok.AsTime(), err)
			}
			for what, ts := range bad {
				field, err := call(t.Context(), ts)
				t.Run(what, func(t *testing.T) { testenv.WantField(t, err, field) })
			}
		})
	}
}
