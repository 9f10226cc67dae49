package grpcapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

var (
	missingDocs = commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS
	thirdParty  = commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY
)

// TestConcurrentChanges: many callers make the same change from the same
// version at once; exactly one wins and one event is written.
func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	tests := []struct {
		name  string
		ready func(t *testing.T, r record) int64
		call  func(ctx context.Context, id string, v int64) (*pb.VettingCase, error)
		event string
		want  pb.CaseStatus
	}{
		{"forms received", func(*testing.T, record) int64 { return 1 }, func(ctx context.Context, id string, v int64) (*pb.VettingCase, error) {
			resp, err := c.RecordFormsReceived(ctx, &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v})
			return resp.GetCase(), err
		}, "vetting.forms_received", pb.CaseStatus_CASE_STATUS_FORMS_RECEIVED},
		{"unblock", func(t *testing.T, r record) int64 { return e.block(t, c, r, 1, missingDocs).GetVersion() },
			func(ctx context.Context, id string, v int64) (*pb.VettingCase, error) {
				resp, err := c.UnblockCase(ctx, &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v})
				return resp.GetCase(), err
			}, "vetting.unblocked", pb.CaseStatus_CASE_STATUS_OPEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.open(t, "london")
			v := tt.ready(t, r)
			winner := testenv.OneWins(t, 50, func(int) (*pb.VettingCase, error) { return tt.call(t.Context(), r.id, v) })
			if winner.GetStatus() != tt.want || winner.GetVersion() != v+1 {
				t.Errorf("winner sees %s v%d, want %s v%d", winner.GetStatus(), winner.GetVersion(), tt.want, v+1)
			}
			if n := testenv.CountEvents(t, e.Pool, r.id, tt.event); n != 1 {
				t.Errorf("%d %s events in the outbox, want 1", n, tt.event)
			}
			if got := e.get(t, r.id); got.Version != v+1 || len(got.History) != int(v+1) {
				t.Errorf("case at v%d with %d history entries, want v%d with as many", got.Version, len(got.History), v+1)
			}
		})
	}
}

