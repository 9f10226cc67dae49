package grpcapi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var importer = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}

func at(s string) *timestamppb.Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

// fullRow is a valid row whose history goes through to a start subject to
// vetting, with a blocked and lifted vetting case.
func fullRow(ref string) *pb.ImportRow {
	return &pb.ImportRow{
		Reference: ref, CampaignReference: "OLD-1", Region: "london", Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER,
		CampaignTitle: "Probation officers", Posts: 4, OpensOn: date(2026, 3, 2), ClosesOn: date(2026, 3, 31),
		Candidate:   &pb.Candidate{Name: "Grace " + ref, Email: ref + "@example.org"},
		SubmittedAt: at("2026-03-10T09:00:00Z"),
		History: &commonv1.ImportedHistory{
			Sift: &commonv1.ImportedSift{DecidedAt: at("2026-04-07T10:00:00Z"), Passed: true},
			Interview: &commonv1.ImportedInterview{BookedAt: at("2026-04-08T10:00:00Z"), ScheduledFor: at("2026-04-20T10:00:00Z"),
				DecidedAt: at("2026-04-21T10:00:00Z"), Passed: true},
			Offer: &commonv1.ImportedOffer{MadeAt: at("2026-04-28T10:00:00Z"), SalaryBandCode: "band_4",
				Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}, AcceptedAt: at("2026-04-30T10:00:00Z"),
				StartDateSetAt: at("2026-05-05T10:00:00Z"), StartDate: date(2026, 6, 1), ApprovedBy: "rm-london-1",
				StartedAt: at("2026-06-01T08:00:00Z")},
			Vetting: &commonv1.ImportedVetting{FormsReceivedAt: at("2026-05-02T10:00:00Z"), BlockedAt: at("2026-05-10T10:00:00Z"),
				BlockReason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS, UnblockedAt: at("2026-05-20T10:00:00Z"),
				ClearedAt: at("2026-06-15T10:00:00Z")},
		},
	}
}

