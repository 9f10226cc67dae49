package grpcapi_test

import (
	"testing"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// noteParts are pieces of the block note a search must not find.
var noteParts = []string{note, "passport", "123456789", "Home Office"}

func (e *env) schema(t *testing.T) string {
	t.Helper()
	var s string
	if err := e.Pool.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// application.erased removes the block note, keeps the block (reason,
// state, clocks) that reports need, notes the erasure in the history,
// publishes nothing, and a redelivery changes nothing more.
func TestApplicationErasedScrubsTheNote(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	r := e.open(t, "london")
	blocked := e.block(t, c, r, 1, missingDocs)
	if found := testenv.Holding(t, e.Pool, e.schema(t), nil, noteParts...); len(found) == 0 {
		t.Fatal("the search does not find the note before the erasure")
	}
	outboxBefore := len(testenv.OutboxEvents(t, e.Pool, r.id))

	at := e.clock.Advance(time.Hour)
	ev := r.applicationErased(at)
	e.handle(t, ev)
	e.handle(t, ev) // redelivered
	got, err := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
	if err != nil {
		t.Fatal(err)
	}
	after := got.GetCase()
	if after.GetBlockNote() != "" {
		t.Errorf("block note after erasure: %q", after.GetBlockNote())
	}
	if after.GetStatus() != pb.CaseStatus_CASE_STATUS_BLOCKED || after.GetBlockReason() != blocked.GetBlockReason() ||
		!proto.Equal(after.GetBlockedSince(), blocked.GetBlockedSince()) || !proto.Equal(after.GetStatusEnteredAt(), blocked.GetStatusEnteredAt()) {
		t.Errorf("the block changed: %v\nwas %v", after, blocked)
	}
	h := after.GetHistory()
	if after.GetVersion() != blocked.GetVersion()+1 || h[len(h)-1].GetEvent() != "application.erased" ||
		h[len(h)-1].GetActor().GetRole() != commonv1.CallerRole_CALLER_ROLE_ADMIN {
		t.Errorf("version %d, history %v", after.GetVersion(), h)
	}
	if n := len(testenv.OutboxEvents(t, e.Pool, r.id)); n != outboxBefore {
		t.Errorf("the erasure wrote %d events", n-outboxBefore)
	}
	if found := testenv.Holding(t, e.Pool, e.schema(t), nil, noteParts...); len(found) > 0 {
		t.Errorf("the note is still held: %v", found)
	}

	// A case without a note, and an application without a case, are left
	// as they are.
	plain := e.open(t, "london")
	e.handle(t, plain.applicationErased(e.clock.Advance(time.Minute)))
	if v := e.get(t, plain.id).Version; v != 1 {
		t.Errorf("a case without a note moved to version %d", v)
	}
	e.handle(t, newRecord("london").applicationErased(e.clock.Advance(time.Minute)))
	if n := e.count(t, "cases"); n != 2 {
		t.Errorf("%d cases, want 2", n)
	}
}

func TestExportCandidate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	blocked := e.block(t, e.as(t, vettingLondon), r, 1, missingDocs)
	resp, err := privacyv1.NewPrivacyServiceClient(e.As(t, admin)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: r.id})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetService() != "vetting" || len(resp.GetRecords()) != 1 {
		t.Fatalf("export = %v", resp)
	}
	var got pb.VettingCase
	if err := resp.GetRecords()[0].UnmarshalTo(&got); err != nil {
		t.Fatal(err)
	}
	// As an admin reads it: history entries name their actors.
	asAdmin, err := pb.NewVettingServiceClient(e.As(t, admin)).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, asAdmin.GetCase()) || got.GetBlockNote() != note || len(got.GetHistory()) != 2 ||
		got.GetHistory()[1].GetActor().GetSubject() != vettingLondon.Subject || got.GetVersion() != blocked.GetVersion() {
		t.Errorf("exported %v\nwant %v", &got, asAdmin.GetCase())
	}
	for _, caller := range []auth.Claims{vettingLondon, spocLondon, dashboard} {
		_, err = privacyv1.NewPrivacyServiceClient(e.As(t, caller)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: r.id})
		testenv.WantStatus(t, err, codes.PermissionDenied)
	}
	none, err := privacyv1.NewPrivacyServiceClient(e.As(t, admin)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: newRecord("london").id})
	if err != nil || len(none.GetRecords()) != 0 {
		t.Errorf("export of an application without a case: %v, %v", none, err)
	}
}
