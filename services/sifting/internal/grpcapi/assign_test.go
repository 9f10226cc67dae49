package grpcapi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
)

// A second SPOC of London, to assign cases to.
var spocLondon2 = auth.Claims{Subject: "spoc-london-2", Role: auth.RoleSPOC, Regions: []string{"london"}}

// get reads a case as admin through the service.
func (e *env) get(t *testing.T, id string) *sift.Case {
	t.Helper()
	c, err := e.svc.Case(context.Background(), admin, id)
	if err != nil {
		t.Fatalf("read case %s: %v", id, err)
	}
	return c
}

func TestAssignAndUnassign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	id := e.open(t, event.NewID(), "london", start)

	reqA := &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Assignee: spocLondon2.Subject}
	resp, err := c.AssignCase(t.Context(), reqA)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetCase(); got.GetAssignee() != spocLondon2.Subject || got.GetVersion() != 2 || got.GetState() != pb.CaseState_CASE_STATE_AWAITING_SIFT ||
		!got.GetStateEnteredAt().AsTime().Equal(start) {
		t.Fatalf("assigned case = %v", got)
	}
	// A retry with the same request id answers the same and writes nothing.
	before := len(testenv.OutboxEvents(t, e.Pool, id))
	again, err := c.AssignCase(t.Context(), reqA)
	if err != nil || again.GetCase().GetVersion() != 2 || len(testenv.OutboxEvents(t, e.Pool, id)) != before {
		t.Errorf("retry: %v, version %d, outbox %d→%d", err, again.GetCase().GetVersion(), before, len(testenv.OutboxEvents(t, e.Pool, id)))
	}

	t.Run("a stale version is Aborted and changes nothing", func(t *testing.T) {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Assignee: spocLondon.Subject})
		testenv.WantStatus(t, err, codes.Aborted)
		_, err = c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1})
		testenv.WantStatus(t, err, codes.Aborted)
		if got := e.get(t, id); got.Assignee != spocLondon2.Subject || got.Version != 2 {
			t.Errorf("case after stale changes: %q v%d", got.Assignee, got.Version)
		}
	})
	t.Run("assigning the owner again changes nothing", func(t *testing.T) {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2, Assignee: spocLondon2.Subject})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "already assigned")
		if n := len(testenv.OutboxEvents(t, e.Pool, id)); n != before {
			t.Errorf("the same owner again wrote %d events", n-before)
		}
	})

	// The owner stays with the case through the sift into INTERVIEW.
	passed := e.passSiftAt(t, c, id, 2)
	if passed.GetAssignee() != spocLondon2.Subject || passed.GetVersion() != 3 {
		t.Fatalf("passed case = %v", passed)
	}
	re, err := e.as(t, admin).AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 3, Assignee: spocLondon.Subject})
	if err != nil || re.GetCase().GetAssignee() != spocLondon.Subject || re.GetCase().GetVersion() != 4 {
		t.Fatalf("reassign by admin: %v %v", err, re.GetCase())
	}
	un, err := c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := un.GetCase(); got.GetAssignee() != "" || got.GetVersion() != 5 || got.GetState() != pb.CaseState_CASE_STATE_AWAITING_INTERVIEW {
		t.Fatalf("unassigned case = %v", got)
	}
	_, err = c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 5})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "no assignee")

	// The events, exactly: the assignee ids and only ids, each change's
	// version, actor and subject.
	rows := testenv.OutboxEvents(t, e.Pool, id)
	want := []struct {
		name, subject, actor string
		version              int64
		assignee, previous   string
	}{
		{"sift.assigned", "london.sift.assigned", spocLondon.Subject, 2, spocLondon2.Subject, ""},
		{"sift.passed", "london.sift.passed", spocLondon.Subject, 3, "", ""},
		{"sift.assigned", "london.sift.assigned", admin.Subject, 4, spocLondon.Subject, spocLondon2.Subject},
		{"sift.unassigned", "london.sift.unassigned", spocLondon.Subject, 5, "", spocLondon.Subject},
	}
	if len(rows) != len(want) {
		t.Fatalf("outbox = %v, want %d events", testenv.EventNames(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		ev := r.Event
		if r.Name != w.name || r.Subject != w.subject || ev.GetActor().GetSubject() != w.actor || ev.GetAggregateVersion() != w.version ||
			ev.GetProducer() != "sifting" || ev.GetRegion() != "london" || ev.GetApplicationId() != id {
			t.Errorf("outbox[%d] = %s %s %v, want %+v", i, r.Name, r.Subject, ev, w)
		}
		switch w.name {
		case "sift.assigned":
			if a := ev.GetSiftAssigned(); a.GetAssignee() != w.assignee || a.GetPreviousAssignee() != w.previous {
				t.Errorf("outbox[%d] payload = %v", i, a)
			}
		case "sift.unassigned":
			if u := ev.GetSiftUnassigned(); u.GetPreviousAssignee() != w.previous {
				t.Errorf("outbox[%d] payload = %v", i, u)
			}
		}
	}
	// The history says who assigned.
	if h := e.get(t, id).History; len(h) != 5 || h[1].Event != "sift.assigned" || h[1].Actor.GetSubject() != spocLondon.Subject {
		t.Errorf("history = %v", h)
	}
}

// passSiftAt records a sift pass at version v as caller.
func (e *env) passSiftAt(t *testing.T, c pb.SiftingServiceClient, id string, v int64) *pb.SiftCase {
	t.Helper()
	resp, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
		RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, Outcome: commonv1.Outcome_OUTCOME_PASS,
	})
	if err != nil {
		t.Fatalf("pass sift of %s: %v", id, err)
	}
	return resp.GetCase()
}

func TestAssignRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.open(t, event.NewID(), "london", start)
	assignAs := func(c pb.SiftingServiceClient, assignee string) error {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Assignee: assignee})
		return err
	}
	for _, tt := range []struct {
		name, assignee string
	}{
		{"an email address", "jo.bloggs@justice.gov.uk"},
		{"an email address without a dot", "jo@localhost"},
		{"a name with spaces", "Jo Bloggs"},
		{"a service's subject", "system:sifting"},
		{"nobody", ""},
		{"a newline", "spoc-1\nspoc-2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testenv.WantStatus(t, assignAs(e.as(t, spocLondon), tt.assignee), codes.InvalidArgument, "assignee")
		})
	}
	t.Run("a SPOC of another region cannot learn or change the case", func(t *testing.T) {
		// As every change of a case elsewhere: answered exactly as a case
		// that does not exist (docs/security.md); a read is NotFound.
		errOther := assignAs(e.as(t, spocWales), "spoc-wales")
		_, errMissing := e.as(t, spocWales).AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: event.NewID(), ExpectedVersion: 1, Assignee: "spoc-wales"})
		testenv.WantStatus(t, errOther, codes.FailedPrecondition)
		if errOther.Error() != errMissing.Error() {
			t.Errorf("another region's case answers %v, a missing one %v", errOther, errMissing)
		}
		_, err := e.as(t, spocWales).UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1})
		testenv.WantStatus(t, err, codes.FailedPrecondition)
		_, err = e.as(t, spocWales).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: id})
		testenv.WantStatus(t, err, codes.NotFound)
	})
	for _, caller := range []auth.Claims{
		dashboard,
		{Subject: "vetting-london", Role: auth.RoleVetting, Regions: []string{"london"}},
	} {
		t.Run(string(caller.Role)+" may not assign", func(t *testing.T) {
			testenv.WantStatus(t, assignAs(e.as(t, caller), "spoc-london"), codes.PermissionDenied)
		})
	}
	t.Run("a closed case takes no owner", func(t *testing.T) {
		done := e.open(t, event.NewID(), "london", start)
		if err := e.svc.HandleEvent(t.Context(), withdrawn(done, event.NewID(), "london", start.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		_, err := e.as(t, spocLondon).AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: done, ExpectedVersion: 2, Assignee: "spoc-london"})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "withdrawn")
	})
	if got := e.get(t, id); got.Assignee != "" || got.Version != 1 {
		t.Errorf("refused assignments changed the case: %q v%d", got.Assignee, got.Version)
	}
	if rows := testenv.OutboxEvents(t, e.Pool, id); len(rows) != 0 {
		t.Errorf("refused assignments wrote events: %v", testenv.EventNames(rows))
	}
	t.Run("admin may assign", func(t *testing.T) {
		if err := assignAs(e.as(t, admin), "spoc-london"); err != nil {
			t.Error(err)
		}
	})
}

