package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/importcsv"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

func ts(s string) *timestamppb.Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

// importRow is a London PSO campaign's row with the given history.
func importRow(ref, email, submitted string, h *commonv1.ImportedHistory) *applicationsv1.ImportRow {
	return &applicationsv1.ImportRow{
		Reference: ref, CampaignReference: "LEGACY-PSO-1", Region: "london",
		Role: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER, CampaignTitle: "PSO January", Posts: 10,
		OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 5}, ClosesOn: &commonv1.Date{Year: 2026, Month: 1, Day: 31},
		Candidate:   &applicationsv1.Candidate{Name: "Candidate " + ref, Email: email},
		SubmittedAt: ts(submitted), History: h,
	}
}

// throughInterview is history that passes the sift and the interview.
func throughInterview(offer *commonv1.ImportedOffer, vetting *commonv1.ImportedVetting) *commonv1.ImportedHistory {
	return &commonv1.ImportedHistory{
		Sift: &commonv1.ImportedSift{DecidedAt: ts("2026-01-20T10:00:00Z"), Passed: true},
		Interview: &commonv1.ImportedInterview{BookedAt: ts("2026-01-21T10:00:00Z"), ScheduledFor: ts("2026-02-02T10:00:00Z"),
			DecidedAt: ts("2026-02-03T10:00:00Z"), Passed: true},
		Offer: offer, Vetting: vetting,
	}
}

func offerMade(accepted string) *commonv1.ImportedOffer {
	o := &commonv1.ImportedOffer{MadeAt: ts("2026-02-10T10:00:00Z"), SalaryBandCode: "band_3",
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}}
	if accepted != "" {
		o.AcceptedAt = ts(accepted)
	}
	return o
}

