package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// The owners of the cases in these tests.
var (
	spocA   = auth.Claims{Subject: "spoc-a", Role: auth.RoleSPOC, Regions: []string{"london"}}
	vetB    = auth.Claims{Subject: "vet-b", Role: auth.RoleVetting, Regions: []string{"london"}}
	spocWal = auth.Claims{Subject: "spoc-wales", Role: auth.RoleSPOC, Regions: []string{"wales"}}
)

// owned is a scripted set of cases and their owners, as of serverNow
// (1 June 2026 12:00 UTC), with the default thresholds:
//
//	a1  london  SIFT since 10/5 10:00, sift case spoc-a: breach (24/5), 8 days over
//	a2  london  SIFT since 28/5 10:00, spoc-a: warning due 7/6 10:00
//	a3  london  OFFER since 24/5 10:00, offer spoc-a (its closed sift case also
//	            spoc-a's): warning (31/5), 1 day over, breach due 3/6 10:00
//	a4  london  PRE_EMPLOYMENT since 20/5 10:00, offer spoc-a, vetting case
//	            vet-b blocked 25/5 10:00: the offer has no clock (the vetting
//	            contact point must act), the vetting case a breach (30/5), 2 days over
//	a5  wales   SIFT since 11/5 10:00, spoc-a (outside spoc-a's token's regions)
//	a6  london  SIFT since 30/5 10:00, spoc-other
//	a7  london  rejected at the sift 5/5, spoc-a: closed
//	a8  london  HIRED 15/5 10:00 subject to vetting due 25/5, offer spoc-a
//	            (closed), vetting case vet-b: overdue from 26/5 00:00 London,
//	            6 days over
//	un  london  SIFT since 15/5 10:00, nobody's: breach (29/5), 3 days over
type owned struct {
	a1, a2, a3, a4, a5, a6, a7, a8, un *app
}

func newOwned(e *env, t *testing.T) *owned {
	t.Helper()
	c := newCampaign("london", po)
	cw := newCampaign("wales", po)
	closes := day(time.March, 31)
	o := &owned{
		a1: newApp(c).submitted(at(time.May, 10, 10)).assigned("sifting", at(time.May, 10, 11), "spoc-a"),
		a2: newApp(c).submitted(at(time.May, 28, 10)).assigned("sifting", at(time.May, 28, 11), "spoc-a"),
		a3: newApp(c).submitted(at(time.April, 20, 10)).assigned("sifting", at(time.April, 20, 11), "spoc-a").
			siftPassed(at(time.May, 1, 10)).interviewPassed(at(time.May, 24, 10)).assigned("offers", at(time.May, 24, 11), "spoc-a"),
		a4: newApp(c).submitted(at(time.March, 1, 10)).siftPassed(at(time.March, 10, 10)).interviewPassed(at(time.April, 1, 10)).
			assigned("offers", at(time.April, 1, 11), "spoc-a").offerMade(at(time.April, 5, 10)).offerAccepted(at(time.May, 20, 10)).
			vettingOpened(at(time.May, 20, 11)).assigned("vetting", at(time.May, 20, 12), "vet-b").
			vettingBlocked(at(time.May, 25, 10), commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS),
		a5: newApp(cw).submitted(at(time.May, 11, 10)).assigned("sifting", at(time.May, 11, 11), "spoc-a"),
		a6: newApp(c).submitted(at(time.May, 30, 10)).assigned("sifting", at(time.May, 30, 11), "spoc-other"),
		a7: newApp(c).submitted(at(time.May, 1, 10)).assigned("sifting", at(time.May, 1, 11), "spoc-a").siftFailed(at(time.May, 5, 10)),
		a8: newApp(c).submitted(at(time.March, 20, 10)).siftPassed(at(time.March, 30, 10)).interviewPassed(at(time.April, 10, 10)).
			assigned("offers", at(time.April, 10, 11), "spoc-a").offerMade(at(time.April, 12, 10)).offerAccepted(at(time.April, 15, 10)).
			vettingOpened(at(time.April, 15, 11)).assigned("vetting", at(time.April, 15, 12), "vet-b").
			started(at(time.May, 15, 10), day(time.May, 15), true, day(time.May, 25)),
		un: newApp(c).submitted(at(time.May, 15, 10)),
	}
	e.apply(t, c.created(at(time.March, 1, 8), day(time.March, 1), &closes), cw.created(at(time.March, 1, 8), day(time.March, 1), &closes))
	for _, a := range []*app{o.a1, o.a2, o.a3, o.a4, o.a5, o.a6, o.a7, o.a8, o.un} {
		e.apply(t, a.evs...)
	}
	return o
}