func TestBatchAssign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	a, b := e.open(t, event.NewID(), "london", start), e.open(t, event.NewID(), "london", start)
	wales := e.open(t, event.NewID(), "wales", start)
	items := []*pb.AssignItem{
		{ApplicationId: a, ExpectedVersion: 1},
		{ApplicationId: b, ExpectedVersion: 7},
		{ApplicationId: wales, ExpectedVersion: 1},
		{ApplicationId: "nope", ExpectedVersion: 1},
		{ApplicationId: a, ExpectedVersion: 1}, // the same case twice: stale by then
	}
	wantCodes := []string{"OK", "ABORTED", "FAILED_PRECONDITION", "INVALID_ARGUMENT", "ABORTED"}
	check := func(t *testing.T, resp *pb.BatchAssignResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 1 || resp.GetFailed() != 4 || resp.GetDryRun() != dryRun || len(resp.GetResults()) != len(items) {
			t.Fatalf("succeeded %d, failed %d, dry run %v, %d results", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun(), len(resp.GetResults()))
		}
		for i, r := range resp.GetResults() {
			if r.GetStatus().GetCode() != wantCodes[i] || r.GetIndex() != int32(i) || r.GetApplicationId() != items[i].GetApplicationId() {
				t.Errorf("items[%d]: %d %s %s %s, want %s", i, r.GetIndex(), r.GetApplicationId(), r.GetStatus().GetCode(), r.GetStatus().GetMessage(), wantCodes[i])
			}
		}
		if f := resp.GetResults()[3].GetStatus().GetField(); f != "items[3].application_id" {
			t.Errorf("items[3] names field %q", f)
		}
		if got := resp.GetResults()[0].GetCase(); got.GetAssignee() != "spoc-london-2" || got.GetVersion() != 2 {
			t.Errorf("items[0] case = %v", got)
		}
	}

	before := e.snapshot(t)
	dry, err := c.BatchAssign(t.Context(), &pb.BatchAssignRequest{Items: items, Assignee: "spoc-london-2", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dry, true)
	e.wantSnapshot(t, before)
	if got := e.get(t, a); got.Assignee != "" {
		t.Errorf("a dry run assigned %s to %q", a, got.Assignee)
	}

	req := &pb.BatchAssignRequest{RequestId: reqID(), Items: items, Assignee: "spoc-london-2"}
	real, err := c.BatchAssign(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	check(t, real, false)
	if got := e.get(t, a); got.Assignee != "spoc-london-2" || got.Version != 2 {
		t.Errorf("%s after the batch: %q v%d", a, got.Assignee, got.Version)
	}
	if got := e.get(t, wales); got.Assignee != "" {
		t.Errorf("a london SPOC assigned a wales case to %q", got.Assignee)
	}
	retried, err := c.BatchAssign(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	check(t, retried, false)
	rows := testenv.OutboxEvents(t, e.Pool, "")
	if names := testenv.EventNames(rows); !slices.Equal(names, []string{"sift.assigned"}) || rows[0].Event.GetApplicationId() != a ||
		rows[0].Event.GetSiftAssigned().GetAssignee() != "spoc-london-2" {
		t.Errorf("outbox after a batch and its retry = %v", names)
	}

	t.Run("an email assignee refuses the whole batch", func(t *testing.T) {
		_, err := c.BatchAssign(t.Context(), &pb.BatchAssignRequest{RequestId: reqID(), Items: items[1:2], Assignee: "someone@example.org"})
		testenv.WantStatus(t, err, codes.InvalidArgument, "assignee")
		_, err = c.BatchAssign(t.Context(), &pb.BatchAssignRequest{Items: items[1:2], Assignee: "someone@example.org", DryRun: true})
		testenv.WantStatus(t, err, codes.InvalidArgument, "assignee")
	})
	t.Run("a batch needs a request id unless it is a dry run", func(t *testing.T) {
		_, err := c.BatchAssign(t.Context(), &pb.BatchAssignRequest{Items: items[1:2], Assignee: "spoc-london-2"})
		testenv.WantStatus(t, err, codes.InvalidArgument, "request_id")
	})
	t.Run("a SPOC of another region assigns nothing", func(t *testing.T) {
		resp, err := e.as(t, spocWales).BatchAssign(t.Context(), &pb.BatchAssignRequest{RequestId: reqID(), Items: []*pb.AssignItem{{ApplicationId: b, ExpectedVersion: 1}}, Assignee: "spoc-wales"})
		if err != nil || resp.GetFailed() != 1 || resp.GetResults()[0].GetStatus().GetCode() != "FAILED_PRECONDITION" {
			t.Errorf("wales SPOC on a london case: %v %v", err, resp)
		}
	})
}

func TestListMyCases(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	assignTo := func(id string, v int64, who string) {
		t.Helper()
		if _, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, Assignee: who}); err != nil {
			t.Fatal(err)
		}
	}
	campaign := event.NewID()
	old := e.open(t, campaign, "london", e.clock.Now())
	passed := e.open(t, campaign, "london", e.clock.Now())
	e.clock.Advance(24 * time.Hour)
	newest := e.open(t, campaign, "london", e.clock.Now())
	other := e.open(t, campaign, "london", e.clock.Now())
	finished := e.open(t, campaign, "london", e.clock.Now())
	failed := e.open(t, campaign, "london", e.clock.Now())

	assignTo(newest, 1, "spoc-london-2")
	assignTo(old, 1, "spoc-london-2")
	assignTo(passed, 1, "spoc-london-2")
	assignTo(other, 1, "spoc-london") // someone else's
	assignTo(finished, 1, "spoc-london-2")
	assignTo(failed, 1, "spoc-london-2")
	if err := e.svc.HandleEvent(t.Context(), withdrawn(finished, campaign, "london", e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: failed, ExpectedVersion: 2,
		Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence"}); err != nil {
		t.Fatal(err)
	}
	// Passing the sift starts the INTERVIEW stage's clock: passed is now
	// the newest in its stage.
	e.clock.Advance(24 * time.Hour)
	e.passSiftAt(t, c, passed, 2)
	e.clock.Advance(12 * time.Hour)

	mine := e.as(t, spocLondon2)
	var got []string
	var days []int32
	var stages []commonv1.Stage
	var token string
	for {
		resp, err := mine.ListMyCases(t.Context(), &pb.ListMyCasesRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.GetCases() {
			got = append(got, m.GetCase().GetApplicationId())
			days = append(days, m.GetDaysInStage())
			stages = append(stages, m.GetStage())
			if m.GetCase().GetApplicationId() == passed && !m.GetStageEnteredAt().AsTime().Equal(start.Add(48*time.Hour)) {
				t.Errorf("passed entered INTERVIEW at %v", m.GetStageEnteredAt().AsTime())
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if want := []string{old, newest, passed}; !slices.Equal(got, want) {
		t.Errorf("my cases = %v, want %v (oldest in stage first; not others', not closed)", got, want)
	}
	if want := []int32{2, 1, 0}; !slices.Equal(days, want) {
		t.Errorf("days in stage = %v, want %v", days, want)
	}
	if want := []commonv1.Stage{commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW}; !slices.Equal(stages, want) {
		t.Errorf("stages = %v, want %v", stages, want)
	}

	t.Run("only the caller's current regions", func(t *testing.T) {
		moved := auth.Claims{Subject: "spoc-london-2", Role: auth.RoleSPOC, Regions: []string{"wales"}}
		resp, err := e.as(t, moved).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		if err != nil || len(resp.GetCases()) != 0 {
			t.Errorf("a SPOC moved to wales sees %d london cases (%v)", len(resp.GetCases()), err)
		}
	})
	t.Run("a page token is the caller's own", func(t *testing.T) {
		resp, err := mine.ListMyCases(t.Context(), &pb.ListMyCasesRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListMyCases(t.Context(), &pb.ListMyCasesRequest{PageSize: 1, PageToken: resp.GetNextPageToken()})
		testenv.WantStatus(t, err, codes.InvalidArgument, "page_token")
	})
	t.Run("a dashboard has no sift work list", func(t *testing.T) {
		_, err := e.as(t, dashboard).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		testenv.WantStatus(t, err, codes.PermissionDenied)
	})
}

func TestDefaultAssignees(t *testing.T) {
	t.Parallel()
	defaults, err := assign.ParseDefaults("london=spoc-london, spoc-london-2; wales=spoc-wales")
	if err != nil {
		t.Fatal(err)
	}
	e := setupWith(t, defaults)
	seen := map[string]int{}
	for range 40 {
		id := e.open(t, event.NewID(), "london", start)
		got := e.get(t, id)
		seen[got.Assignee]++
		rows := testenv.OutboxEvents(t, e.Pool, id)
		if names := testenv.EventNames(rows); !slices.Equal(names, []string{"sift.assigned"}) {
			t.Fatalf("outbox = %v", names)
		}
		if a := rows[0].Event; a.GetSiftAssigned().GetAssignee() != got.Assignee || a.GetSiftAssigned().GetPreviousAssignee() != "" ||
			a.GetAggregateVersion() != 2 || a.GetActor().GetSubject() != "system:sifting" || got.Version != 2 || rows[0].Subject != "london.sift.assigned" {
			t.Errorf("sift.assigned = %s %v (case v%d)", rows[0].Subject, a, got.Version)
		}
		// A redelivered application.submitted changes nothing.
		if err := e.svc.HandleEvent(t.Context(), submitted(id, got.CampaignID, "london", start)); err != nil {
			t.Fatal(err)
		}
		if n := len(testenv.OutboxEvents(t, e.Pool, id)); n != 1 {
			t.Errorf("redelivery wrote %d events", n-1)
		}
	}
	if len(seen) != 2 || seen["spoc-london"] == 0 || seen["spoc-london-2"] == 0 {
		t.Errorf("london's 40 cases went to %v; want both SPOCs", seen)
	}
	id := e.open(t, event.NewID(), "north-east", start) // no default: unassigned
	if got := e.get(t, id); got.Assignee != "" || got.Version != 1 {
		t.Errorf("north-east case: %q v%d", got.Assignee, got.Version)
	}
	if rows := testenv.OutboxEvents(t, e.Pool, id); len(rows) != 0 {
		t.Errorf("an unassigned case published %v", testenv.EventNames(rows))
	}
}
