package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/importcsv"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// blockNote is free text about the candidate in the vetting service.
const blockNote = "Ada says her DBS certificate shows a caution from 2019; chasing Thames Valley Police"

// erasureRegions are the regions of the demo data this test imports.
var erasureRegions = []string{"london", "wales"}

// TestErasureKeepsTheReports imports the demo pipeline of two regions and
// drives one candidate to a blocked vetting case with a note, runs every
// report, erases every candidate (as the retention job or a right-to-erasure
// request does), and checks that every report answers exactly as before,
// that nothing of the candidates is left in any service's tables, and that
// `pipelinectl export` gathered everything before and nothing personal
// after.
func TestErasureKeepsTheReports(t *testing.T) {
	t.Parallel()
	st := start(t)
	ctx := context.Background()
	admin := token(t, "admin-1", auth.RoleAdmin)
	apps := applicationsv1.NewApplicationsServiceClient(st.conns["applications"])

	// Ada first: the import keeps the consumers busy for a while.
	ada := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
	ada.passInterview()
	vc := ada.acceptOffer()
	if _, err := ada.vetting.BlockCase(ctx, &vettingv1.BlockCaseRequest{RequestId: ada.req(), ApplicationId: ada.id,
		ExpectedVersion: vc.GetVersion(), Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS, Note: blockNote}, ada.vetter); err != nil {
		t.Fatal(err)
	}

	var rows []*applicationsv1.ImportRow
	for _, r := range importcsv.Demo(time.Now(), 7) {
		if slices.Contains(erasureRegions, r.GetRegion()) {
			rows = append(rows, r)
		}
	}
	// Batches of 100: a batch of 500 can take longer than the default
	// deadline on a busy machine.
	for from := 0; from < len(rows); from += 100 {
		resp, err := apps.ImportApplications(ctx, &applicationsv1.ImportApplicationsRequest{
			RequestId: fmt.Sprintf("erasure-import-%d", from), Rows: rows[from:min(from+100, len(rows))]}, admin)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetResults() {
			if r.GetStatus().GetCode() != "OK" {
				t.Fatalf("import row %s: %v", r.GetReference(), r.GetStatus())
			}
		}
	}

	// What a subject access request gets, before the erasure.
	c := newCtl(t, st)
	adminToken := c.mint("--role", "admin", "--subject", "admin-dpo")
	before := exportOf(t, c, adminToken, ada.id)
	for _, want := range []string{"Ada Lovelace", "ada@example.org", blockNote, "vetting.blocked", "interview.passed", "offer.accepted"} {
		if !strings.Contains(before, want) {
			t.Errorf("the export does not hold %q:\n%s", want, before)
		}
	}

	settled(t, st)
	asOf := timestamppb.Now()
	reports := runReports(t, st, asOf)
	if f := reports["GetFunnel london"].(*reportingv1.GetFunnelResponse); len(f.String()) < 100 {
		t.Fatalf("London's funnel is all but empty, so comparing it proves little: %v", f)
	}

	// Erase everyone: the demo's candidates as retention does, Ada on her
	// request (with the confirmation pipelinectl asks for).
	c.run(adminToken, "applications", "erase", ada.id, "--reason", "right_to_erasure").wantExit(t, 2, "--yes")
	c.ok(adminToken, "applications", "erase", ada.id, "--reason", "right_to_erasure", "--yes")
	n := 0
	for _, region := range erasureRegions {
		page := ""
		for {
			list, err := apps.ListApplications(ctx, &applicationsv1.ListApplicationsRequest{Region: region, PageSize: 500, PageToken: page}, admin)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range list.GetApplications() {
				if a.GetErased() {
					continue
				}
				if _, err := apps.EraseCandidate(ctx, &applicationsv1.EraseCandidateRequest{
					RequestId: "erase-" + a.GetId(), ApplicationId: a.GetId(), ReasonCode: "retention"}, admin); err != nil {
					t.Fatal(err)
				}
				n++
			}
			if page = list.GetNextPageToken(); page == "" {
				break
			}
		}
	}
	if n < len(rows) {
		t.Fatalf("erased %d applications, want at least the %d imported", n, len(rows))
	}
	testenv.Eventually(t, "vetting drops the note", func() (bool, string) {
		r, err := ada.vetting.GetCase(ctx, &vettingv1.GetCaseRequest{ApplicationId: ada.id}, ada.vetter)
		return err == nil && r.GetCase().GetBlockNote() == "", fmt.Sprint(r.GetCase().GetBlockNote(), err)
	})
	settled(t, st)

	// Every report, the same.
	after := runReports(t, st, asOf)
	for _, name := range sortedKeys(reports) {
		if !proto.Equal(reports[name], after[name]) {
			t.Errorf("%s changed with the erasure:\nbefore %v\nafter  %v", name, reports[name], after[name])
		}
	}
	if len(after) != len(reports) {
		t.Errorf("%d reports after, %d before", len(after), len(reports))
	}

	// Nothing of any candidate is left in any service's tables (the request
	// log aside: storing no personal data there is the request-log part of
	// issue 14, on another branch).
	var personal []string
	for _, r := range rows[:20] {
		personal = append(personal, r.GetCandidate().GetName(), r.GetCandidate().GetEmail())
		if r.GetCandidate().GetPhone() != "" {
			personal = append(personal, r.GetCandidate().GetPhone())
		}
	}
	personal = append(personal, "Ada Lovelace", "ada@example.org", blockNote, "Thames Valley")
	pool, err := pg.Connect(ctx, testenv.DatabaseURL(), "public")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, service := range services {
		if found := testenv.Holding(t, pool, st.prefix+"_"+service, nil, personal...); len(found) > 0 {
			t.Errorf("%s still holds personal data: %v", service, found)
		}
	}

	// The export after: the records, reading as erased, with no name or note.
	exported := exportOf(t, c, adminToken, ada.id)
	for _, gone := range []string{"Ada Lovelace", "ada@example.org", blockNote} {
		if strings.Contains(exported, gone) {
			t.Errorf("the export after erasure holds %q", gone)
		}
	}
	for _, want := range []string{`"erased": true`, `"erasure_reason_code": "right_to_erasure"`, "application.erased", "vetting.blocked"} {
		if !strings.Contains(exported, want) {
			t.Errorf("the export after erasure does not say %s:\n%s", want, exported)
		}
	}
}