// TestImportValidation sends one bad row at a time: each is refused with
// the field at fault, and nothing is written.
func TestImportValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, importer)
	tests := []struct {
		field string
		bad   func(r *pb.ImportRow)
	}{
		{"reference", func(r *pb.ImportRow) { r.Reference = "" }},
		{"campaign_reference", func(r *pb.ImportRow) { r.CampaignReference = " " }},
		{"region", func(r *pb.ImportRow) { r.Region = "atlantis" }},
		{"role", func(r *pb.ImportRow) { r.Role = 0 }},
		{"campaign_title", func(r *pb.ImportRow) { r.CampaignTitle = "" }},
		{"posts", func(r *pb.ImportRow) { r.Posts = 0 }},
		{"closes_on", func(r *pb.ImportRow) { r.ClosesOn = date(2026, 2, 1) }},
		{"candidate.email", func(r *pb.ImportRow) { r.Candidate.Email = "not-an-email" }},
		{"submitted_at", func(r *pb.ImportRow) { r.SubmittedAt = nil }},
		{"submitted_at", func(r *pb.ImportRow) { r.SubmittedAt = at("2026-04-02T09:00:00Z") }}, // after the campaign closed
		{"submitted_at", func(r *pb.ImportRow) { r.SubmittedAt = timestamppb.New(now.Add(time.Hour)) }},
		{"submitted_at", func(r *pb.ImportRow) { r.SubmittedAt = timestamppb.New(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)) }}, // a valid timestamp, in year 1
		{"submitted_at", func(r *pb.ImportRow) { r.SubmittedAt = at("1999-12-31T09:00:00Z") }},
		{"candidate.name", func(r *pb.ImportRow) { r.Candidate.Name = "Grace \u202eeporraH" }},
		{"reference", func(r *pb.ImportRow) { r.Reference = "REF\u200b-1" }},
		{"history.offer.approved_by", func(r *pb.ImportRow) { r.History.Offer.ApprovedBy = "rm\u2066-london" }},
		{"history.interview.scheduled_for", func(r *pb.ImportRow) { r.History.Interview.ScheduledFor = &timestamppb.Timestamp{Seconds: 1 << 62} }},
		{"history.vetting.cleared_at", func(r *pb.ImportRow) { r.History.Vetting.ClearedAt = &timestamppb.Timestamp{Seconds: 1 << 62} }},
		{"withdrawn_at", func(r *pb.ImportRow) {
			r.History.Offer.StartedAt = nil
			r.WithdrawnAt, r.WithdrawReasonCode = &timestamppb.Timestamp{Seconds: 1 << 62}, "relocation"
		}},
		{"history.sift.decided_at", func(r *pb.ImportRow) { r.History.Sift.DecidedAt = at("2026-03-09T09:00:00Z") }},
		{"history.sift.reason_code", func(r *pb.ImportRow) {
			r.History.Sift.Passed = false
			r.History.Interview, r.History.Offer, r.History.Vetting = nil, nil, nil
		}},
		{"history.interview", func(r *pb.ImportRow) { r.History.Sift.Passed, r.History.Sift.ReasonCode = false, "criteria_not_met" }},
		{"history.interview.scheduled_for", func(r *pb.ImportRow) { r.History.Interview.ScheduledFor = at("2026-04-08T09:00:00Z") }},
		{"history.interview.decided_at", func(r *pb.ImportRow) { r.History.Interview.DecidedAt = at("2026-04-19T10:00:00Z") }},
		{"history.offer.salary_band_code", func(r *pb.ImportRow) { r.History.Offer.SalaryBandCode = "Band 4" }},
		{"history.offer.conditions", func(r *pb.ImportRow) { r.History.Offer.Conditions = nil }},
		{"history.offer.declined_at", func(r *pb.ImportRow) { r.History.Offer.DeclinedAt = at("2026-04-30T10:00:00Z") }},
		{"history.vetting.forms_received_at", func(r *pb.ImportRow) { r.History.Vetting.FormsReceivedAt = at("2026-05-12T10:00:00Z") }}, // while blocked
		{"history.vetting.block_reason", func(r *pb.ImportRow) { r.History.Vetting.BlockReason = 0 }},
		{"history.vetting.failed_at", func(r *pb.ImportRow) { r.History.Vetting.FailedAt = at("2026-06-16T10:00:00Z") }},
		{"history.vetting.unblocked_at", func(r *pb.ImportRow) { r.History.Vetting.UnblockedAt = nil }},
		{"history.offer.approved_by", func(r *pb.ImportRow) { r.History.Offer.ApprovedBy = "" }},
		{"history.offer.approved_by", func(r *pb.ImportRow) { r.History.Offer.ApprovedBy = "jane.smith@justice.example" }},
		{"history.offer.approved_by", func(r *pb.ImportRow) { r.History.Offer.ApprovedBy = "Jane Smith" }},
		{"history.offer.start_date", func(r *pb.ImportRow) { r.History.Offer.StartDate = date(2026, 5, 4) }},
		{"history.offer.started_at", func(r *pb.ImportRow) { r.History.Offer.StartedAt = at("2026-05-31T08:00:00Z") }},
		{"withdrawn_at", func(r *pb.ImportRow) { r.WithdrawnAt, r.WithdrawReasonCode = at("2026-07-01T10:00:00Z"), "relocation" }}, // after a start
		{"withdraw_reason_code", func(r *pb.ImportRow) {
			r.History.Offer.StartedAt = nil
			r.WithdrawnAt = at("2026-07-01T10:00:00Z")
		}},
		// Reasons and the source come from the fixed lists (pkg/reason).
		{"withdraw_reason_code", func(r *pb.ImportRow) {
			r.History.Offer.StartedAt = nil
			r.WithdrawnAt, r.WithdrawReasonCode = at("2026-07-01T10:00:00Z"), "moved_away"
		}},
		{"history.sift.reason_code", func(r *pb.ImportRow) {
			r.History.Sift.Passed, r.History.Sift.ReasonCode = false, "weak"
			r.History.Interview, r.History.Offer, r.History.Vetting = nil, nil, nil
		}},
		{"history.interview.reason_code", func(r *pb.ImportRow) {
			r.History.Interview.Passed, r.History.Interview.ReasonCode = false, "criteria_not_met" // a sift reason
			r.History.Offer, r.History.Vetting = nil, nil
		}},
		{"history.offer.decline_reason_code", func(r *pb.ImportRow) {
			r.History.Offer.AcceptedAt, r.History.Offer.StartDateSetAt, r.History.Offer.StartDate, r.History.Offer.StartedAt = nil, nil, nil, nil
			r.History.Offer.ApprovedBy, r.History.Offer.VettingDueBy, r.History.Vetting = "", nil, nil
			r.History.Offer.DeclinedAt, r.History.Offer.DeclineReasonCode = at("2026-04-30T10:00:00Z"), "too_far"
		}},
		{"source", func(r *pb.ImportRow) { r.Source = "newspaper" }},
		{"source", func(r *pb.ImportRow) { r.Source = "other:" }},
	}
	for i, tt := range tests {
		row := fullRow(fmt.Sprint("bad-", i))
		tt.bad(row)
		resp, err := c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{row}})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		st := resp.GetResults()[0].GetStatus()
		if want := "rows[0]." + tt.field; st.GetCode() != "INVALID_ARGUMENT" || st.GetField() != want {
			t.Errorf("case %d: %v, want INVALID_ARGUMENT on %s", i, st, want)
		}
	}
	e.wantCounts(t, map[string]int{"applications": 0, "campaigns": 0, "outbox": 0})

	// A batch of none or too many rows, or no request id, is refused whole.
	_, err := c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID()})
	testenv.WantField(t, err, "rows")
	_, err = c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{Rows: []*pb.ImportRow{fullRow("x")}})
	testenv.WantField(t, err, "request_id")
	_, err = e.as(t, auth.Claims{Subject: "spoc", Role: auth.RoleSPOC, Regions: []string{"london"}}).ImportApplications(
		context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{fullRow("x")}})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}

