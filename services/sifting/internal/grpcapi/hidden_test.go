package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
)

// TestAnotherRegionsRecordIsNotFound calls every RPC that names a case,
// as Wales's SPOC, on a London case and on an id that exists nowhere: the
// answers are identical (NotFound for a read, the FailedPrecondition of a
// case not opened yet for a change), so a caller cannot learn that an id
// exists in a region it may not see; and nothing changes.
func TestAnotherRegionsRecordIsNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	campaign := event.NewID()
	waiting := e.open(t, campaign, "london", start.Add(-time.Hour))
	interview := e.open(t, campaign, "london", start.Add(-time.Hour))
	e.passSift(t, e.as(t, spocLondon), interview)
	before := e.snapshot(t)
	c := e.as(t, spocWales)
	slot := timestamppb.New(start.Add(7 * 24 * time.Hour))

	for _, tt := range []struct {
		name     string
		existing string
		want     codes.Code
		call     func(ctx context.Context, id string) error
	}{
		{"GetCase", waiting, codes.NotFound, func(ctx context.Context, id string) error {
			_, err := c.GetCase(ctx, &pb.GetCaseRequest{ApplicationId: id})
			return err
		}},
		{"RecordSiftDecision", waiting, codes.FailedPrecondition, func(ctx context.Context, id string) error {
			_, err := c.RecordSiftDecision(ctx, &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1,
				Outcome: commonv1.Outcome_OUTCOME_PASS})
			return err
		}},
		{"ScheduleInterview", interview, codes.FailedPrecondition, func(ctx context.Context, id string) error {
			_, err := c.ScheduleInterview(ctx, &pb.ScheduleInterviewRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2, ScheduledFor: slot})
			return err
		}},
		{"RecordInterviewOutcome", interview, codes.FailedPrecondition, func(ctx context.Context, id string) error {
			_, err := c.RecordInterviewOutcome(ctx, &pb.RecordInterviewOutcomeRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2,
				Outcome: commonv1.Outcome_OUTCOME_PASS})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testenv.WantSameAsMissing(t, tt.call(t.Context(), tt.existing), tt.call(t.Context(), event.NewID()), tt.want)
		})
	}

	e.wantSnapshot(t, before)

	// A batch records its request id, whatever its items do; the item's
	// answer is what must not tell.
	t.Run("BatchRecordSiftDecisions", func(t *testing.T) {
		status := func(id string) *commonv1.ItemStatus {
			resp, err := c.BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{RequestId: reqID(), CampaignId: campaign,
				Decisions: []*pb.SiftDecision{{ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}}})
			if err != nil {
				t.Fatal(err)
			}
			return resp.GetResults()[0].GetStatus()
		}
		other, missing := status(waiting), status(event.NewID())
		if other.GetCode() != "FAILED_PRECONDITION" || other.GetCode() != missing.GetCode() || other.GetMessage() != missing.GetMessage() {
			t.Errorf("another region's case: %v; a missing one: %v; want the same FAILED_PRECONDITION", other, missing)
		}
	})
}
