package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
)

// TestBatchRecordInterviewOutcomes: London's SPOC records the outcomes of
// two London interviews, a Wales one and a fail without a reason: the dry
// run answers as the run does and writes nothing; the run passes the two
// London candidates, and the Wales item fails alone, as a missing case
// would, leaving the case as it was; a retry applies nothing again.
func TestBatchRecordInterviewOutcomes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london := e.as(t, spocLondon)
	campaign := event.NewID()
	book := func(c pb.SiftingServiceClient, region string) (string, int64) {
		t.Helper()
		id := e.open(t, campaign, region, start.Add(-48*time.Hour))
		e.passSift(t, c, id)
		r, err := c.ScheduleInterview(t.Context(), &pb.ScheduleInterviewRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2,
			ScheduledFor: timestamppb.New(start.Add(24 * time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		return id, r.GetCase().GetVersion()
	}
	a, aV := book(london, "london")
	w, wV := book(e.as(t, spocWales), "wales")
	b, bV := book(london, "london")
	c, cV := book(london, "london")
	e.clock.Advance(48 * time.Hour) // the interviews have happened
	pass := commonv1.Outcome_OUTCOME_PASS
	items := []*pb.InterviewOutcome{
		{ApplicationId: a, ExpectedVersion: aV, Outcome: pass},
		{ApplicationId: w, ExpectedVersion: wV, Outcome: pass},
		{ApplicationId: b, ExpectedVersion: bV, Outcome: pass},
		{ApplicationId: c, ExpectedVersion: cV, Outcome: commonv1.Outcome_OUTCOME_FAIL},
	}
	wantCodes := []string{"OK", "FAILED_PRECONDITION", "OK", "INVALID_ARGUMENT"}
	check := func(t *testing.T, resp *pb.BatchRecordInterviewOutcomesResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 2 || resp.GetFailed() != 2 || resp.GetDryRun() != dryRun {
			t.Errorf("succeeded %d failed %d dry_run %v; want 2, 2, %v", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun(), dryRun)
		}
		for i, r := range resp.GetResults() {
			if r.GetIndex() != int32(i) || r.GetApplicationId() != items[i].GetApplicationId() || r.GetStatus().GetCode() != wantCodes[i] {
				t.Errorf("result %d = %v, want %s", i, r, wantCodes[i])
			}
			if ok := wantCodes[i] == "OK"; ok != (r.GetCase().GetState() == pb.CaseState_CASE_STATE_INTERVIEW_PASSED) {
				t.Errorf("result %d carries case %v", i, r.GetCase())
			}
		}
		if f := resp.GetResults()[3].GetStatus().GetField(); f != "outcomes[3].reason_code" {
			t.Errorf("the fail without a reason names field %q, want outcomes[3].reason_code", f)
		}
	}

	before := e.snapshot(t)
	dry, err := london.BatchRecordInterviewOutcomes(t.Context(), &pb.BatchRecordInterviewOutcomesRequest{Outcomes: items, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dry, true)
	e.wantSnapshot(t, before)

	missing, err := london.BatchRecordInterviewOutcomes(t.Context(), &pb.BatchRecordInterviewOutcomesRequest{DryRun: true,
		Outcomes: []*pb.InterviewOutcome{{ApplicationId: event.NewID(), ExpectedVersion: wV, Outcome: pass}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dry.GetResults()[1].GetStatus(), missing.GetResults()[0].GetStatus(); got.GetCode() != want.GetCode() || got.GetMessage() != want.GetMessage() {
		t.Errorf("another region's case says %v, a missing one %v", got, want)
	}

	batchID := reqID()
	run, err := london.BatchRecordInterviewOutcomes(t.Context(), &pb.BatchRecordInterviewOutcomesRequest{RequestId: batchID, Outcomes: items})
	if err != nil {
		t.Fatal(err)
	}
	check(t, run, false)
	for _, id := range []string{a, b} {
		if n := testenv.CountEvents(t, e.Pool, id, "interview.passed"); n != 1 {
			t.Errorf("%d interview.passed events for %s, want 1", n, id)
		}
	}
	for _, id := range []string{w, c} {
		if n := len(testenv.OutboxEvents(t, e.Pool, id)); n != 2 {
			t.Errorf("%s has %d events, want its 2 before the batch (sift passed, interview booked)", id, n)
		}
	}
	after := e.snapshot(t)
	if after.cases[w] != before.cases[w] || after.cases[c] != before.cases[c] {
		t.Errorf("failed items moved: wales %q → %q, fail %q → %q", before.cases[w], after.cases[w], before.cases[c], after.cases[c])
	}
	if got, want := after.counts["outbox"], before.counts["outbox"]+2; got != want {
		t.Errorf("outbox holds %d rows, want %d", got, want)
	}

	again, err := london.BatchRecordInterviewOutcomes(t.Context(), &pb.BatchRecordInterviewOutcomesRequest{RequestId: batchID, Outcomes: items})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, run) {
		t.Errorf("retried batch answered\n%v\nwant the first answer\n%v", again, run)
	}
	e.wantSnapshot(t, after)

	_, err = e.as(t, dashboard).BatchRecordInterviewOutcomes(t.Context(), &pb.BatchRecordInterviewOutcomesRequest{RequestId: reqID(), Outcomes: items[:1]})
	testenv.WantStatus(t, err, codes.PermissionDenied)
	_, err = london.BatchRecordInterviewOutcomes(t.Context(), &pb.BatchRecordInterviewOutcomesRequest{Outcomes: items[:1]})
	testenv.WantField(t, err, "request_id")
}
