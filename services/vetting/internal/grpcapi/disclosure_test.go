package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// TestRequestLogKeepsNoNote: BlockCase's request log row holds no part of
// the note; a retry is answered from the case, the same response while it
// is unchanged and the case as it stands (note cleared) once it has moved
// on, and is never applied again.
func TestRequestLogKeepsNoNote(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	r := e.open(t, "london")
	req := &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Reason: thirdParty, Note: note}
	first, err := c.BlockCase(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	testenv.NoTextInRequestLog(t, e.Pool, note, "passport", "123456789", "Home Office")
	again, err := c.BlockCase(t.Context(), req)
	if err != nil || !proto.Equal(again, first) {
		t.Fatalf("retry = %v, %v; want the first response %v", again, err, first)
	}

	if _, err := c.UnblockCase(t.Context(), &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2}); err != nil {
		t.Fatal(err)
	}
	late, err := c.BlockCase(t.Context(), req)
	if err != nil {
		t.Fatalf("retry after an unblock: %v", err)
	}
	if cs := late.GetCase(); cs.GetVersion() != 3 || cs.GetStatus() != pb.CaseStatus_CASE_STATUS_OPEN || cs.GetBlockNote() != "" {
		t.Errorf("retry after an unblock answered %v; want the case as it stands: v3, open, no note", cs)
	}
	if got := e.get(t, r.id); got.Version != 3 {
		t.Errorf("case at v%d after the late retry, want v3 (not blocked again)", got.Version)
	}
	testenv.NoTextInRequestLog(t, e.Pool, note, "passport", "123456789", "Home Office")
}

// TestRetryChecksRegionAgain: a retry by a caller whose token has lost the
// case's region since is refused as a read of the case is, and answers
// nothing of it.
func TestRetryChecksRegionAgain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	req := &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Reason: thirdParty, Note: note}
	if _, err := e.as(t, vettingLondon).BlockCase(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	// The same person, moved to Wales: same subject, London gone.
	moved := e.as(t, auth.Claims{Subject: vettingLondon.Subject, Role: auth.RoleVetting, Regions: []string{"wales"}})
	resp, err := moved.BlockCase(t.Context(), req)
	if err == nil || resp != nil {
		t.Fatalf("retry after losing the region = %v, %v; want a refusal", resp, err)
	}
	_, readErr := moved.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
	if status.Code(err) != status.Code(readErr) || status.Code(err) == codes.OK || status.Code(err) == codes.Internal {
		t.Errorf("retry refused %v, a read of the case %v; want the same out-of-region answer", err, readErr)
	}
	// The same caller again in London is still answered, and nothing was
	// applied twice.
	if again, err := e.as(t, vettingLondon).BlockCase(t.Context(), req); err != nil || again.GetCase().GetVersion() != 2 {
		t.Errorf("retry in region = %v, %v; want the case at v2", again, err)
	}
}

// TestNoteVisibleToVettingAndAdminsOnly: every way to read a case shows
// the note to the vetting contact point and admins; a SPOC sees that it is
// blocked and why (the reason code), never the note; a dashboard cannot
// read cases at all.
func TestNoteVisibleToVettingAndAdminsOnly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	blocked := e.block(t, e.as(t, vettingLondon), r, 1, missingDocs)
	if blocked.GetBlockNote() != note {
		t.Fatalf("BlockCase answered the vetting contact point without the note: %v", blocked)
	}
	reads := func(c pb.VettingServiceClient) (map[string]*pb.VettingCase, error) {
		got := map[string]*pb.VettingCase{}
		g, err := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
		if err != nil {
			return nil, err
		}
		got["GetCase"] = g.GetCase()
		l, err := c.ListCases(t.Context(), &pb.ListCasesRequest{Region: "london"})
		if err != nil || len(l.GetCases()) != 1 {
			t.Fatalf("ListCases = %v, %v", l, err)
		}
		got["ListCases"] = l.GetCases()[0]
		b, err := c.ListBlockedCases(t.Context(), &pb.ListBlockedCasesRequest{Region: "london"})
		if err != nil || len(b.GetCases()) != 1 {
			t.Fatalf("ListBlockedCases = %v, %v", b, err)
		}
		got["ListBlockedCases"] = b.GetCases()[0].GetCase()
		return got, nil
	}
	for _, tt := range []struct {
		name     string
		caller   auth.Claims
		wantNote bool
	}{
		{"vetting", vettingLondon, true},
		{"admin", admin, true},
		{"spoc", spocLondon, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reads(e.as(t, tt.caller))
			if err != nil {
				t.Fatal(err)
			}
			for call, cs := range got {
				if cs.GetStatus() != pb.CaseStatus_CASE_STATUS_BLOCKED || cs.GetBlockReason() != missingDocs || cs.GetBlockedSince() == nil {
					t.Errorf("%s: %s shows %v; want it blocked, with its reason and since when", tt.name, call, cs)
				}
				if gotNote := cs.GetBlockNote() == note; gotNote != tt.wantNote || (!tt.wantNote && cs.GetBlockNote() != "") {
					t.Errorf("%s: %s note = %q; want the note: %v", tt.name, call, cs.GetBlockNote(), tt.wantNote)
				}
			}
		})
	}
	_, err := e.as(t, dashboard).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}

// TestHistoryActors: history entries name the actor's subject to admins
// only; SPOCs and vetting contact points see the actor's role.
func TestHistoryActors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	e.block(t, e.as(t, vettingLondon), r, 1, missingDocs)
	for _, tt := range []struct {
		caller   auth.Claims
		subjects []string
	}{
		{vettingLondon, []string{"", ""}},
		{spocLondon, []string{"", ""}},
		{admin, []string{"system:vetting", "vetting-london"}},
	} {
		got, err := e.as(t, tt.caller).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
		if err != nil {
			t.Fatal(err)
		}
		h := got.GetCase().GetHistory()
		wantRoles := []commonv1.CallerRole{commonv1.CallerRole_CALLER_ROLE_SYSTEM, commonv1.CallerRole_CALLER_ROLE_VETTING}
		if len(h) != 2 {
			t.Fatalf("%s: history = %v", tt.caller.Role, h)
		}
		for i := range h {
			if h[i].GetActor().GetSubject() != tt.subjects[i] || h[i].GetActor().GetRole() != wantRoles[i] {
				t.Errorf("%s sees history[%d] actor %v; want subject %q, role %v", tt.caller.Role, i, h[i].GetActor(), tt.subjects[i], wantRoles[i])
			}
		}
	}
	// The change's own answer follows the same rule: the vetting contact
	// point who blocked does not get subjects back either.
	r2 := e.open(t, "london")
	for _, a := range e.block(t, e.as(t, vettingLondon), r2, 1, missingDocs).GetHistory() {
		if a.GetActor().GetSubject() != "" {
			t.Errorf("BlockCase answered a vetting contact point with a subject: %v", a)
		}
	}
}