// TestIdempotentRetry: a retried request id gets the first response and
// changes nothing more; a request id reused for something else is refused.
func TestIdempotentRetry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	r := e.open(t, "london")
	req := &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Reason: thirdParty, Note: note}
	first, err := c.BlockCase(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	for range 3 {
		again, err := c.BlockCase(t.Context(), req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if !proto.Equal(again, first) {
			t.Errorf("retry answered %v, want the first response %v", again, first)
		}
	}
	if rows := testenv.OutboxEvents(t, e.Pool, r.id); !slices.Equal(testenv.EventNames(rows), []string{"vetting.opened", "vetting.blocked"}) {
		t.Errorf("outbox = %v, want vetting.opened and one vetting.blocked", testenv.EventNames(rows))
	}
	if got := e.get(t, r.id); got.Version != 2 || !got.BlockedSince.Equal(start) {
		t.Errorf("case at v%d blocked since %v, want v2 since %v", got.Version, got.BlockedSince, start)
	}

	other := proto.Clone(req).(*pb.BlockCaseRequest)
	other.Note = "a different note"
	_, err = c.BlockCase(t.Context(), other)
	testenv.WantField(t, err, "request_id")
	_, err = c.UnblockCase(t.Context(), &pb.UnblockCaseRequest{RequestId: req.GetRequestId(), ApplicationId: r.id, ExpectedVersion: 2})
	testenv.WantField(t, err, "request_id")
	_, err = c.UnblockCase(t.Context(), &pb.UnblockCaseRequest{ApplicationId: r.id, ExpectedVersion: 2})
	testenv.WantField(t, err, "request_id")
	if n := len(testenv.OutboxEvents(t, e.Pool, r.id)); n != 2 {
		t.Errorf("outbox holds %d rows after refused reuses, want 2", n)
	}
}

// changes are the five mutating calls, each from the status it needs.
var changes = []struct {
	name  string
	ready func(t *testing.T, e *env, c pb.VettingServiceClient, r record) int64
	call  func(ctx context.Context, c pb.VettingServiceClient, id string, v int64) (*pb.VettingCase, error)
	want  pb.CaseStatus
}{
	{"RecordFormsReceived", func(*testing.T, *env, pb.VettingServiceClient, record) int64 { return 1 },
		func(ctx context.Context, c pb.VettingServiceClient, id string, v int64) (*pb.VettingCase, error) {
			resp, err := c.RecordFormsReceived(ctx, &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v})
			return resp.GetCase(), err
		}, pb.CaseStatus_CASE_STATUS_FORMS_RECEIVED},
	{"BlockCase", func(*testing.T, *env, pb.VettingServiceClient, record) int64 { return 1 },
		func(ctx context.Context, c pb.VettingServiceClient, id string, v int64) (*pb.VettingCase, error) {
			resp, err := c.BlockCase(ctx, &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, Reason: missingDocs})
			return resp.GetCase(), err
		}, pb.CaseStatus_CASE_STATUS_BLOCKED},
	{"UnblockCase", func(t *testing.T, e *env, c pb.VettingServiceClient, r record) int64 {
		return e.block(t, c, r, 1, missingDocs).GetVersion()
	}, func(ctx context.Context, c pb.VettingServiceClient, id string, v int64) (*pb.VettingCase, error) {
		resp, err := c.UnblockCase(ctx, &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v})
		return resp.GetCase(), err
	}, pb.CaseStatus_CASE_STATUS_OPEN},
	{"ClearCase", func(t *testing.T, e *env, c pb.VettingServiceClient, r record) int64 {
		return e.formsIn(t, c, r).GetVersion()
	},
		func(ctx context.Context, c pb.VettingServiceClient, id string, v int64) (*pb.VettingCase, error) {
			resp, err := c.ClearCase(ctx, &pb.ClearCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v})
			return resp.GetCase(), err
		}, pb.CaseStatus_CASE_STATUS_CLEARED},
	{"FailCase", func(*testing.T, *env, pb.VettingServiceClient, record) int64 { return 1 },
		func(ctx context.Context, c pb.VettingServiceClient, id string, v int64) (*pb.VettingCase, error) {
			resp, err := c.FailCase(ctx, &pb.FailCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, ReasonCode: "adverse_information"})
			return resp.GetCase(), err
		}, pb.CaseStatus_CASE_STATUS_FAILED},
}

