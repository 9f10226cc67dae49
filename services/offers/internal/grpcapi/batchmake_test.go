package grpcapi_test

import (
	"maps"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

// offerTables is what an offers call may write.
func (e *env) offerTables(t *testing.T) testenv.Snapshot {
	t.Helper()
	return testenv.TakeSnapshot(t, e.Pool, `SELECT application_id::text, status || ' v' || version FROM offers`, "outbox", "history", "request_log")
}

// TestBatchMakeConditionalOffers: London's SPOC makes offers to two London
// candidates, a Wales one and one without conditions: the dry run answers
// as the run does and writes nothing; the run makes the two London offers,
// and the Wales item fails alone, as a missing record would, leaving the
// record as it was; a retry applies nothing again.
func TestBatchMakeConditionalOffers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london := e.as(t, spocLondon)
	a, w, b, c := e.open(t, "london"), e.open(t, "wales"), e.open(t, "london"), e.open(t, "london")
	conds := []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}
	items := []*pb.OfferItem{
		{ApplicationId: a.id, ExpectedVersion: 1, SalaryBandCode: "band_3", Conditions: conds},
		{ApplicationId: w.id, ExpectedVersion: 1, SalaryBandCode: "band_3", Conditions: conds},
		{ApplicationId: b.id, ExpectedVersion: 1, SalaryBandCode: "band_4", Conditions: conds},
		{ApplicationId: c.id, ExpectedVersion: 1, SalaryBandCode: "band_4"},
	}
	wantCodes := []string{"OK", "FAILED_PRECONDITION", "OK", "INVALID_ARGUMENT"}
	check := func(t *testing.T, resp *pb.BatchMakeConditionalOffersResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 2 || resp.GetFailed() != 2 || resp.GetDryRun() != dryRun {
			t.Errorf("succeeded %d failed %d dry_run %v; want 2, 2, %v", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun(), dryRun)
		}
		for i, r := range resp.GetResults() {
			if r.GetIndex() != int32(i) || r.GetApplicationId() != items[i].GetApplicationId() || r.GetStatus().GetCode() != wantCodes[i] {
				t.Errorf("result %d = %v, want %s", i, r, wantCodes[i])
			}
			if ok := wantCodes[i] == "OK"; ok != (r.GetOffer().GetStatus() == pb.OfferStatus_OFFER_STATUS_MADE) {
				t.Errorf("result %d carries offer %v", i, r.GetOffer())
			}
		}
		if f := resp.GetResults()[3].GetStatus().GetField(); f != "items[3].conditions" {
			t.Errorf("the offer without conditions names field %q, want items[3].conditions", f)
		}
	}

	before := e.offerTables(t)
	dry, err := london.BatchMakeConditionalOffers(t.Context(), &pb.BatchMakeConditionalOffersRequest{Items: items, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dry, true)
	testenv.WantSnapshot(t, "after the dry run", e.offerTables(t), before)

	missing, err := london.BatchMakeConditionalOffers(t.Context(), &pb.BatchMakeConditionalOffersRequest{DryRun: true,
		Items: []*pb.OfferItem{{ApplicationId: event.NewID(), ExpectedVersion: 1, SalaryBandCode: "band_3", Conditions: conds}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dry.GetResults()[1].GetStatus(), missing.GetResults()[0].GetStatus(); got.GetCode() != want.GetCode() || got.GetMessage() != want.GetMessage() {
		t.Errorf("another region's record says %v, a missing one %v", got, want)
	}

	batchID := reqID()
	run, err := london.BatchMakeConditionalOffers(t.Context(), &pb.BatchMakeConditionalOffersRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	check(t, run, false)
	after := e.offerTables(t)
	want := testenv.Snapshot{Counts: maps.Clone(before.Counts), Records: maps.Clone(before.Records)}
	want.Counts["outbox"] += 2
	want.Counts["history"] += 2
	want.Counts["request_log"] += 3 // the batch and its two applied items
	want.Records[a.id], want.Records[b.id] = "MADE v2", "MADE v2"
	testenv.WantSnapshot(t, "after the run", after, want)
	for _, r := range []record{a, b} {
		if n := testenv.CountEvents(t, e.Pool, r.id, "offer.made"); n != 1 {
			t.Errorf("%d offer.made events for %s, want 1", n, r.id)
		}
	}

	again, err := london.BatchMakeConditionalOffers(t.Context(), &pb.BatchMakeConditionalOffersRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, run) {
		t.Errorf("retried batch answered\n%v\nwant the first answer\n%v", again, run)
	}
	testenv.WantSnapshot(t, "after the retry", e.offerTables(t), after)

	_, err = e.as(t, vettingLondon).BatchMakeConditionalOffers(t.Context(), &pb.BatchMakeConditionalOffersRequest{RequestId: reqID(), Items: items[:1]})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}
