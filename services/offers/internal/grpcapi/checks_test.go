package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

const (
	references  = commonv1.OfferCondition_OFFER_CONDITION_REFERENCES
	medical     = commonv1.OfferCondition_OFFER_CONDITION_MEDICAL
	rightToWork = commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK
	vettingCond = commonv1.OfferCondition_OFFER_CONDITION_VETTING

	outstanding = commonv1.CheckStatus_CHECK_STATUS_OUTSTANDING
	met         = commonv1.CheckStatus_CHECK_STATUS_MET
	failed      = commonv1.CheckStatus_CHECK_STATUS_FAILED
	waived      = commonv1.CheckStatus_CHECK_STATUS_WAIVED
)

func checkOf(o *pb.Offer, c commonv1.OfferCondition) *pb.Check {
	for _, ch := range o.GetChecks() {
		if ch.GetCheck() == c {
			return ch
		}
	}
	return nil
}

// TestCheckLifecycle: an offer's checks are its conditions but vetting, and
// right to work always; each is recorded met, waived (with a reason code,
// never for right to work) or set back, by the caller's subject, once per
// request id, each change an offer.check_recorded event of codes only.
func TestCheckLifecycle(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	r := e.open(t, "london")

	_, err := c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Check: references, Status: met})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "AWAITING_OFFER")

	made := e.makeOffer(t, c, r) // VETTING and REFERENCES
	if got := len(made.GetChecks()); got != 2 || checkOf(made, references).GetStatus() != outstanding || checkOf(made, rightToWork).GetStatus() != outstanding {
		t.Fatalf("checks of a new offer = %v; want references and right to work, outstanding", made.GetChecks())
	}

	e.clock.Advance(2 * time.Hour)
	req := &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, Check: references, Status: met}
	first, err := c.RecordCheck(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if o := first.GetOffer(); o.GetVersion() != 3 || o.GetStatus() != pb.OfferStatus_OFFER_STATUS_MADE || checkOf(o, references).GetStatus() != met ||
		!checkOf(o, references).GetRecordedAt().AsTime().Equal(e.clock.Now()) || checkOf(o, references).GetRecordedBy() != "" {
		t.Errorf("after references met: %v; want v3, MADE, references met now, who hidden from a SPOC", o)
	}
	// Who recorded it is the token's subject, which an admin sees.
	if got := checkOf(e.getAs(t, r.id), references).GetRecordedBy(); got != spocLondon.Subject {
		t.Errorf("recorded_by = %q, want %q", got, spocLondon.Subject)
	}
	again, err := c.RecordCheck(t.Context(), req)
	if err != nil || !proto.Equal(again, first) {
		t.Errorf("retry = %v, %v; want the first response", again, err)
	}
	rows := testenv.OutboxEvents(t, e.Pool, r.id)
	last := rows[len(rows)-1]
	want := &eventsv1.OfferCheckRecorded{Check: references, Status: met, PreviousStatus: outstanding}
	if len(rows) != 2 || last.Name != "offer.check_recorded" || !proto.Equal(last.Event.GetOfferCheckRecorded(), want) ||
		last.Event.GetActor().GetSubject() != spocLondon.Subject || last.Event.GetAggregateVersion() != 3 {
		t.Errorf("outbox %v, last %v; want one offer.check_recorded %v by %s at v3", testenv.EventNames(rows), last.Event, want, spocLondon.Subject)
	}

	refused := []struct {
		name  string
		req   *pb.RecordCheckRequest
		field string
		code  codes.Code
		texts []string
	}{
		{"right to work may not be waived", &pb.RecordCheckRequest{Check: rightToWork, Status: waived,
			WaiveReason: commonv1.CheckWaiveReason_CHECK_WAIVE_REASON_OTHER}, "status", codes.InvalidArgument, []string{"may not be waived"}},
		{"a waiver needs a reason", &pb.RecordCheckRequest{Check: references, Status: waived}, "waive_reason", codes.InvalidArgument, nil},
		{"an unknown waive reason", &pb.RecordCheckRequest{Check: references, Status: waived, WaiveReason: 99}, "waive_reason", codes.InvalidArgument, nil},
		{"a reason only with a waiver", &pb.RecordCheckRequest{Check: references, Status: outstanding,
			WaiveReason: commonv1.CheckWaiveReason_CHECK_WAIVE_REASON_OTHER}, "waive_reason", codes.InvalidArgument, nil},
		{"vetting is the vetting service's", &pb.RecordCheckRequest{Check: vettingCond, Status: met}, "check", codes.InvalidArgument, nil},
		{"no check", &pb.RecordCheckRequest{Status: met}, "check", codes.InvalidArgument, nil},
		{"no status", &pb.RecordCheckRequest{Check: references}, "status", codes.InvalidArgument, nil},
		{"a check the offer does not have", &pb.RecordCheckRequest{Check: medical, Status: met}, "", codes.FailedPrecondition, []string{"no medical check"}},
		{"the same status again", &pb.RecordCheckRequest{Check: references, Status: met}, "", codes.FailedPrecondition, []string{"already MET"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.RequestId, tt.req.ApplicationId, tt.req.ExpectedVersion = reqID(), r.id, 3
			_, err := c.RecordCheck(t.Context(), tt.req)
			if tt.field != "" {
				testenv.WantField(t, err, tt.field)
			}
			testenv.WantStatus(t, err, tt.code, tt.texts...)
		})
	}
	_, err = c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, Check: rightToWork, Status: met})
	testenv.WantStatus(t, err, codes.Aborted)
	if got := e.get(t, r.id); got.Version != 3 {
		t.Fatalf("refused calls moved the offer to v%d, want v3", got.Version)
	}

	w, err := c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3, Check: references,
		Status: waived, WaiveReason: commonv1.CheckWaiveReason_CHECK_WAIVE_REASON_INTERNAL_TRANSFER})
	if err != nil {
		t.Fatal(err)
	}
	if ch := checkOf(w.GetOffer(), references); ch.GetStatus() != waived || ch.GetWaiveReason() != commonv1.CheckWaiveReason_CHECK_WAIVE_REASON_INTERNAL_TRANSFER {
		t.Errorf("references = %v, want waived for internal_transfer", ch)
	}
	back, err := c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 4, Check: references, Status: outstanding})
	if err != nil {
		t.Fatal(err)
	}
	if ch := checkOf(back.GetOffer(), references); ch.GetStatus() != outstanding || ch.GetWaiveReason() != 0 {
		t.Errorf("references = %v, want outstanding again", ch)
	}
}