// TestAccess: the vetting contact point of the case's region or an admin
// changes cases; a SPOC of the region may read them; nobody else may do
// either.
func TestAccess(t *testing.T) {
	t.Parallel()
	e := setup(t)
	vetter := e.as(t, vettingLondon)
	callers := []struct {
		name         string
		client       pb.VettingServiceClient
		change, read codes.Code
	}{
		{"vetting of the region", vetter, codes.OK, codes.OK},
		{"admin", e.as(t, admin), codes.OK, codes.OK},
		// Another region's case is one not there (TestAnotherRegionsRecordIsNotFound).
		{"vetting of another region", e.as(t, vettingWales), codes.FailedPrecondition, codes.NotFound},
		{"spoc of the region", e.as(t, spocLondon), codes.PermissionDenied, codes.OK},
		{"spoc of another region", e.as(t, spocWales), codes.PermissionDenied, codes.NotFound},
		{"dashboard", e.as(t, dashboard), codes.PermissionDenied, codes.PermissionDenied},
		{"no token", e.dial(t, ""), codes.Unauthenticated, codes.Unauthenticated},
		{"garbage token", e.dial(t, "not.a.jwt"), codes.Unauthenticated, codes.Unauthenticated},
	}
	for _, caller := range callers {
		t.Run(caller.name, func(t *testing.T) {
			t.Parallel()
			for _, ch := range changes {
				r := e.open(t, "london")
				v := ch.ready(t, e, vetter, r)
				before := len(testenv.OutboxEvents(t, e.Pool, r.id))
				got, err := ch.call(t.Context(), caller.client, r.id, v)
				if status.Code(err) != caller.change {
					t.Errorf("%s: err = %v, want %s", ch.name, err, caller.change)
					continue
				}
				after := len(testenv.OutboxEvents(t, e.Pool, r.id))
				if caller.change == codes.OK {
					if got.GetStatus() != ch.want || got.GetVersion() != v+1 || after != before+1 {
						t.Errorf("%s: %s v%d with %d new events, want %s v%d with one", ch.name, got.GetStatus(), got.GetVersion(), after-before, ch.want, v+1)
					}
					continue
				}
				if c := e.get(t, r.id); c.Version != v || after != before {
					t.Errorf("%s refused, yet the case moved to v%d and %d events were written", ch.name, c.Version, after-before)
				}
			}

			r := e.open(t, "london")
			blocked := e.block(t, vetter, r, 1, thirdParty)
			batch, err := caller.client.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: reqID(),
				Items: []*pb.UnblockItem{{ApplicationId: r.id, ExpectedVersion: blocked.GetVersion()}}})
			switch {
			case err == nil && caller.name == "vetting of another region":
				// The role may call; the item is refused as a case not there.
				if got := batch.GetResults()[0].GetStatus().GetCode(); got != "FAILED_PRECONDITION" || batch.GetFailed() != 1 {
					t.Errorf("BatchUnblock item = %s (failed %d), want FAILED_PRECONDITION", got, batch.GetFailed())
				}
			case err == nil:
				if got := batch.GetResults()[0].GetStatus().GetCode(); caller.change != codes.OK || got != "OK" {
					t.Errorf("BatchUnblock by %s: item %s, want the call refused with %s", caller.name, got, caller.change)
				}
			case status.Code(err) != caller.change:
				t.Errorf("BatchUnblock: err = %v, want %s", err, caller.change)
			}
			if got := e.get(t, r.id); (got.State == vetting.Blocked) != (caller.change != codes.OK) {
				t.Errorf("after BatchUnblock by %s the case is %s", caller.name, got.State)
			}

			r = e.open(t, "london")
			e.block(t, vetter, r, 1, thirdParty)
			got, err := caller.client.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
			if status.Code(err) != caller.read {
				t.Errorf("GetCase: err = %v, want %s", err, caller.read)
			} else if caller.read == codes.OK && got.GetCase().GetApplicationId() != r.id {
				t.Errorf("GetCase returned %v", got.GetCase())
			}
			// A region asked for by name is refused: only a record's region is hidden.
			listWant := caller.read
			if listWant == codes.NotFound {
				listWant = codes.PermissionDenied
			}
			list, err := caller.client.ListCases(t.Context(), &pb.ListCasesRequest{Region: "london"})
			if status.Code(err) != listWant {
				t.Errorf("ListCases: err = %v, want %s", err, listWant)
			} else if caller.read == codes.OK && len(list.GetCases()) == 0 {
				t.Error("ListCases of london is empty")
			}
			blockedList, err := caller.client.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{Region: "london"})
			if status.Code(err) != listWant {
				t.Errorf("ListBlockedCases: err = %v, want %s", err, listWant)
			} else if caller.read == codes.OK && len(blockedList.GetCases()) == 0 {
				t.Error("ListBlockedCases of london is empty")
			}
		})
	}
}