// myCase is the case the list should show.
func myCase(a *app, stage commonv1.Stage, record pb.CaseRecord, since time.Time) *pb.MyCase {
	return &pb.MyCase{ApplicationId: a.id, CampaignId: a.c.id, Region: a.c.region, Role: a.c.role, Stage: stage, Record: record,
		Since: timestamppb.New(since), CampaignTitle: campaignTitle}
}

// due sets what is due on c.
func due(c *pb.MyCase, kind pb.StuckKind, sev pb.Severity, overdue int32, next pb.Severity, nextAt time.Time) *pb.MyCase {
	c.Kind, c.Severity, c.DaysOverdue, c.NextThreshold = kind, sev, overdue, next
	if !nextAt.IsZero() {
		c.NextThresholdAt = timestamppb.New(nextAt)
	}
	return c
}

func TestListMyCases(t *testing.T) {
	t.Parallel()
	e := setup(t)
	o := newOwned(e, t)
	var (
		stage, blocked, overdue = pb.StuckKind_STUCK_KIND_STAGE, pb.StuckKind_STUCK_KIND_VETTING_BLOCKED, pb.StuckKind_STUCK_KIND_VETTING_OVERDUE
		none, warning, breach   = pb.Severity_SEVERITY_UNSPECIFIED, pb.Severity_SEVERITY_WARNING, pb.Severity_SEVERITY_BREACH
		sift, offer, vetting    = pb.CaseRecord_CASE_RECORD_SIFT, pb.CaseRecord_CASE_RECORD_OFFER, pb.CaseRecord_CASE_RECORD_VETTING
	)
	a1 := due(myCase(o.a1, commonv1.Stage_STAGE_SIFT, sift, at(time.May, 10, 10)), stage, breach, 8, none, time.Time{})
	a5 := due(myCase(o.a5, commonv1.Stage_STAGE_SIFT, sift, at(time.May, 11, 10)), stage, breach, 7, none, time.Time{})
	a4offer := myCase(o.a4, commonv1.Stage_STAGE_PRE_EMPLOYMENT, offer, at(time.May, 20, 10))
	a3 := due(myCase(o.a3, commonv1.Stage_STAGE_OFFER, offer, at(time.May, 24, 10)), stage, warning, 1, breach, at(time.June, 3, 10))
	a2 := due(myCase(o.a2, commonv1.Stage_STAGE_SIFT, sift, at(time.May, 28, 10)), stage, none, 0, warning, at(time.June, 7, 10))
	a8 := due(myCase(o.a8, commonv1.Stage_STAGE_HIRED, vetting, at(time.May, 15, 10)), overdue, breach, 6, none, time.Time{})
	a4vetting := due(myCase(o.a4, commonv1.Stage_STAGE_PRE_EMPLOYMENT, vetting, at(time.May, 20, 10)), blocked, breach, 2, none, time.Time{})
	a4vetting.BlockedReason = commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS

	t.Run("a SPOC's own, in their regions, oldest in stage first", func(t *testing.T) {
		t.Parallel()
		got, err := e.as(t, spocA).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		wantProto(t, "spoc-a's cases", got, &pb.ListMyCasesResponse{Assignee: "spoc-a", Cases: []*pb.MyCase{a1, a4offer, a3, a2}})
	})
	t.Run("a vetting contact point's own", func(t *testing.T) {
		t.Parallel()
		got, err := e.as(t, vetB).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		wantProto(t, "vet-b's cases", got, &pb.ListMyCasesResponse{Assignee: "vet-b", Cases: []*pb.MyCase{a8, a4vetting}})
	})
	t.Run("an admin names someone, in every region", func(t *testing.T) {
		t.Parallel()
		got, err := e.as(t, admin).ListMyCases(t.Context(), &pb.ListMyCasesRequest{Assignee: "spoc-a"})
		if err != nil {
			t.Fatal(err)
		}
		wantProto(t, "spoc-a's cases to an admin", got, &pb.ListMyCasesResponse{Assignee: "spoc-a", Cases: []*pb.MyCase{a1, a5, a4offer, a3, a2}})
	})
	t.Run("as of another time", func(t *testing.T) {
		t.Parallel()
		got, err := e.as(t, spocA).ListMyCases(t.Context(), &pb.ListMyCasesRequest{AsOf: timestamppb.New(at(time.May, 31, 9))})
		if err != nil {
			t.Fatal(err)
		}
		// An hour before a3's warning: not stuck yet, its warning next.
		// (The cases are the records as they stand, whatever the as_of.)
		want := due(myCase(o.a3, commonv1.Stage_STAGE_OFFER, offer, at(time.May, 24, 10)), stage, none, 0, warning, at(time.May, 31, 10))
		if len(got.GetCases()) != 4 {
			t.Fatalf("%d cases, want 4", len(got.GetCases()))
		}
		wantProto(t, "a3 as of 31 May 09:00", got.GetCases()[2], want)
	})
	t.Run("paged", func(t *testing.T) {
		t.Parallel()
		c := e.as(t, admin)
		var all []*pb.MyCase
		req := &pb.ListMyCasesRequest{Assignee: "spoc-a", PageSize: 2}
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("more than 3 pages of 5 cases at 2 a page")
			}
			resp, err := c.ListMyCases(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, resp.GetCases()...)
			if resp.GetNextPageToken() == "" {
				break
			}
			req.PageToken = resp.GetNextPageToken()
			// A token is for its own question only.
			_, err = c.ListMyCases(t.Context(), &pb.ListMyCasesRequest{Assignee: "vet-b", PageSize: 2, PageToken: req.PageToken})
			testenv.WantStatus(t, err, codes.InvalidArgument, "page_token")
		}
		wantProto(t, "the pages together", &pb.ListMyCasesResponse{Cases: all}, &pb.ListMyCasesResponse{Cases: []*pb.MyCase{a1, a5, a4offer, a3, a2}})
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		// Someone else's list: the SPOC and the vetting contact point are
		// refused, whoever they name (the same region's colleague included).
		_, err := e.as(t, spocA).ListMyCases(t.Context(), &pb.ListMyCasesRequest{Assignee: "vet-b"})
		testenv.WantStatus(t, err, codes.PermissionDenied, "only an admin")
		_, err = e.as(t, vetB).ListMyCases(t.Context(), &pb.ListMyCasesRequest{Assignee: "spoc-a"})
		testenv.WantStatus(t, err, codes.PermissionDenied, "only an admin")
		// A dashboard owns no cases.
		_, err = e.as(t, dashLondon).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		// A region the caller may not see.
		_, err = e.as(t, spocA).ListMyCases(t.Context(), &pb.ListMyCasesRequest{Region: "wales"})
		testenv.WantStatus(t, err, codes.PermissionDenied, "wales")
		// Not a subject id: an email address.
		_, err = e.as(t, admin).ListMyCases(t.Context(), &pb.ListMyCasesRequest{Assignee: "someone@example.org"})
		testenv.WantField(t, err, "assignee")
		_, err = e.dial(t, "").ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		testenv.WantStatus(t, err, codes.Unauthenticated)
	})
	t.Run("the SPOC of another region sees none of these", func(t *testing.T) {
		t.Parallel()
		got, err := e.as(t, spocWal).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		wantProto(t, "spoc-wales's cases", got, &pb.ListMyCasesResponse{Assignee: "spoc-wales"})
	})
}

