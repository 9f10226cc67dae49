package grpcapi_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// TestBatchClear: a batch of London cases and one Wales case, as London's
// vetting contact point: the dry run answers what the run does and writes
// nothing; the run clears the London cases, and the Wales case fails alone
// (as a missing case would) and does not move; a retry with the batch's
// request id applies nothing again.
func TestBatchClear(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london, walesVetter := e.as(t, vettingLondon), e.as(t, vettingWales)

	a, b := e.open(t, "london"), e.open(t, "london")
	aV, bV := e.formsIn(t, london, a).GetVersion(), e.formsIn(t, london, b).GetVersion()
	w := e.open(t, "wales")
	wV := e.formsIn(t, walesVetter, w).GetVersion()
	notReady := e.open(t, "london") // forms not in: cannot clear
	items := []*pb.ClearItem{
		{ApplicationId: a.id, ExpectedVersion: aV},
		{ApplicationId: w.id, ExpectedVersion: wV},
		{ApplicationId: b.id, ExpectedVersion: bV},
		{ApplicationId: notReady.id, ExpectedVersion: 1},
	}
	wantCodes := []string{"OK", "FAILED_PRECONDITION", "OK", "FAILED_PRECONDITION"}
	check := func(t *testing.T, resp *pb.BatchClearResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 2 || resp.GetFailed() != 2 || resp.GetDryRun() != dryRun {
			t.Errorf("succeeded %d failed %d dry_run %v; want 2, 2, %v", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun(), dryRun)
		}
		for i, r := range resp.GetResults() {
			if r.GetIndex() != int32(i) || r.GetStatus().GetCode() != wantCodes[i] {
				t.Errorf("result %d = %v, want %s", i, r, wantCodes[i])
			}
			if ok := wantCodes[i] == "OK"; ok != (r.GetCase().GetStatus() == pb.CaseStatus_CASE_STATUS_CLEARED) {
				t.Errorf("result %d carries case %v", i, r.GetCase())
			}
		}
	}

	before := e.snapshot(t)
	dry, err := london.BatchClear(t.Context(), &pb.BatchClearRequest{Items: items, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dry, true)
	wantSnapshot(t, "after the dry run", e.snapshot(t), before)

	// The Wales case answers as a case that does not exist.
	missing, err := london.BatchClear(t.Context(), &pb.BatchClearRequest{Items: []*pb.ClearItem{{ApplicationId: newRecord("x").id, ExpectedVersion: 2}}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dry.GetResults()[1].GetStatus(), missing.GetResults()[0].GetStatus(); got.GetMessage() != want.GetMessage() {
		t.Errorf("another region's case says %q, a missing one %q", got.GetMessage(), want.GetMessage())
	}

	batchID := reqID()
	run, err := london.BatchClear(t.Context(), &pb.BatchClearRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	check(t, run, false)
	after := e.snapshot(t)
	want := before
	want.versions = map[string]string{a.id: fmt.Sprintf("CLEARED v%d", aV+1), b.id: fmt.Sprintf("CLEARED v%d", bV+1),
		w.id: fmt.Sprintf("FORMS_RECEIVED v%d", wV), notReady.id: "OPEN v1"}
	want.outbox, want.requestLog, want.histories = before.outbox+2, before.requestLog+3, before.histories+2
	wantSnapshot(t, "after the run", after, want)
	for _, r := range []record{a, b} {
		if n := testenv.CountEvents(t, e.Pool, r.id, "vetting.cleared"); n != 1 {
			t.Errorf("%d vetting.cleared events for %s, want 1", n, r.id)
		}
	}
	if n := testenv.CountEvents(t, e.Pool, w.id, "vetting.cleared"); n != 0 {
		t.Errorf("the Wales case has %d vetting.cleared events", n)
	}

	again, err := london.BatchClear(t.Context(), &pb.BatchClearRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, run) {
		t.Errorf("retried batch answered\n%v\nwant the first answer\n%v", again, run)
	}
	wantSnapshot(t, "after the retry", e.snapshot(t), after)

	// Only the vetting role (and admins) may clear.
	_, err = e.as(t, spocLondon).BatchClear(t.Context(),
		&pb.BatchClearRequest{RequestId: reqID(), Items: items[:1]})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}
