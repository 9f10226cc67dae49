package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
)

func (e *env) schema(t *testing.T) string {
	t.Helper()
	var s string
	if err := e.Pool.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// personal is what the tests search the schema for after an erasure.
func personal(c *pb.Candidate) []string { return []string{c.GetName(), c.GetEmail(), c.GetPhone()} }

func TestEraseCandidate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.openCampaign(t, "london")
	spoc := e.as(t, spocLondon)
	ada := candidate("Ada Lovelace")
	ada.Phone = "07700 900123"
	app := e.submit(t, spoc, c.GetId(), ada)
	other := e.submit(t, spoc, c.GetId(), candidate("Grace Hopper"))

	req := &pb.EraseCandidateRequest{RequestId: reqID(), ApplicationId: app.GetId(), ReasonCode: "right_to_erasure"}
	resp, err := e.as(t, admin).EraseCandidate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	erased := resp.GetApplication()
	if !erased.GetErased() || erased.GetErasureReasonCode() != "right_to_erasure" || erased.GetErasedAt().AsTime() != now {
		t.Errorf("erased application: %v", erased)
	}
	if !proto.Equal(erased.GetCandidate(), &pb.Candidate{}) {
		t.Errorf("candidate after erasure: %v, want empty", erased.GetCandidate())
	}
	if erased.GetVersion() != app.GetVersion()+1 || erased.GetStage() != app.GetStage() || erased.GetCampaignId() != c.GetId() {
		t.Errorf("erasure changed more than the candidate: %v (was %v)", erased, app)
	}

	// It reads as erased everywhere: one read, the list.
	got, err := spoc.GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: app.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetApplication(), erased) {
		t.Errorf("GetApplication = %v\nwant %v", got.GetApplication(), erased)
	}
	list, err := spoc.ListApplications(t.Context(), &pb.ListApplicationsRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetApplications()); n != 2 || !proto.Equal(list.GetApplications()[0], erased) ||
		!proto.Equal(list.GetApplications()[1].GetCandidate(), other.GetCandidate()) {
		t.Errorf("ListApplications = %v", list.GetApplications())
	}

	// Nothing of the candidate is left in the schema; the other candidate is
	// (which shows the search finds what is there).
	if found := testenv.Holding(t, e.Pool, e.schema(t), nil, personal(ada)...); len(found) > 0 {
		t.Errorf("personal data left after erasure: %v", found)
	}
	if found := testenv.Holding(t, e.Pool, e.schema(t), nil, "Grace Hopper", "grace.hopper@example.org"); len(found) != 2 {
		t.Errorf("the other candidate's data: found %v, want it in applications", found)
	}
	// The audit trail records the erasure (the search above covered its
	// table: it holds none of the erased values).
	wantAudited(t, e.auditRows(t, "/recruitment.applications.v1.ApplicationsService/EraseCandidate"), admin, "change", app.GetId(), "OK")

	// One event, naming the reason and no one.
	evs := testenv.OutboxEvents(t, e.Pool, app.GetId())
	if names := testenv.EventNames(evs); len(names) != 2 || names[1] != "application.erased" {
		t.Fatalf("events: %v", names)
	}
	ev := evs[1].Event
	if ev.GetApplicationErased().GetReasonCode() != "right_to_erasure" || ev.GetAggregateVersion() != erased.GetVersion() ||
		ev.GetRegion() != "london" || ev.GetActor().GetSubject() != admin.Subject {
		t.Errorf("application.erased = %v", ev)
	}

	// Erasing again, with a new request id and even another reason,
	// changes nothing and answers the same; the retry of the first request
	// too.
	again, err := e.as(t, admin).EraseCandidate(t.Context(), &pb.EraseCandidateRequest{
		RequestId: reqID(), ApplicationId: app.GetId(), ReasonCode: "retention"})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again.GetApplication(), erased) {
		t.Errorf("second erasure = %v\nwant %v", again.GetApplication(), erased)
	}
	retry, err := e.as(t, admin).EraseCandidate(t.Context(), req)
	if err != nil || !proto.Equal(retry.GetApplication(), erased) {
		t.Errorf("retry = %v, %v", retry.GetApplication(), err)
	}
	if n := testenv.CountEvents(t, e.Pool, app.GetId(), "application.erased"); n != 1 {
		t.Errorf("%d application.erased events, want 1", n)
	}

	// The candidate may apply again: the erased email holds no place.
	again2 := e.submit(t, spoc, c.GetId(), ada)
	if again2.GetCandidate().GetEmail() != ada.GetEmail() {
		t.Errorf("new application: %v", again2)
	}
	// A withdrawal and the stage still work on the erased record.
	w, err := spoc.WithdrawApplication(t.Context(), &pb.WithdrawApplicationRequest{
		RequestId: reqID(), ApplicationId: app.GetId(), ExpectedVersion: erased.GetVersion(), ReasonCode: "candidate_request"})
	if err != nil || !w.GetApplication().GetErased() {
		t.Errorf("withdraw an erased application: %v, %v", w.GetApplication(), err)
	}
}

func TestEraseCandidateRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.openCampaign(t, "london")
	app := e.submit(t, e.as(t, spocLondon), c.GetId(), candidate("Mary Seacole"))
	erase := func(caller auth.Claims, id, reason string) error {
		_, err := e.as(t, caller).EraseCandidate(t.Context(), &pb.EraseCandidateRequest{RequestId: reqID(), ApplicationId: id, ReasonCode: reason})
		return err
	}
	for _, caller := range []auth.Claims{spocLondon, vetting, dashboard} {
		testenv.WantStatus(t, erase(caller, app.GetId(), "right_to_erasure"), codes.PermissionDenied)
	}
	_, err := e.dial(t, "").EraseCandidate(t.Context(), &pb.EraseCandidateRequest{RequestId: reqID(), ApplicationId: app.GetId(), ReasonCode: "retention"})
	testenv.WantStatus(t, err, codes.Unauthenticated)
	testenv.WantField(t, erase(admin, app.GetId(), "because"), "reason_code")
	testenv.WantField(t, erase(admin, app.GetId(), ""), "reason_code")
	testenv.WantField(t, erase(admin, "not-a-uuid", "retention"), "application_id")
	testenv.WantStatus(t, erase(admin, "0190a000-0000-7000-8000-000000000000", "retention"), codes.NotFound)

	got, err := e.as(t, spocLondon).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: app.GetId()})
	if err != nil || got.GetApplication().GetErased() || got.GetApplication().GetCandidate().GetName() != "Mary Seacole" {
		t.Errorf("after refused erasures: %v, %v", got.GetApplication(), err)
	}
	if n := testenv.CountEvents(t, e.Pool, app.GetId(), "application.erased"); n != 0 {
		t.Errorf("%d application.erased events after refusals", n)
	}
}

func TestExportCandidate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.openCampaign(t, "london")
	app := e.submit(t, e.as(t, spocLondon), c.GetId(), candidate("Ada Lovelace"))
	export := func(caller auth.Claims, id string) (*privacyv1.ExportCandidateResponse, error) {
		return privacyv1.NewPrivacyServiceClient(e.As(t, caller)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: id})
	}
	resp, err := export(admin, app.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetService() != "applications" || len(resp.GetRecords()) != 1 {
		t.Fatalf("export = %v", resp)
	}
	var got pb.Application
	if err := resp.GetRecords()[0].UnmarshalTo(&got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, app) {
		t.Errorf("exported %v\nwant %v", &got, app)
	}

	// None held: an empty export, not an error.
	resp, err = export(admin, "0190a000-0000-7000-8000-000000000000")
	if err != nil || len(resp.GetRecords()) != 0 {
		t.Errorf("export of an unknown application = %v, %v", resp, err)
	}
	for _, caller := range []auth.Claims{spocLondon, vetting, dashboard} {
		_, err := export(caller, app.GetId())
		testenv.WantStatus(t, err, codes.PermissionDenied)
	}
	_, err = export(admin, "nope")
	testenv.WantField(t, err, "application_id")
	// Each export is a read in the audit trail; the refusals are recorded too.
	rows := e.auditRows(t, "/recruitment.privacy.v1.PrivacyService/ExportCandidate")
	wantAudited(t, rows[:1], admin, "read", app.GetId(), "OK")
	refused := 0
	for _, r := range rows {
		if r.outcome == "PERMISSION_DENIED" {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d refused exports recorded, want 3: %+v", refused, rows)
	}
}

// wantAudited checks rows is exactly one audit event of caller's, of kind,
// naming application id, with outcome.
func wantAudited(t *testing.T, rows []auditRow, caller auth.Claims, kind, id, outcome string) {
	t.Helper()
	if len(rows) != 1 {
		t.Fatalf("audit rows = %+v, want one", rows)
	}
	r := rows[0]
	if r.subject != caller.Subject || r.kind != kind || r.outcome != outcome || len(r.recordIDs) != 1 || r.recordIDs[0] != id {
		t.Errorf("audit row = %+v, want %s's %s of %s with outcome %s", r, caller.Subject, kind, id, outcome)
	}
}