// getAs reads an offer through the API as an admin.
func (e *env) getAs(t *testing.T, id string) *pb.Offer {
	t.Helper()
	resp, err := e.as(t, admin).GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetOffer()
}

// TestConfirmStartNeedsRightToWork: a start is refused, naming the check,
// until right to work is met (even when the offer's conditions left it
// out, and with the early start approved, so nothing else is missing);
// then it goes ahead.
func TestConfirmStartNeedsRightToWork(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	r := e.open(t, "london")
	e.accept(t, c, r)
	if _, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3,
		StartDate: today}); err != nil {
		t.Fatal(err)
	}
	e.allowEarlyStarts(t, "london", 5)
	if o := e.approve(t, r, 4); o.GetVersion() != 5 || o.GetStartApprovedBy() != "approver-london" {
		t.Fatalf("approved offer = %v; want v5 approved by approver-london", o)
	}
	_, err := c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 5})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "right_to_work", "OUTSTANDING")
	// Meeting another check does not do.
	if _, err := c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 5, Check: references, Status: met}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 6})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "right_to_work")
	if n := testenv.CountEvents(t, e.Pool, r.id, "candidate.started"); n != 0 {
		t.Fatalf("%d candidate.started events after refused starts", n)
	}
	v := e.rightToWorkMet(t, c, r, 6)
	started, err := c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v})
	if err != nil {
		t.Fatal(err)
	}
	if started.GetOffer().GetStatus() != pb.OfferStatus_OFFER_STATUS_STARTED {
		t.Errorf("offer = %v, want STARTED", started.GetOffer())
	}
	// A started offer's checks are closed.
	_, err = c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v + 1, Check: references, Status: outstanding})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "STARTED")
}