// TestImport checks what an import writes: the campaign once, the
// application as submitted at its historical time with its history on the
// event, and nothing twice.
func TestImport(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, importer)
	rows := []*pb.ImportRow{fullRow("A-1"), fullRow("A-2")}
	dry, err := c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{Rows: rows, DryRun: true})
	if err != nil || dry.GetImported() != 2 || !dry.GetDryRun() {
		t.Fatalf("dry run = %v, %v; want 2 would-be imports", dry, err)
	}
	e.wantCounts(t, map[string]int{"applications": 0, "campaigns": 0, "outbox": 0})

	req := &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: rows}
	resp, err := c.ImportApplications(context.Background(), req)
	if err != nil || resp.GetImported() != 2 {
		t.Fatalf("import = %v, %v; want 2 imported", resp, err)
	}
	// One campaign.created and one application.submitted each.
	e.wantCounts(t, map[string]int{"applications": 2, "campaigns": 1, "outbox": 3})
	id := resp.GetResults()[0].GetApplicationId()
	evs := testenv.OutboxEvents(t, e.Pool, id)
	if len(evs) != 1 || evs[0].Event.GetApplicationSubmitted() == nil {
		t.Fatalf("events of the import = %v, want one application.submitted", evs)
	}
	ev := evs[0].Event
	if !ev.GetOccurredAt().AsTime().Equal(at("2026-03-10T09:00:00Z").AsTime()) || ev.GetActor().GetSubject() != "admin-1" {
		t.Errorf("application.submitted at %v by %v, want the historical time by the importer", ev.GetOccurredAt().AsTime(), ev.GetActor())
	}
	if !proto.Equal(ev.GetApplicationSubmitted().GetImported(), rows[0].GetHistory()) {
		t.Errorf("the event carries %v, want the row's history", ev.GetApplicationSubmitted().GetImported())
	}
	got, err := c.GetApplication(context.Background(), &pb.GetApplicationRequest{ApplicationId: id})
	if err != nil || got.GetApplication().GetStage() != commonv1.Stage_STAGE_SIFT || !got.GetApplication().GetSubmittedAt().AsTime().Equal(ev.GetOccurredAt().AsTime()) {
		t.Errorf("imported application = %v, %v; want SIFT, submitted at the historical time", got.GetApplication(), err)
	}

	// The same request again is answered from the record; the same rows
	// under a new request id are already imported.
	again, err := c.ImportApplications(context.Background(), req)
	if err != nil || !proto.Equal(again, resp) {
		t.Errorf("retried import = %v, %v; want the first answer", again, err)
	}
	rerun, err := c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: rows})
	if err != nil || rerun.GetAlreadyImported() != 2 || rerun.GetResults()[0].GetStatus().GetCode() != "ALREADY_EXISTS" ||
		rerun.GetResults()[0].GetApplicationId() != id {
		t.Errorf("re-run = %v, %v; want both already imported, naming their applications", rerun, err)
	}
	e.wantCounts(t, map[string]int{"applications": 2, "campaigns": 1, "outbox": 3})

	// A row disagreeing with its campaign reference is refused.
	other := fullRow("A-3")
	other.Posts = 9
	resp, err = c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{other}})
	if err != nil || resp.GetResults()[0].GetStatus().GetField() != "rows[0].posts" {
		t.Errorf("row with other posts = %v, %v; want INVALID_ARGUMENT on rows[0].posts", resp, err)
	}
}

