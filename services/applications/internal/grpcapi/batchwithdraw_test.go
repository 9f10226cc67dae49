package grpcapi_test

import (
	"maps"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// applicationTables is what a withdrawal may write.
func (e *env) applicationTables(t *testing.T) testenv.Snapshot {
	t.Helper()
	return testenv.TakeSnapshot(t, e.Pool, `SELECT id::text, stage || ' v' || version FROM applications`, "applications", "outbox", "request_log")
}

// TestBatchWithdrawApplications: London's SPOC withdraws two London
// applications, a Wales one and one without a reason: the dry run answers
// as the run does and writes nothing; the run withdraws the two London
// applications, and the Wales item fails alone, as a missing application
// would, leaving it as it was; a retry applies nothing again.
func TestBatchWithdrawApplications(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london := e.as(t, spocLondon)
	lc, wc := e.openCampaign(t, "london"), e.openCampaign(t, "wales")
	a, b, c := e.submit(t, london, lc.GetId(), candidate("Ada Lovelace")), e.submit(t, london, lc.GetId(), candidate("Grace Hopper")),
		e.submit(t, london, lc.GetId(), candidate("Mary Somerville"))
	w := e.submit(t, e.as(t, spocWales), wc.GetId(), candidate("Betty Holberton"))
	items := []*pb.WithdrawItem{
		{ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"},
		{ApplicationId: w.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"},
		{ApplicationId: b.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"},
		{ApplicationId: c.GetId(), ExpectedVersion: 1},
	}
	withdrawn := func(r *pb.WithdrawResult) bool {
		return r.GetApplication().GetStage() == commonv1.Stage_STAGE_WITHDRAWN
	}
	var wantCodes []string
	check := func(t *testing.T, resp *pb.BatchWithdrawApplicationsResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 2 || resp.GetFailed() != 2 || resp.GetDryRun() != dryRun {
			t.Errorf("succeeded %d failed %d dry_run %v; want 2, 2, %v", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun(), dryRun)
		}
		for i, r := range resp.GetResults() {
			if r.GetIndex() != int32(i) || r.GetApplicationId() != items[i].GetApplicationId() || r.GetStatus().GetCode() != wantCodes[i] {
				t.Errorf("result %d = %v, want %s", i, r, wantCodes[i])
			}
			if ok := wantCodes[i] == "OK"; ok != withdrawn(r) {
				t.Errorf("result %d carries application %v", i, r.GetApplication())
			}
		}
		if f := resp.GetResults()[3].GetStatus().GetField(); f != "items[3].reason_code" {
			t.Errorf("the withdrawal without a reason names field %q, want items[3].reason_code", f)
		}
	}

	// Another region's application answers as a missing one does.
	missing, err := london.BatchWithdrawApplications(t.Context(), &pb.BatchWithdrawApplicationsRequest{DryRun: true,
		Items: []*pb.WithdrawItem{{ApplicationId: event.NewID(), ExpectedVersion: 1, ReasonCode: "candidate_request"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantCodes = []string{"OK", missing.GetResults()[0].GetStatus().GetCode(), "OK", "INVALID_ARGUMENT"}
	if wantCodes[1] == "OK" {
		t.Fatal("a missing application was withdrawn")
	}

	before := e.applicationTables(t)
	dry, err := london.BatchWithdrawApplications(t.Context(), &pb.BatchWithdrawApplicationsRequest{Items: items, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dry, true)
	testenv.WantSnapshot(t, "after the dry run", e.applicationTables(t), before)
	if got, want := dry.GetResults()[1].GetStatus(), missing.GetResults()[0].GetStatus(); got.GetMessage() != want.GetMessage() {
		t.Errorf("another region's application says %v, a missing one %v", got, want)
	}

	batchID := reqID()
	run, err := london.BatchWithdrawApplications(t.Context(), &pb.BatchWithdrawApplicationsRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	check(t, run, false)
	after := e.applicationTables(t)
	want := testenv.Snapshot{Counts: maps.Clone(before.Counts), Records: maps.Clone(before.Records)}
	want.Counts["outbox"] += 2
	want.Counts["request_log"] += 3 // the batch and its two applied items
	want.Records[a.GetId()], want.Records[b.GetId()] = "WITHDRAWN v2", "WITHDRAWN v2"
	testenv.WantSnapshot(t, "after the run", after, want)
	for _, app := range []*pb.Application{a, b} {
		if n := testenv.CountEvents(t, e.Pool, app.GetId(), "application.withdrawn"); n != 1 {
			t.Errorf("%d application.withdrawn events for %s, want 1", n, app.GetId())
		}
	}

	again, err := london.BatchWithdrawApplications(t.Context(), &pb.BatchWithdrawApplicationsRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, run) {
		t.Errorf("retried batch answered\n%v\nwant the first answer\n%v", again, run)
	}
	testenv.WantSnapshot(t, "after the retry", e.applicationTables(t), after)

	_, err = e.as(t, dashboard).BatchWithdrawApplications(t.Context(), &pb.BatchWithdrawApplicationsRequest{RequestId: reqID(), Items: items[:1]})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}