func TestGetWorkload(t *testing.T) {
	t.Parallel()
	e := setup(t)
	newOwned(e, t)
	spoc, vetting := pb.NextActor_NEXT_ACTOR_SPOC, pb.NextActor_NEXT_ACTOR_VETTING
	want := &pb.GetWorkloadResponse{AsOf: timestamppb.New(serverNow), Rows: []*pb.Workload{
		{Assignee: "", Actor: spoc, Open: 1, Breach: 1, OldestSince: timestamppb.New(at(time.May, 15, 10))},
		{Assignee: "spoc-a", Actor: spoc, Open: 4, Warning: 1, Breach: 1, OldestSince: timestamppb.New(at(time.May, 10, 10))},
		{Assignee: "spoc-other", Actor: spoc, Open: 1, OldestSince: timestamppb.New(at(time.May, 30, 10))},
		{Assignee: "vet-b", Actor: vetting, Open: 2, Breach: 2, OldestSince: timestamppb.New(at(time.May, 15, 10))},
	}}
	for _, caller := range []auth.Claims{dashLondon, spocA, vetB, admin} {
		got, err := e.as(t, caller).GetWorkload(t.Context(), &pb.GetWorkloadRequest{Region: "london"})
		if err != nil {
			t.Fatalf("%s: %v", caller.Subject, err)
		}
		wantProto(t, "London's workload to "+caller.Subject, got, want)
	}
	got, err := e.as(t, admin).GetWorkload(t.Context(), &pb.GetWorkloadRequest{Region: "wales"})
	if err != nil {
		t.Fatal(err)
	}
	wantProto(t, "Wales's workload", got, &pb.GetWorkloadResponse{AsOf: timestamppb.New(serverNow), Rows: []*pb.Workload{
		{Assignee: "spoc-a", Actor: spoc, Open: 1, Breach: 1, OldestSince: timestamppb.New(at(time.May, 11, 10))},
	}})
	// Earlier, fewer are overdue: a3 not yet in warning, a1 in warning only.
	got, err = e.as(t, admin).GetWorkload(t.Context(), &pb.GetWorkloadRequest{Region: "london", AsOf: timestamppb.New(at(time.May, 21, 10))})
	if err != nil {
		t.Fatal(err)
	}
	if r := got.GetRows(); len(r) < 2 || r[1].GetAssignee() != "spoc-a" || r[1].GetWarning() != 1 || r[1].GetBreach() != 0 {
		t.Errorf("spoc-a's workload as of 21 May: %v, want 1 warning (a1), no breach", r)
	}

	_, err = e.as(t, spocWal).GetWorkload(t.Context(), &pb.GetWorkloadRequest{Region: "london"})
	testenv.WantStatus(t, err, codes.PermissionDenied, "london")
	_, err = e.as(t, admin).GetWorkload(t.Context(), &pb.GetWorkloadRequest{})
	testenv.WantField(t, err, "region")
}