// TestFailedCheckWithdraws: a failed check withdraws the offer in the same
// change, reason check_failed:<check>, with the usual offer.withdrawn after
// the offer.check_recorded; a retry answers the same and writes nothing.
func TestFailedCheckWithdraws(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	for _, tt := range []struct {
		name  string
		ready func(record) int64
		check commonv1.OfferCondition
	}{
		{"made, references", func(r record) int64 { return e.makeOffer(t, c, r).GetVersion() }, references},
		{"accepted, right to work", func(r record) int64 { return e.accept(t, c, r).GetVersion() }, rightToWork},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.open(t, "london")
			v := tt.ready(r)
			req := &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v, Check: tt.check, Status: failed}
			resp, err := c.RecordCheck(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			reason := "check_failed:" + map[commonv1.OfferCondition]string{references: "references", rightToWork: "right_to_work"}[tt.check]
			o := resp.GetOffer()
			if o.GetStatus() != pb.OfferStatus_OFFER_STATUS_WITHDRAWN || o.GetReasonCode() != reason || o.GetVersion() != v+2 || checkOf(o, tt.check).GetStatus() != failed {
				t.Errorf("offer = %v; want WITHDRAWN %s at v%d with the check failed", o, reason, v+2)
			}
			if _, err := c.RecordCheck(t.Context(), req); err != nil {
				t.Errorf("retry: %v", err)
			}
			rows := testenv.OutboxEvents(t, e.Pool, r.id)
			n := len(rows)
			if n < 2 || rows[n-2].Name != "offer.check_recorded" || rows[n-2].Event.GetOfferCheckRecorded().GetStatus() != failed ||
				rows[n-1].Name != "offer.withdrawn" || rows[n-1].Event.GetOfferWithdrawn().GetReasonCode() != reason ||
				rows[n-1].Event.GetAggregateVersion() != v+2 || testenv.CountEvents(t, e.Pool, r.id, "offer.withdrawn") != 1 {
				t.Errorf("outbox %v; want offer.check_recorded (failed) then one offer.withdrawn %s at v%d", testenv.EventNames(rows), reason, v+2)
			}
		})
	}
}

// TestRecordCheckScope: only a SPOC of the offer's region (or an admin)
// records a check; another region's offer is as one that does not exist,
// and other roles are refused; nothing changes.
func TestRecordCheckScope(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	e.makeOffer(t, e.as(t, spocLondon), r)
	call := func(c pb.OffersServiceClient, id string) error {
		_, err := c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2, Check: rightToWork, Status: met})
		return err
	}
	missing := call(e.as(t, spocLondon), newRecord("london").id)
	testenv.WantSameAsMissing(t, call(e.as(t, spocWales), r.id), missing, codes.FailedPrecondition)
	testenv.WantStatus(t, call(e.as(t, vettingLondon), r.id), codes.PermissionDenied)
	testenv.WantStatus(t, call(e.as(t, dashboard), r.id), codes.PermissionDenied)
	testenv.WantStatus(t, call(e.dial(t, ""), r.id), codes.Unauthenticated)
	if got := e.get(t, r.id); got.Version != 2 || len(got.Checks) != 0 {
		t.Fatalf("refused callers left the offer at v%d with checks %v, want v2 with none", got.Version, got.Checks)
	}
	if err := call(e.as(t, admin), r.id); err != nil {
		t.Errorf("admin: %v", err)
	}
}