// TestImportApplications imports applications with history and checks that
// every stage's owner published its part at the historical times, that the
// services and the reports agree, that bad rows are reported by field, and
// that a second run imports nothing.
func TestImportApplications(t *testing.T) {
	t.Parallel()
	st := start(t)
	ctx := context.Background()
	admin := token(t, "admin-1", auth.RoleAdmin)
	apps := applicationsv1.NewApplicationsServiceClient(st.conns["applications"])

	hired := offerMade("2026-02-12T10:00:00Z")
	hired.StartDateSetAt, hired.StartDate = ts("2026-03-11T10:00:00Z"), &commonv1.Date{Year: 2026, Month: 4, Day: 1}
	hired.StartedAt = ts("2026-04-01T08:00:00Z")
	conditional := offerMade("2026-02-12T10:00:00Z")
	conditional.StartDateSetAt, conditional.StartDate = ts("2026-02-25T10:00:00Z"), &commonv1.Date{Year: 2026, Month: 3, Day: 2}
	conditional.ApprovedBy, conditional.StartedAt = "rm-london-1", ts("2026-03-02T08:00:00Z")
	badInterview := throughInterview(nil, nil)
	badInterview.Interview.DecidedAt = ts("2026-02-01T10:00:00Z") // before it was held
	wales := importRow("W-1", "w1@example.org", "2026-01-10T09:00:00Z", nil)
	wales.Region = "wales"
	withdrawn := importRow("L-3", "l3@example.org", "2026-01-12T09:00:00Z", throughInterview(offerMade(""), nil))
	withdrawn.WithdrawnAt, withdrawn.WithdrawReasonCode = ts("2026-02-11T10:00:00Z"), "candidate_request"

	rows := []*applicationsv1.ImportRow{
		importRow("L-1", "l1@example.org", "2026-01-10T09:00:00Z", throughInterview(hired, &commonv1.ImportedVetting{
			FormsReceivedAt: ts("2026-02-15T10:00:00Z"), ClearedAt: ts("2026-03-10T10:00:00Z")})),
		importRow("L-2", "l2@example.org", "2026-01-11T09:00:00Z", throughInterview(conditional, &commonv1.ImportedVetting{
			FormsReceivedAt: ts("2026-02-14T10:00:00Z"), BlockedAt: ts("2026-02-20T10:00:00Z"),
			BlockReason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS})),
		withdrawn,
		importRow("L-4", "l4@example.org", "2026-01-13T09:00:00Z", &commonv1.ImportedHistory{
			Sift: &commonv1.ImportedSift{DecidedAt: ts("2026-01-20T10:00:00Z"), ReasonCode: "insufficient_evidence"}}),
		importRow("L-5", "l5@example.org", "2026-01-14T09:00:00Z", badInterview),
		wales,
	}
	resp, err := apps.ImportApplications(ctx, &applicationsv1.ImportApplicationsRequest{RequestId: "import-1", Rows: rows}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetImported() != 4 || resp.GetFailed() != 2 {
		t.Fatalf("imported %d, failed %d, want 4 and 2: %v", resp.GetImported(), resp.GetFailed(), resp.GetResults())
	}
	for i, want := range []string{"rows[4].history.interview.decided_at", "rows[5].region"} {
		got := resp.GetResults()[4+i].GetStatus()
		if got.GetCode() != "INVALID_ARGUMENT" || got.GetField() != want {
			t.Errorf("row %d: %v, want INVALID_ARGUMENT on %s", 4+i, got, want)
		}
	}
	id := func(i int) string { return resp.GetResults()[i].GetApplicationId() }

	// Each owner publishes its part, at the historical times.
	want := map[int][]string{
		0: {"application.submitted", "sift.passed", "interview.scheduled", "interview.passed", "offer.made", "offer.accepted",
			"vetting.opened", "vetting.forms_received", "vetting.cleared", "offer.start_date_set", "candidate.started"},
		1: {"application.submitted", "sift.passed", "interview.scheduled", "interview.passed", "offer.made", "offer.accepted",
			"vetting.opened", "vetting.forms_received", "vetting.blocked", "offer.start_date_set", "candidate.started"},
		2: {"application.submitted", "sift.passed", "interview.scheduled", "interview.passed", "offer.made", "application.withdrawn"},
		3: {"application.submitted", "sift.failed"},
	}
	// Reporting's stuck alerts about these applications are not the
	// import's: an imported history's delays are held for
	// STUCK_IMPORT_SETTLE (10 minutes), and announced only if the
	// candidate is still stuck then, so none may come while this test runs.
	var alerts []string
	for i, names := range want {
		testenv.Eventually(t, "events of row "+rows[i].GetReference(), func() (bool, string) {
			got := st.eventsByTime(t, id(i))
			return slices.Equal(got, names), fmt.Sprintf("events %v, want %v", got, names)
		})
	}
	for i := range want {
		for _, ev := range st.events(t, id(i)) {
			if name, _ := event.Name(ev); strings.HasPrefix(name, "stuck.") {
				alerts = append(alerts, rows[i].GetReference()+": "+name)
			}
		}
	}
	if len(alerts) > 0 {
		t.Errorf("the import announced its history's delays as stuck alerts: %v", alerts)
	}
	for _, ev := range st.events(t, id(1)) {
		name, _ := event.Name(ev)
		if name == "vetting.blocked" && !ev.GetOccurredAt().AsTime().Equal(ts("2026-02-20T10:00:00Z").AsTime()) {
			t.Errorf("vetting.blocked occurred at %v, want the imported 2026-02-20 10:00", ev.GetOccurredAt().AsTime())
		}
	}
	stages := map[int]commonv1.Stage{0: commonv1.Stage_STAGE_HIRED, 1: commonv1.Stage_STAGE_HIRED,
		2: commonv1.Stage_STAGE_WITHDRAWN, 3: commonv1.Stage_STAGE_REJECTED}
	for i, stage := range stages {
		testenv.Eventually(t, "stage of row "+rows[i].GetReference(), func() (bool, string) {
			a, err := apps.GetApplication(ctx, &applicationsv1.GetApplicationRequest{ApplicationId: id(i)}, admin)
			if err != nil {
				return false, err.Error()
			}
			return a.GetApplication().GetStage() == stage, fmt.Sprintf("stage %v, want %v", a.GetApplication().GetStage(), stage)
		})
	}

	// The vetting contact point sees the blocked case; the reports count
	// the imported pipeline.
	vet := vettingv1.NewVettingServiceClient(st.conns["vetting"])
	blocked, err := vet.ListBlockedCases(ctx, &vettingv1.ListBlockedCasesRequest{Region: "london"},
		token(t, "vetting-london-1", auth.RoleVetting, "london"))
	if err != nil || len(blocked.GetCases()) != 1 || blocked.GetCases()[0].GetCase().GetApplicationId() != id(1) {
		t.Errorf("blocked cases = %v, %v; want the one of row L-2", blocked.GetCases(), err)
	}
	reports := reportingv1.NewReportingServiceClient(st.conns["reporting"])
	dashboard := token(t, "dashboard-london", auth.RoleDashboard, "london")
	testenv.Eventually(t, "funnel of the imported campaign", func() (bool, string) {
		f, err := reports.GetFunnel(ctx, &reportingv1.GetFunnelRequest{Region: "london"}, dashboard)
		if err != nil {
			return false, err.Error()
		}
		var reached []int32
		for _, s := range f.GetStages() {
			reached = append(reached, s.GetReached())
		}
		return slices.Equal(reached, []int32{4, 3, 3, 2, 2}), fmt.Sprintf("reached %v, want [4 3 3 2 2]", reached)
	})

	// A second run imports nothing and says which application each row made.
	again, err := apps.ImportApplications(ctx, &applicationsv1.ImportApplicationsRequest{RequestId: "import-2", Rows: rows}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetImported() != 0 || again.GetAlreadyImported() != 4 || again.GetFailed() != 2 {
		t.Fatalf("second run: imported %d, already %d, failed %d; want 0, 4, 2", again.GetImported(), again.GetAlreadyImported(), again.GetFailed())
	}
	for i := range 4 {
		if r := again.GetResults()[i]; r.GetStatus().GetCode() != "ALREADY_EXISTS" || r.GetApplicationId() != id(i) {
			t.Errorf("second run row %d: %v, want ALREADY_EXISTS naming %s", i, r, id(i))
		}
	}
	if n := len(st.eventsByTime(t, id(0))); n != len(want[0]) {
		t.Errorf("row L-1 has %d events after the second run, want %d", n, len(want[0]))
	}

	// Only admins import.
	if _, err := apps.ImportApplications(ctx, &applicationsv1.ImportApplicationsRequest{RequestId: "import-3", Rows: rows},
		token(t, "spoc-london-1", auth.RoleSPOC, "london")); status.Code(err) != codes.PermissionDenied {
		t.Errorf("import by a SPOC = %v, want PermissionDenied", err)
	}
}

// events are the events about one application, in stream order.
func (s *stack) events(t *testing.T, applicationID string) []*eventsv1.Event {
	t.Helper()
	var out []*eventsv1.Event
	for _, b := range s.payloadsFor(t, applicationID) {
		ev, err := event.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// eventsByTime are the names of the stages' owners' events about one
// application in the order they happened (stream order among equal times).
func (s *stack) eventsByTime(t *testing.T, applicationID string) []string {
	t.Helper()
	// The stages' owners' events: reporting's stuck.* events about the
	// application (an imported history is often past its thresholds) come
	// and go with the clock, and are not the import's.
	evs := slices.DeleteFunc(s.events(t, applicationID), func(ev *eventsv1.Event) bool { return ev.GetProducer() == "reporting" })
	slices.SortStableFunc(evs, func(a, b *eventsv1.Event) int { return a.GetOccurredAt().AsTime().Compare(b.GetOccurredAt().AsTime()) })
	names := make([]string, len(evs))
	for i, ev := range evs {
		names[i], _ = event.Name(ev)
	}
	return names
}

// TestDemoDataIsValid dry-runs the demo data `make run` imports: every row
// must pass the service's checks.
func TestDemoDataIsValid(t *testing.T) {
	t.Parallel()
	st := start(t)
	apps := applicationsv1.NewApplicationsServiceClient(st.conns["applications"])
	rows := importcsv.Demo(time.Now(), 1)
	for from := 0; from < len(rows); from += 500 {
		batch := rows[from:min(from+500, len(rows))]
		resp, err := apps.ImportApplications(context.Background(), &applicationsv1.ImportApplicationsRequest{Rows: batch, DryRun: true},
			token(t, "admin-1", auth.RoleAdmin))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetResults() {
			if r.GetStatus().GetCode() != "OK" {
				t.Errorf("demo row %s: %v", r.GetReference(), r.GetStatus())
			}
		}
	}
}