// TestBatchUnblockAccessPerItem: a vetting contact point's batch cannot
// reach into another region: that item alone fails, as a case not there.
func TestBatchUnblockAccessPerItem(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london, wales := e.open(t, "london"), e.open(t, "wales")
	ca := e.as(t, admin)
	e.block(t, ca, london, 1, thirdParty)
	e.block(t, ca, wales, 1, thirdParty)
	resp, err := e.as(t, vettingLondon).BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: reqID(), Items: []*pb.UnblockItem{
		{ApplicationId: london.id, ExpectedVersion: 2}, {ApplicationId: wales.id, ExpectedVersion: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{resp.GetResults()[0].GetStatus().GetCode(), resp.GetResults()[1].GetStatus().GetCode()}; !slices.Equal(got, []string{"OK", "FAILED_PRECONDITION"}) {
		t.Errorf("codes = %v, want OK, FAILED_PRECONDITION", got)
	}
	if got := e.get(t, wales.id); got.State != vetting.Blocked || got.Version != 2 {
		t.Errorf("wales case %s v%d, want still BLOCKED v2", got.State, got.Version)
	}
}

// TestCaseFlow drives cases through the service over gRPC: forms, block
// with a note, unblock, clear or fail, with the errors on the way, the
// history, and the note kept out of every event.
func TestCaseFlow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	ctx := t.Context()
	r := e.open(t, "london")

	_, err := c.ClearCase(ctx, &pb.ClearCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "OPEN")
	_, err = c.UnblockCase(ctx, &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "OPEN")
	_, err = c.BlockCase(ctx, &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
	testenv.WantField(t, err, "reason")
	_, err = c.BlockCase(ctx, &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Reason: commonv1.BlockReason(77)})
	testenv.WantField(t, err, "reason")
	_, err = c.BlockCase(ctx, &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Reason: missingDocs, Note: strings.Repeat("x", 1001)})
	testenv.WantField(t, err, "note")
	for _, hidden := range []string{"\u202e", "\u2066", "\u200b", "\u200d", "\ufeff"} {
		_, err = c.BlockCase(ctx, &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Reason: missingDocs,
			Note: "passport copy " + hidden + "requested"})
		testenv.WantField(t, err, "note")
	}
	_, err = c.FailCase(ctx, &pb.FailCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, ReasonCode: "Bad Reason"})
	testenv.WantField(t, err, "reason_code")
	_, err = c.RecordFormsReceived(ctx, &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 7})
	testenv.WantStatus(t, err, codes.Aborted)
	_, err = c.RecordFormsReceived(ctx, &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: r.id})
	testenv.WantField(t, err, "expected_version")
	_, err = c.RecordFormsReceived(ctx, &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: event.NewID(), ExpectedVersion: 1})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "offer is accepted")
	_, err = c.RecordFormsReceived(ctx, &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: "12345", ExpectedVersion: 1})
	testenv.WantField(t, err, "application_id")
	if got := e.get(t, r.id); got.Version != 1 || got.State != vetting.Open {
		t.Fatalf("refused calls moved the case to %s v%d", got.State, got.Version)
	}

	e.clock.Advance(time.Hour)
	e.formsIn(t, c, r)
	blockedAt := e.clock.Advance(time.Hour)
	blocked := e.block(t, c, r, 2, commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS)
	if blocked.GetStatus() != pb.CaseStatus_CASE_STATUS_BLOCKED || blocked.GetBlockNote() != note || !blocked.GetBlockedSince().AsTime().Equal(blockedAt) ||
		blocked.GetBlockReason() != commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS {
		t.Errorf("blocked = %v", blocked)
	}
	_, err = c.ClearCase(ctx, &pb.ClearCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "BLOCKED")
	e.clock.Advance(time.Hour)
	unblocked, err := c.UnblockCase(ctx, &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3})
	if err != nil {
		t.Fatal(err)
	}
	if u := unblocked.GetCase(); u.GetStatus() != pb.CaseStatus_CASE_STATUS_FORMS_RECEIVED || u.GetBlockNote() != "" || u.GetBlockedSince() != nil ||
		u.GetBlockReason() != commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED {
		t.Errorf("unblocked = %v; want FORMS_RECEIVED with no block", u)
	}
	cleared, err := c.ClearCase(ctx, &pb.ClearCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 4})
	if err != nil || cleared.GetCase().GetStatus() != pb.CaseStatus_CASE_STATUS_CLEARED {
		t.Fatalf("clear: %v, %v", cleared, err)
	}
	_, err = c.FailCase(ctx, &pb.FailCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 5, ReasonCode: "adverse_information"})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "CLEARED")

	rows := testenv.OutboxEvents(t, e.Pool, r.id)
	wantNames := []string{"vetting.opened", "vetting.forms_received", "vetting.blocked", "vetting.unblocked", "vetting.cleared"}
	if !slices.Equal(testenv.EventNames(rows), wantNames) {
		t.Fatalf("outbox = %v, want %v", testenv.EventNames(rows), wantNames)
	}
	for i, row := range rows[1:] {
		if row.Subject != "london."+row.Name || row.Event.GetAggregateVersion() != int64(i+2) || row.Event.GetActor().GetSubject() != "vetting-london" || row.Event.GetProducer() != "vetting" {
			t.Errorf("outbox row %s = %s %v", row.Name, row.Subject, row.Event)
		}
	}
	if got := rows[2].Event.GetVettingBlocked().GetReason(); got != commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS {
		t.Errorf("vetting.blocked reason = %s", got)
	}

	t.Run("GetCase has the history in version order", func(t *testing.T) {
		got, err := e.as(t, spocLondon).GetCase(ctx, &pb.GetCaseRequest{ApplicationId: r.id})
		if err != nil {
			t.Fatal(err)
		}
		h := got.GetCase().GetHistory()
		wantEvents := []string{"vetting.opened", "vetting.forms_received", "vetting.blocked", "vetting.unblocked", "vetting.cleared"}
		if len(h) != len(wantEvents) {
			t.Fatalf("history = %v", h)
		}
		for i, w := range wantEvents {
			if h[i].GetEvent() != w || h[i].GetVersion() != int64(i+1) {
				t.Errorf("history[%d] = %v, want %s v%d", i, h[i], w, i+1)
			}
		}
		// A SPOC sees who acted by role only; see TestHistoryActors.
		if h[0].GetActor().GetRole() != commonv1.CallerRole_CALLER_ROLE_SYSTEM || h[2].GetActor().GetRole() != commonv1.CallerRole_CALLER_ROLE_VETTING ||
			h[2].GetActor().GetSubject() != "" || h[2].GetReasonCode() != "overseas_checks" {
			t.Errorf("history actors and reasons: %v", h)
		}
		got, err = e.as(t, admin).GetCase(ctx, &pb.GetCaseRequest{ApplicationId: r.id})
		if h := got.GetCase().GetHistory(); err != nil || len(h) != 5 || h[0].GetActor().GetSubject() != "system:vetting" || h[2].GetActor().GetSubject() != "vetting-london" {
			t.Errorf("admin's history: %v, %v", h, err)
		}
		_, err = c.GetCase(ctx, &pb.GetCaseRequest{ApplicationId: event.NewID()})
		testenv.WantStatus(t, err, codes.NotFound)
		_, err = c.GetCase(ctx, &pb.GetCaseRequest{ApplicationId: "x"})
		testenv.WantField(t, err, "application_id")
	})

	t.Run("fail a blocked case", func(t *testing.T) {
		r := e.open(t, "london")
		e.block(t, c, r, 1, commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH)
		failed, err := c.FailCase(ctx, &pb.FailCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, ReasonCode: "identity_not_established"})
		if err != nil {
			t.Fatal(err)
		}
		if f := failed.GetCase(); f.GetStatus() != pb.CaseStatus_CASE_STATUS_FAILED || f.GetReasonCode() != "identity_not_established" || f.GetBlockNote() != "" || f.GetBlockedSince() != nil {
			t.Errorf("failed = %v", f)
		}
		rows := testenv.OutboxEvents(t, e.Pool, r.id)
		if last := rows[len(rows)-1]; last.Name != "vetting.failed" || last.Event.GetVettingFailed().GetReasonCode() != "identity_not_established" {
			t.Errorf("last event = %s %v", last.Name, last.Event)
		}
	})

	t.Run("the note never leaves the service", func(t *testing.T) {
		e.noNoteInOutbox(t)
	})
}