func TestStuckListAssignees(t *testing.T) {
	t.Parallel()
	e := setup(t)
	o := newOwned(e, t)
	list := func(assignee string) map[string]string {
		t.Helper()
		resp, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", Assignee: assignee})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, c := range resp.GetCandidates() {
			out[c.GetApplicationId()+" "+c.GetKind().String()] = c.GetAssignee()
		}
		return out
	}
	same := func(what string, got, want map[string]string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s: %s has assignee %q (listed %v), want %q", what, k, g, ok, v)
			}
		}
	}
	st, bl, ov := " STUCK_KIND_STAGE", " STUCK_KIND_VETTING_BLOCKED", " STUCK_KIND_VETTING_OVERDUE"
	same("every stuck candidate", list(""), map[string]string{
		o.a1.id + st: "spoc-a", o.a3.id + st: "spoc-a", o.a4.id + bl: "vet-b", o.a8.id + ov: "vet-b", o.un.id + st: "",
	})
	same("spoc-a's", list("spoc-a"), map[string]string{o.a1.id + st: "spoc-a", o.a3.id + st: "spoc-a"})
	same("vet-b's", list("vet-b"), map[string]string{o.a4.id + bl: "vet-b", o.a8.id + ov: "vet-b"})
	same("nobody's", list("-"), map[string]string{o.un.id + st: ""})
	same("spoc-other's", list("spoc-other"), map[string]string{})

	_, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", Assignee: "a@b"})
	testenv.WantField(t, err, "assignee")
	// A page token is for its own filter.
	first, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", PageSize: 1,
		Assignee: "spoc-a", PageToken: first.GetNextPageToken()})
	testenv.WantStatus(t, err, codes.InvalidArgument, "page_token")
}