// TestImportedWithdrawalWaitsForItsStage: a withdrawal at interview is
// published only once sifting reports the application at INTERVIEW, with
// the historical time and stage; one at the sift at once.
func TestImportedWithdrawalWaitsForItsStage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, importer)
	atInterview := fullRow("W-1")
	atInterview.History.Interview.DecidedAt, atInterview.History.Offer, atInterview.History.Vetting = nil, nil, nil
	atInterview.WithdrawnAt, atInterview.WithdrawReasonCode = at("2026-04-22T10:00:00Z"), "relocation"
	atSift := fullRow("W-2")
	atSift.History = nil
	atSift.WithdrawnAt, atSift.WithdrawReasonCode = at("2026-03-12T10:00:00Z"), "relocation"
	resp, err := c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{atInterview, atSift}})
	if err != nil || resp.GetImported() != 2 {
		t.Fatalf("import = %v, %v", resp, err)
	}
	names := func(id string) []string { return testenv.EventNames(testenv.OutboxEvents(t, e.Pool, id)) }
	sift, interview := resp.GetResults()[1].GetApplicationId(), resp.GetResults()[0].GetApplicationId()
	if got := names(sift); fmt.Sprint(got) != "[application.submitted application.withdrawn]" {
		t.Errorf("withdrawn at the sift: events %v", got)
	}
	if got := names(interview); fmt.Sprint(got) != "[application.submitted]" {
		t.Fatalf("withdrawn at interview, before sifting reported: events %v", got)
	}
	a, err := c.GetApplication(context.Background(), &pb.GetApplicationRequest{ApplicationId: interview})
	if err != nil {
		t.Fatal(err)
	}
	e.moveTo(t, a.GetApplication(), &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}})
	evs := testenv.OutboxEvents(t, e.Pool, interview)
	if len(evs) != 2 || evs[1].Event.GetApplicationWithdrawn().GetStage() != commonv1.Stage_STAGE_INTERVIEW ||
		!evs[1].Event.GetOccurredAt().AsTime().Equal(at("2026-04-22T10:00:00Z").AsTime()) || evs[1].Event.GetAggregateVersion() != 2 {
		t.Fatalf("after sift.passed: events %v, want application.withdrawn at INTERVIEW at the imported time, version 2", evs)
	}
	got, err := c.GetApplication(context.Background(), &pb.GetApplicationRequest{ApplicationId: interview})
	if err != nil || got.GetApplication().GetStage() != commonv1.Stage_STAGE_WITHDRAWN {
		t.Errorf("application = %v, %v; want WITHDRAWN", got.GetApplication(), err)
	}
	// Sifting's event arriving again changes nothing.
	e.moveTo(t, got.GetApplication(), &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}})
	if n := len(testenv.OutboxEvents(t, e.Pool, interview)); n != 2 {
		t.Errorf("%d events after a repeated sift.passed, want 2", n)
	}
}