// TestUnblockResumes: an unblocked case returns to where it was blocked.
func TestUnblockResumes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	for _, tt := range []struct {
		name  string
		forms bool
		want  pb.CaseStatus
	}{
		{"blocked while open", false, pb.CaseStatus_CASE_STATUS_OPEN},
		{"blocked with the forms in", true, pb.CaseStatus_CASE_STATUS_FORMS_RECEIVED},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.open(t, "london")
			v := int64(1)
			if tt.forms {
				v = e.formsIn(t, c, r).GetVersion()
			}
			b := e.block(t, c, r, v, missingDocs)
			resp, err := c.UnblockCase(t.Context(), &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: b.GetVersion()})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetCase(); got.GetStatus() != tt.want || got.GetVersion() != b.GetVersion()+1 {
				t.Errorf("unblocked to %s v%d, want %s v%d", got.GetStatus(), got.GetVersion(), tt.want, b.GetVersion()+1)
			}
			// And it can be blocked again from there.
			if again := e.block(t, c, r, b.GetVersion()+1, thirdParty); again.GetStatus() != pb.CaseStatus_CASE_STATUS_BLOCKED {
				t.Errorf("blocked again: %v", again)
			}
		})
	}
}

// TestListBlockedCases: a region's blocked cases, longest blocked first,
// with days blocked by the service clock, in pages that together hold each
// case once.
func TestListBlockedCases(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	// Five london cases, all opened first, then blocked a day and a bit
	// apart in an order unlike their opening order.
	var recs []record
	for range 5 {
		recs = append(recs, e.open(t, "london"))
		e.clock.Advance(time.Minute)
	}
	order := []int{3, 0, 4, 1, 2}
	var want []string
	reasons := map[string]commonv1.BlockReason{}
	for i, k := range order {
		r := recs[k]
		v := int64(1)
		if i%2 == 1 {
			v = e.formsIn(t, c, r).GetVersion()
		}
		reason := commonv1.BlockReason(i%5 + 1)
		e.block(t, c, r, v, reason)
		want = append(want, r.id)
		reasons[r.id] = reason
		e.clock.Advance(25 * time.Hour)
	}
	// Not on the list: an open case, a blocked then unblocked one, and a
	// blocked case in wales.
	e.open(t, "london")
	u := e.open(t, "london")
	e.block(t, c, u, 1, missingDocs)
	if _, err := c.UnblockCase(t.Context(), &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: u.id, ExpectedVersion: 2}); err != nil {
		t.Fatal(err)
	}
	w := e.open(t, "wales")
	e.block(t, e.as(t, admin), w, 1, missingDocs)
	now := e.clock.Advance(3 * time.Hour)

	var got []string
	pages := 0
	req := &pb.ListBlockedCasesRequest{Region: "london", PageSize: 2}
	for {
		resp, err := e.as(t, spocLondon).ListBlockedCases(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(resp.GetCases()) > 2 {
			t.Errorf("page of %d cases", len(resp.GetCases()))
		}
		for _, bc := range resp.GetCases() {
			id := bc.GetCase().GetApplicationId()
			got = append(got, id)
			since := bc.GetCase().GetBlockedSince().AsTime()
			if wantDays := int32(now.Sub(since) / (24 * time.Hour)); bc.GetDaysBlocked() != wantDays {
				t.Errorf("%s blocked since %v: %d days at %v, want %d", id, since, bc.GetDaysBlocked(), now, wantDays)
			}
			if bc.GetCase().GetBlockReason() != reasons[id] || bc.GetCase().GetStatus() != pb.CaseStatus_CASE_STATUS_BLOCKED {
				t.Errorf("%s: %s %s, want BLOCKED %s", id, bc.GetCase().GetStatus(), bc.GetCase().GetBlockReason(), reasons[id])
			}
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging never ends")
		}
		req = &pb.ListBlockedCasesRequest{Region: "london", PageSize: 2, PageToken: resp.GetNextPageToken()}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("listed %v in %d pages, want %v (longest blocked first, each once) in 3", got, pages, want)
	}
	// The first was blocked five times 25 hours and 3 hours ago: 5 days.
	first, err := c.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{Region: "london", PageSize: 1})
	if err != nil || len(first.GetCases()) != 1 || first.GetCases()[0].GetDaysBlocked() != 5 {
		t.Errorf("first blocked case: %v, %v; want 5 days blocked", first, err)
	}

	t.Run("bad requests", func(t *testing.T) {
		_, err := c.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{})
		testenv.WantField(t, err, "region")
		_, err = c.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{Region: "wales"})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		_, err = c.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{Region: "mordor"})
		testenv.WantField(t, err, "region")
		_, err = c.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{Region: "london", PageSize: -3})
		testenv.WantField(t, err, "page_size")
		_, err = c.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{Region: "london", PageToken: "%%%"})
		testenv.WantField(t, err, "page_token")
	})
}

