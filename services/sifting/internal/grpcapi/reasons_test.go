package grpcapi_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
)

// TestFailReasons: a sift or interview fail needs a reason of its own
// fixed list, single and in a batch; one off the list is refused naming
// the field (the batch item's) and listing the accepted codes, and
// changes nothing; other:<code> is accepted.
func TestFailReasons(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()
	id := e.open(t, campaign, "london", start.Add(-time.Hour))

	for _, code := range []string{"weak", "below_interview_standard", "", "other:"} {
		_, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: code,
		})
		testenv.WantField(t, err, "reason_code")
		st := testenv.WantStatus(t, err, codes.InvalidArgument)
		for _, want := range reason.SiftFail.Codes() {
			if !strings.Contains(st.Message(), want) {
				t.Errorf("sift fail %q refused with %q, which does not list %q", code, st.Message(), want)
			}
		}
	}
	batch, err := c.BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{RequestId: reqID(), CampaignId: campaign, Decisions: []*pb.SiftDecision{
		{ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "weak"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if st := batch.GetResults()[0].GetStatus(); st.GetCode() != "INVALID_ARGUMENT" || st.GetField() != "decisions[0].reason_code" ||
		!strings.Contains(st.GetMessage(), "insufficient_evidence") {
		t.Errorf("batch item with a bad reason: %v; want INVALID_ARGUMENT on decisions[0].reason_code listing the reasons", st)
	}
	if n := len(testenv.OutboxEvents(t, e.Pool, id)); n != 0 {
		t.Fatalf("refused decisions wrote %d events", n)
	}

	// The interview's list is its own: a sift reason is refused there.
	other := e.open(t, campaign, "london", start.Add(-time.Hour))
	e.passSift(t, c, other)
	slot := start.Add(24 * time.Hour)
	if _, err := c.ScheduleInterview(t.Context(), &pb.ScheduleInterviewRequest{
		RequestId: reqID(), ApplicationId: other, ExpectedVersion: 2, ScheduledFor: timestamppb.New(slot),
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(slot.Add(time.Hour))
	_, err = c.RecordInterviewOutcome(t.Context(), &pb.RecordInterviewOutcomeRequest{
		RequestId: reqID(), ApplicationId: other, ExpectedVersion: 3, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence",
	})
	testenv.WantField(t, err, "reason_code")
	testenv.WantStatus(t, err, codes.InvalidArgument, "below_interview_standard", "did_not_attend")

	if _, err := c.RecordInterviewOutcome(t.Context(), &pb.RecordInterviewOutcomeRequest{
		RequestId: reqID(), ApplicationId: other, ExpectedVersion: 3, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "other:left_early",
	}); err != nil {
		t.Errorf("other:left_early: %v", err)
	}
	if _, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
		RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "not_eligible",
	}); err != nil {
		t.Errorf("not_eligible: %v", err)
	}
}