// exportOf runs `pipelinectl export` and checks the document's shape: one
// answer from each of the five services: one record about id from each
// stage service, none from equality (no monitoring answers were given).
func exportOf(t *testing.T, c *ctl, token, id string) string {
	t.Helper()
	out := c.ok(token, "export", id).stdout
	var doc struct {
		ApplicationID string `json:"application_id"`
		Services      []struct {
			Service string            `json:"service"`
			Records []json.RawMessage `json:"records"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, out)
	}
	var got []string
	for _, s := range doc.Services {
		// The equality service holds monitoring answers only for a
		// candidate who gave some; these candidates gave none.
		want := 1
		if s.Service == "equality" {
			want = 0
		}
		if len(s.Records) != want {
			t.Errorf("%s exported %d records, want %d", s.Service, len(s.Records), want)
		}
		got = append(got, s.Service)
	}
	if doc.ApplicationID != id || !slices.Equal(got, []string{"applications", "sifting", "offers", "vetting", "equality"}) {
		t.Errorf("export of %s from %v:\n%s", doc.ApplicationID, got, out)
	}
	return out
}

// settled waits until reporting has applied every event on the stream, and
// the stream has stopped growing (consumers publish in turn).
func settled(t *testing.T, st *stack) {
	t.Helper()
	ctx := context.Background()
	pool, err := pg.Connect(ctx, testenv.DatabaseURL(), st.prefix+"_reporting")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := st.js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	last, same := uint64(0), 0
	testenv.Eventually(t, "reporting has every event", func() (bool, string) {
		info, err := s.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		var applied uint64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&applied); err != nil {
			return false, err.Error()
		}
		if info.State.Msgs == last && applied == last {
			same++
		} else {
			same = 0
		}
		last = info.State.Msgs
		return same >= 25, fmt.Sprintf("%d events, reporting applied %d", info.State.Msgs, applied)
	})
}

// runReports asks every question reporting answers, as an admin, as at
// asOf, for each region and all, and returns the answers by question.
func runReports(t *testing.T, st *stack, asOf *timestamppb.Timestamp) map[string]proto.Message {
	t.Helper()
	ctx := context.Background()
	admin := token(t, "admin-1", auth.RoleAdmin)
	rep := reportingv1.NewReportingServiceClient(st.conns["reporting"])
	out := map[string]proto.Message{}
	keep := func(name string, m proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = m
	}
	r, err := rep.ListRegionSummaries(ctx, &reportingv1.ListRegionSummariesRequest{AsOf: asOf}, admin)
	keep("ListRegionSummaries", r, err)
	from := timestamppb.New(asOf.AsTime().AddDate(-2, 0, 0))
	for _, region := range append([]string{""}, erasureRegions...) {
		at := func(q string) string { return q + " " + region }
		tth, err := rep.GetTimeToHire(ctx, &reportingv1.GetTimeToHireRequest{Region: region}, admin)
		keep(at("GetTimeToHire"), tth, err)
		tthw, err := rep.GetTimeToHire(ctx, &reportingv1.GetTimeToHireRequest{Region: region, From: from, To: asOf,
			Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER}, admin)
		keep(at("GetTimeToHire window, role"), tthw, err)
		if region == "" {
			continue // the other reports are per region
		}
		f, err := rep.GetFunnel(ctx, &reportingv1.GetFunnelRequest{Region: region}, admin)
		keep(at("GetFunnel"), f, err)
		d, err := rep.GetStageDurations(ctx, &reportingv1.GetStageDurationsRequest{Region: region}, admin)
		keep(at("GetStageDurations"), d, err)
		dw, err := rep.GetStageDurations(ctx, &reportingv1.GetStageDurationsRequest{Region: region, From: from, To: asOf}, admin)
		keep(at("GetStageDurations window"), dw, err)
		s, err := rep.GetRegionSummary(ctx, &reportingv1.GetRegionSummaryRequest{Region: region, AsOf: asOf}, admin)
		keep(at("GetRegionSummary"), s, err)
		th, err := rep.GetThresholds(ctx, &reportingv1.GetThresholdsRequest{Region: region}, admin)
		keep(at("GetThresholds"), th, err)
		for page, token := 0, ""; ; page++ {
			l, err := rep.ListStuckCandidates(ctx, &reportingv1.ListStuckCandidatesRequest{Region: region, AsOf: asOf, PageSize: 100, PageToken: token}, admin)
			keep(at(fmt.Sprintf("ListStuckCandidates page %d", page)), l, err)
			if token = l.GetNextPageToken(); token == "" {
				break
			}
		}
		for _, camp := range campaignsOf(t, st, region, admin) {
			f, err := rep.GetFunnel(ctx, &reportingv1.GetFunnelRequest{Region: region, CampaignId: camp}, admin)
			keep(at("GetFunnel campaign "+camp), f, err)
			tth, err := rep.GetTimeToHire(ctx, &reportingv1.GetTimeToHireRequest{Region: region, CampaignId: camp}, admin)
			keep(at("GetTimeToHire campaign "+camp), tth, err)
		}
		// WatchRegion's first message: the summary now, which moves with
		// the clock alone; the test compares it less its time.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		w, err := rep.WatchRegion(wctx, &reportingv1.WatchRegionRequest{Region: region}, admin)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		first, err := w.Recv()
		cancel()
		if err != nil {
			t.Fatalf("WatchRegion %s: %v", region, err)
		}
		clearTimes(first)
		out[at("WatchRegion")] = first
	}
	if len(out) < 20 {
		t.Fatalf("only %d answers", len(out))
	}
	return out
}

// clearTimes zeroes every timestamp in m, at any depth.
func clearTimes(m proto.Message) {
	r := m.ProtoReflect()
	var walk func(protoreflect.Message)
	walk = func(r protoreflect.Message) {
		r.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case f.Message() == nil || f.IsMap():
			case f.Message().FullName() == "google.protobuf.Timestamp" && !f.IsList():
				r.Clear(f)
			case f.IsList():
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			default:
				walk(v.Message())
			}
			return true
		})
	}
	walk(r)
}

// campaignsOf lists region's campaign ids.
func campaignsOf(t *testing.T, st *stack, region string, admin grpc.CallOption) []string {
	t.Helper()
	apps := applicationsv1.NewApplicationsServiceClient(st.conns["applications"])
	var ids []string
	for page := ""; ; {
		l, err := apps.ListCampaigns(context.Background(), &applicationsv1.ListCampaignsRequest{Region: region, PageSize: 500, PageToken: page}, admin)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.GetCampaigns() {
			ids = append(ids, c.GetId())
		}
		if page = l.GetNextPageToken(); page == "" {
			return ids
		}
	}
}