// TestListCases: a region's cases by status, oldest in status first, paged.
func TestListCases(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	var open []string
	for range 5 {
		open = append(open, e.open(t, "london").id)
		e.clock.Advance(time.Minute)
	}
	f := e.open(t, "london")
	e.formsIn(t, c, f)
	e.open(t, "wales")

	list := func(t *testing.T, req *pb.ListCasesRequest) ([]string, int) {
		t.Helper()
		var ids []string
		n := 0
		for {
			resp, err := e.as(t, spocLondon).ListCases(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			n++
			for _, vc := range resp.GetCases() {
				ids = append(ids, vc.GetApplicationId())
			}
			if resp.GetNextPageToken() == "" || n > 10 {
				return ids, n
			}
			req = proto.Clone(req).(*pb.ListCasesRequest)
			req.PageToken = resp.GetNextPageToken()
		}
	}
	if ids, n := list(t, &pb.ListCasesRequest{Region: "london", Status: pb.CaseStatus_CASE_STATUS_OPEN, PageSize: 2}); !slices.Equal(ids, open) || n != 3 {
		t.Errorf("open cases %v in %d pages, want %v in 3", ids, n, open)
	}
	if ids, _ := list(t, &pb.ListCasesRequest{Region: "london", Status: pb.CaseStatus_CASE_STATUS_FORMS_RECEIVED}); !slices.Equal(ids, []string{f.id}) {
		t.Errorf("forms received = %v, want [%s]", ids, f.id)
	}
	if ids, _ := list(t, &pb.ListCasesRequest{Region: "london", PageSize: 4}); len(ids) != 6 {
		t.Errorf("london cases = %v, want 6", ids)
	}
	_, err := c.ListCases(t.Context(), &pb.ListCasesRequest{Region: "london", Status: pb.CaseStatus(99)})
	testenv.WantField(t, err, "status")
	_, err = c.ListCases(t.Context(), &pb.ListCasesRequest{Status: pb.CaseStatus_CASE_STATUS_OPEN})
	testenv.WantField(t, err, "region")
	first, err := c.ListCases(t.Context(), &pb.ListCasesRequest{Region: "london", Status: pb.CaseStatus_CASE_STATUS_OPEN, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListCases(t.Context(), &pb.ListCasesRequest{Region: "london", Status: pb.CaseStatus_CASE_STATUS_CLEARED, PageSize: 2, PageToken: first.GetNextPageToken()})
	testenv.WantField(t, err, "page_token")
}
