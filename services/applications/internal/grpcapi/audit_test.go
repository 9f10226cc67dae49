package grpcapi_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	auditv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/audit/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/grpcapi"
)

// An RPC added to the contract without saying whether it reads or changes
// personal data fails here (and the service refuses to start).
func TestAuditPolicyCoversEveryRPC(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Audit.Covers(pb.File_recruitment_applications_v1_applications_proto.Services().Get(0)); err != nil {
		t.Fatal(err)
	}
}

// auditRow is one row of the audit table as stored.
type auditRow struct {
	at                          time.Time
	subject, role, method, kind string
	regions, recordIDs          []string
	outcome                     string
}

const getApplication = "/recruitment.applications.v1.ApplicationsService/GetApplication"

// auditRows returns the audit rows of method (every method if ""), oldest first.
func (e *env) auditRows(t *testing.T, method string) []auditRow {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(),
		`SELECT occurred_at, subject, role, method, kind, regions, record_ids, outcome FROM audit_event
		 WHERE $1 = '' OR method = $1 ORDER BY occurred_at, id`, method)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.at, &r.subject, &r.role, &r.method, &r.kind, &r.regions, &r.recordIDs, &r.outcome); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// clock is a time the test sets, for the audit recorder.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := setup(t)
	clk := &clock{t: now}
	e.Audit.SetClock(clk.Now)
	london := e.openCampaign(t, "london")
	ada := candidate("Ada Lovelace")

	t0 := now.Add(time.Minute)
	clk.Set(t0)
	a := e.submit(t, e.as(t, spocLondon), london.GetId(), ada)
	t1 := now.Add(2 * time.Minute)
	clk.Set(t1)
	if _, err := e.as(t, spocLondon).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()}); err != nil {
		t.Fatal(err)
	}
	t2 := now.Add(3 * time.Minute)
	clk.Set(t2)
	_, refused := e.as(t, spocWales).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	if refused == nil {
		t.Fatal("a Wales SPOC read a London application")
	}
	_, wrongRole := e.as(t, dashboard).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	testenv.WantStatus(t, wrongRole, codes.PermissionDenied)
	// Refused by authentication: not the trail's business.
	_, unauthenticated := e.dial(t, "").GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	testenv.WantStatus(t, unauthenticated, codes.Unauthenticated)

	t.Run("a SPOC's read is one row naming who, what, which record and the outcome", func(t *testing.T) {
		var reads []auditRow
		for _, r := range e.auditRows(t, getApplication) {
			if r.subject == spocLondon.Subject {
				reads = append(reads, r)
			}
		}
		want := auditRow{at: t1, subject: "spoc-london", role: "spoc", method: getApplication, kind: "read",
			regions: []string{"london"}, recordIDs: []string{a.GetId()}, outcome: "OK"}
		if len(reads) != 1 || !sameRow(reads[0], want) {
			t.Fatalf("audit rows of spoc-london's GetApplication = %+v, want one %+v", reads, want)
		}
	})

	t.Run("the submission is recorded as a change, in its transaction", func(t *testing.T) {
		rows := e.auditRows(t, "/recruitment.applications.v1.ApplicationsService/SubmitApplication")
		if len(rows) != 1 || rows[0].kind != "change" || rows[0].outcome != "OK" || !slices.Equal(rows[0].recordIDs, []string{a.GetId()}) || !rows[0].at.Equal(t0) {
			t.Fatalf("SubmitApplication audit rows = %+v, want one change of %s at %s", rows, a.GetId(), t0)
		}
	})

	t.Run("refusals by region and by role are recorded with their status; unauthenticated calls are not", func(t *testing.T) {
		var got []auditRow
		for _, r := range e.auditRows(t, getApplication) {
			if r.subject != spocLondon.Subject {
				got = append(got, r)
			}
		}
		want := []auditRow{
			{at: t2, subject: "spoc-wales", role: "spoc", method: getApplication, kind: "read", regions: []string{"wales"},
				recordIDs: []string{a.GetId()}, outcome: apistatus.CodeName(status.Code(refused))},
			{at: t2, subject: "dash-london", role: "dashboard", method: getApplication, kind: "read", regions: []string{"london"},
				recordIDs: []string{a.GetId()}, outcome: "PERMISSION_DENIED"},
		}
		if len(got) != len(want) {
			t.Fatalf("refused reads recorded = %+v, want %+v", got, want)
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, func(r auditRow) bool { return sameRow(r, w) }) {
				t.Errorf("no audit row %+v among %+v", w, got)
			}
		}
		if want[0].outcome == "OK" {
			t.Error("the out-of-region read was answered")
		}
	})

	t.Run("no row holds the candidate's personal data or a body", func(t *testing.T) {
		var cols []string
		if err := e.Pool.QueryRow(context.Background(),
			`SELECT array_agg(column_name::text ORDER BY ordinal_position) FROM information_schema.columns
			 WHERE table_schema = current_schema() AND table_name = 'audit_event'`).Scan(&cols); err != nil {
			t.Fatal(err)
		}
		want := []string{"id", "occurred_at", "subject", "role", "regions", "method", "kind", "record_ids", "outcome"}
		if !slices.Equal(cols, want) {
			t.Errorf("audit_event columns = %v, want %v (never a request or response body)", cols, want)
		}
		var dump string
		if err := e.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(a::text, E'\n'), '') FROM audit_event a`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		for _, pd := range []string{ada.GetName(), ada.GetEmail(), ada.GetPhone(), "Lovelace"} {
			if strings.Contains(dump, pd) {
				t.Errorf("the audit table holds %q:\n%s", pd, dump)
			}
		}
	})

	t.Run("ListAuditEvents filters by application, actor and time, and pages", func(t *testing.T) {
		// Listings are recorded too, at t3: a listing shows the trail as it
		// stood at its first page, so they are not among what it lists.
		clk.Set(now.Add(4 * time.Minute))
		audits := auditv1.NewAuditServiceClient(e.As(t, admin))
		list := func(req *auditv1.ListAuditEventsRequest) []*auditv1.AuditEvent {
			t.Helper()
			var out []*auditv1.AuditEvent
			for {
				resp, err := audits.ListAuditEvents(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, resp.GetEvents()...)
				if resp.GetNextPageToken() == "" {
					return out
				}
				req.PageToken = resp.GetNextPageToken()
			}
		}
		byApp := list(&auditv1.ListAuditEventsRequest{ApplicationId: a.GetId(), PageSize: 1})
		if got := subjects(byApp); !slices.Equal(got, []string{"spoc-london", "spoc-london", "dash-london", "spoc-wales"}) &&
			!slices.Equal(got, []string{"spoc-london", "spoc-london", "spoc-wales", "dash-london"}) {
			t.Errorf("events of the application, oldest first = %v", got)
		}
		if byApp[0].GetKind() != auditv1.AccessKind_ACCESS_KIND_CHANGE || byApp[1].GetKind() != auditv1.AccessKind_ACCESS_KIND_READ ||
			byApp[1].GetActor().GetRole() != commonv1.CallerRole_CALLER_ROLE_SPOC || byApp[1].GetMethod() != getApplication ||
			!byApp[1].GetOccurredAt().AsTime().Equal(t1) || byApp[1].GetOutcome() != "OK" || !slices.Equal(byApp[1].GetActorRegions(), []string{"london"}) {
			t.Errorf("events = %v", byApp)
		}
		if got := list(&auditv1.ListAuditEventsRequest{ActorSubject: "spoc-wales"}); len(got) != 1 || got[0].GetOutcome() == "OK" {
			t.Errorf("events of spoc-wales = %v, want the one refused read", got)
		}
		window := list(&auditv1.ListAuditEventsRequest{Since: timestamppb.New(t1), Until: timestamppb.New(t2)})
		if len(window) != 1 || window[0].GetActor().GetSubject() != "spoc-london" || window[0].GetMethod() != getApplication {
			t.Errorf("events in [t1, t2) = %v, want spoc-london's read alone", window)
		}
		other := uuidLike()
		if got := list(&auditv1.ListAuditEventsRequest{ApplicationId: other}); len(got) != 0 {
			t.Errorf("events of an application nobody touched = %v", got)
		}

		first, err := audits.ListAuditEvents(t.Context(), &auditv1.ListAuditEventsRequest{ApplicationId: a.GetId(), PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = audits.ListAuditEvents(t.Context(), &auditv1.ListAuditEventsRequest{ActorSubject: "spoc-wales", PageToken: first.GetNextPageToken()})
		testenv.WantField(t, err, "page_token")
		_, err = audits.ListAuditEvents(t.Context(), &auditv1.ListAuditEventsRequest{ApplicationId: "not-a-uuid"})
		testenv.WantField(t, err, "application_id")
		_, err = audits.ListAuditEvents(t.Context(), &auditv1.ListAuditEventsRequest{Since: timestamppb.New(t2), Until: timestamppb.New(t1)})
		testenv.WantField(t, err, "until")
	})

	t.Run("only admins list the trail, and a refused listing is itself recorded", func(t *testing.T) {
		for _, c := range []auth.Claims{spocLondon, dashboard, vetting} {
			_, err := auditv1.NewAuditServiceClient(e.As(t, c)).ListAuditEvents(t.Context(), &auditv1.ListAuditEventsRequest{ApplicationId: a.GetId()})
			testenv.WantStatus(t, err, codes.PermissionDenied)
		}
		rows := e.auditRows(t, "/recruitment.audit.v1.AuditService/ListAuditEvents")
		refusedBy := map[string]bool{}
		for _, r := range rows {
			if r.outcome == "PERMISSION_DENIED" && slices.Equal(r.recordIDs, []string{a.GetId()}) {
				refusedBy[r.subject] = true
			}
		}
		for _, c := range []auth.Claims{spocLondon, dashboard, vetting} {
			if !refusedBy[c.Subject] {
				t.Errorf("%s's refused ListAuditEvents is not recorded: %+v", c.Subject, rows)
			}
		}
	})
}

// TestAuditFailsClosed: with the audit table gone, a read is refused
// (Internal, no data) and a change does not happen.
func TestAuditFailsClosed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london := e.openCampaign(t, "london")
	a := e.submit(t, e.as(t, spocLondon), london.GetId(), candidate("Ada Lovelace"))
	before := e.counts(t)
	if _, err := e.Pool.Exec(context.Background(), `ALTER TABLE audit_event RENAME TO audit_event_gone`); err != nil {
		t.Fatal(err)
	}

	resp, err := e.as(t, spocLondon).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	testenv.WantStatus(t, err, codes.Internal)
	if resp.GetApplication() != nil {
		t.Errorf("an unrecorded read answered %v", resp)
	}
	_, err = e.as(t, spocLondon).WithdrawApplication(t.Context(), &pb.WithdrawApplicationRequest{
		RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: a.GetVersion(), ReasonCode: "candidate_request"})
	testenv.WantStatus(t, err, codes.Internal)
	e.wantCounts(t, before)
	// The campaign calls touch no personal data and go on.
	if _, err := e.as(t, spocLondon).GetCampaign(t.Context(), &pb.GetCampaignRequest{CampaignId: london.GetId()}); err != nil {
		t.Errorf("GetCampaign without an audit table: %v", err)
	}

	if _, err := e.Pool.Exec(context.Background(), `ALTER TABLE audit_event_gone RENAME TO audit_event`); err != nil {
		t.Fatal(err)
	}
	got, err := e.as(t, spocLondon).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	if err != nil || got.GetApplication().GetStage() != commonv1.Stage_STAGE_SIFT {
		t.Fatalf("after the table is back: %v, %v; want the application still in SIFT (the withdrawal never happened)", got, err)
	}
}

func sameRow(a, b auditRow) bool {
	return a.at.Equal(b.at) && a.subject == b.subject && a.role == b.role && a.method == b.method && a.kind == b.kind &&
		slices.Equal(a.regions, b.regions) && slices.Equal(a.recordIDs, b.recordIDs) && a.outcome == b.outcome
}

func subjects(events []*auditv1.AuditEvent) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.GetActor().GetSubject()
	}
	return out
}

func uuidLike() string { return "0190a0b0-0000-7000-8000-000000000001" }