// TestImportRowsSeeEarlierRows: the rows of one call go in together, yet
// each row sees what the rows before it did, as one call after another
// would: a campaign is created by the first row that goes in (not by one
// that fails), later rows must agree with it, a reference or an email
// repeated in the call is caught, and a failed row leaves no request id
// behind.
func TestImportRowsSeeEarlierRows(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, importer)
	row := func(ref string, posts int32) *pb.ImportRow {
		r := fullRow(ref)
		r.CampaignReference, r.Posts = "NEW-1", posts
		return r
	}
	outside := row("B-1", 7)
	outside.SubmittedAt = at("2026-02-20T09:00:00Z") // before the campaign opened
	sameEmail := row("B-4", 5)
	sameEmail.Candidate.Email = "B-2@EXAMPLE.org"
	rows := []*pb.ImportRow{outside, row("B-2", 5), row("B-3", 6), row("B-2", 5), sameEmail, row("B-5", 5)}
	req := &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: rows}
	resp, err := c.ImportApplications(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	res := resp.GetResults()
	want := []struct{ code, field string }{
		{"INVALID_ARGUMENT", "rows[0].submitted_at"}, {"OK", ""}, {"INVALID_ARGUMENT", "rows[2].posts"},
		{"ALREADY_EXISTS", ""}, {"ALREADY_EXISTS", ""}, {"OK", ""},
	}
	for i, w := range want {
		if st := res[i].GetStatus(); st.GetCode() != w.code || st.GetField() != w.field {
			t.Errorf("row %d: %v, want %s %s", i, st, w.code, w.field)
		}
	}
	if res[3].GetApplicationId() != res[1].GetApplicationId() || res[4].GetApplicationId() != "" {
		t.Errorf("the repeated reference names %q (want row 1's %q); the repeated email names %q (want none)",
			res[3].GetApplicationId(), res[1].GetApplicationId(), res[4].GetApplicationId())
	}
	if resp.GetImported() != 2 || resp.GetAlreadyImported() != 1 || resp.GetFailed() != 3 {
		t.Errorf("totals %d imported, %d already imported, %d failed; want 2, 1, 3", resp.GetImported(), resp.GetAlreadyImported(), resp.GetFailed())
	}
	// The campaign as row 1 gave it (row 0 failed), one campaign.created,
	// two application.submitted; the call's id and the two rows that went
	// in are in the request log.
	e.wantCounts(t, map[string]int{"applications": 2, "campaigns": 1, "outbox": 3, "request_log": 3})
	var posts int
	if err := e.Pool.QueryRow(context.Background(), `SELECT posts FROM campaigns WHERE import_reference = 'NEW-1'`).Scan(&posts); err != nil || posts != 5 {
		t.Errorf("campaign posts = %d, %v; want 5 (row 1's)", posts, err)
	}
	// Retried, the rows that went in answer from the record; the others
	// are tried again and fail again.
	again, err := c.ImportApplications(context.Background(), req)
	if err != nil || again.GetImported() != 2 || !proto.Equal(again.GetResults()[1], res[1]) || !proto.Equal(again.GetResults()[5], res[5]) {
		t.Errorf("retried call = %v, %v; want rows 1 and 5 answered as before", again, err)
	}
	e.wantCounts(t, map[string]int{"applications": 2, "campaigns": 1, "outbox": 3, "request_log": 3})
}

// TestConcurrentImportsOfTheSameRows: two runs of the same file at once
// (different request ids) import each row once; each row is imported by
// one and already imported for the other, even when both create the same
// campaigns (the set that loses that race goes in row by row).
func TestConcurrentImportsOfTheSameRows(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, importer)
	var rows []*pb.ImportRow
	for i := range 40 {
		r := fullRow(fmt.Sprintf("C-%d", i))
		r.CampaignReference = fmt.Sprintf("CC-%d", i%4)
		rows = append(rows, r)
	}
	resps := make([]*pb.ImportApplicationsResponse, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for k := range resps {
		wg.Go(func() {
			resps[k], errs[k] = c.ImportApplications(context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: rows})
		})
	}
	wg.Wait()
	for k := range resps {
		if errs[k] != nil {
			t.Fatal(errs[k])
		}
	}
	for i := range rows {
		a, b := resps[0].GetResults()[i], resps[1].GetResults()[i]
		codes := a.GetStatus().GetCode() + " " + b.GetStatus().GetCode()
		if (codes != "OK ALREADY_EXISTS" && codes != "ALREADY_EXISTS OK") || a.GetApplicationId() != b.GetApplicationId() {
			t.Errorf("row %d: %s (%s, %s); want imported once, the other naming the same application", i, codes,
				a.GetApplicationId(), b.GetApplicationId())
		}
	}
	e.wantCounts(t, map[string]int{"applications": 40, "campaigns": 4, "outbox": 44})
}
