package grpcapi_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

// A second vetting contact point of London, to assign cases to.
var vettingLondon2 = auth.Claims{Subject: "vetting-london-2", Role: auth.RoleVetting, Regions: []string{"london"}}

func TestAssignAndUnassign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	r := e.open(t, "london")

	reqA := &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Assignee: vettingLondon2.Subject}
	resp, err := c.AssignCase(t.Context(), reqA)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetCase(); got.GetAssignee() != vettingLondon2.Subject || got.GetVersion() != 2 || got.GetStatus() != pb.CaseStatus_CASE_STATUS_OPEN {
		t.Fatalf("assigned case = %v", got)
	}
	// A retry with the same request id answers the same and writes nothing.
	before := len(testenv.OutboxEvents(t, e.Pool, r.id))
	again, err := c.AssignCase(t.Context(), reqA)
	if err != nil || again.GetCase().GetVersion() != 2 || len(testenv.OutboxEvents(t, e.Pool, r.id)) != before {
		t.Errorf("retry: %v, version %d, outbox %d→%d", err, again.GetCase().GetVersion(), before, len(testenv.OutboxEvents(t, e.Pool, r.id)))
	}

	t.Run("a stale version is Aborted and changes nothing", func(t *testing.T) {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Assignee: vettingLondon.Subject})
		testenv.WantStatus(t, err, codes.Aborted)
		_, err = c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
		testenv.WantStatus(t, err, codes.Aborted)
		if got := e.get(t, r.id); got.Assignee != vettingLondon2.Subject || got.Version != 2 {
			t.Errorf("case after stale changes: %q v%d", got.Assignee, got.Version)
		}
	})
	t.Run("assigning the owner again is refused", func(t *testing.T) {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, Assignee: vettingLondon2.Subject})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "already assigned")
	})

	un, err := c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := un.GetCase(); got.GetAssignee() != "" || got.GetVersion() != 3 {
		t.Fatalf("unassigned case = %v", got)
	}
	_, err = c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "no assignee")

	// The events carry the assignee ids, and only ids.
	rows := testenv.OutboxEvents(t, e.Pool, r.id)
	names := testenv.EventNames(rows)
	if !slices.Equal(names, []string{"vetting.opened", "vetting.assigned", "vetting.unassigned"}) {
		t.Fatalf("outbox = %v", names)
	}
	assigned, unassigned := rows[1], rows[2]
	if a := assigned.Event.GetVettingAssigned(); a.GetAssignee() != vettingLondon2.Subject || a.GetPreviousAssignee() != "" ||
		assigned.Event.GetAggregateVersion() != 2 || assigned.Event.GetActor().GetSubject() != vettingLondon.Subject ||
		assigned.Subject != "london.vetting.assigned" {
		t.Errorf("vetting.assigned = %s %v", assigned.Subject, assigned.Event)
	}
	if u := unassigned.Event.GetVettingUnassigned(); u.GetPreviousAssignee() != vettingLondon2.Subject || unassigned.Event.GetAggregateVersion() != 3 {
		t.Errorf("vetting.unassigned = %v", unassigned.Event)
	}
	// The history says who assigned.
	if h := e.get(t, r.id).History; len(h) != 3 || h[1].Event != "vetting.assigned" || h[1].Actor.GetSubject() != vettingLondon.Subject {
		t.Errorf("history = %v", h)
	}
}

func TestAssignRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	assign := func(c pb.VettingServiceClient, assignee string) error {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Assignee: assignee})
		return err
	}
	for _, tt := range []struct {
		name, assignee string
	}{
		{"an email address", "jo.bloggs@justice.gov.uk"},
		{"an email address without a dot", "jo@localhost"},
		{"a name with spaces", "Jo Bloggs"},
		{"a service's subject", "system:vetting"},
		{"nobody", ""},
		{"a newline", "vetting-1\nvetting-2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testenv.WantStatus(t, assign(e.as(t, vettingLondon), tt.assignee), codes.InvalidArgument, "assignee")
		})
	}
	t.Run("vetting of another region cannot learn or change the case", func(t *testing.T) {
		// As every change of a case elsewhere: answered exactly as a case
		// that does not exist (docs/security.md).
		errOther := assign(e.as(t, vettingWales), "vetting-wales")
		_, errMissing := e.as(t, vettingWales).AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: event.NewID(), ExpectedVersion: 1, Assignee: "vetting-wales"})
		testenv.WantStatus(t, errOther, codes.FailedPrecondition)
		if errOther.Error() != errMissing.Error() {
			t.Errorf("another region's case answers %v, a missing one %v", errOther, errMissing)
		}
	})
	for _, caller := range []auth.Claims{spocLondon, dashboard} {
		t.Run(string(caller.Role)+" may not assign", func(t *testing.T) {
			testenv.WantStatus(t, assign(e.as(t, caller), "vetting-london"), codes.PermissionDenied)
		})
	}
	t.Run("a finished case takes no owner", func(t *testing.T) {
		done := e.open(t, "london")
		e.handle(t, done.applicationWithdrawn(e.clock.Advance(time.Minute)))
		_, err := e.as(t, vettingLondon).AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: done.id, ExpectedVersion: 2, Assignee: "vetting-london"})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "CLOSED")
	})
	if got := e.get(t, r.id); got.Assignee != "" || got.Version != 1 {
		t.Errorf("refused assignments changed the case: %q v%d", got.Assignee, got.Version)
	}
	if names := testenv.EventNames(testenv.OutboxEvents(t, e.Pool, r.id)); !slices.Equal(names, []string{"vetting.opened"}) {
		t.Errorf("refused assignments wrote events: %v", names)
	}
	t.Run("admin may assign", func(t *testing.T) {
		if err := assign(e.as(t, admin), "vetting-london"); err != nil {
			t.Error(err)
		}
	})
}

func TestBatchAssign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	a, b := e.open(t, "london"), e.open(t, "london")
	wales := e.open(t, "wales")
	items := []*pb.AssignItem{
		{ApplicationId: a.id, ExpectedVersion: 1},
		{ApplicationId: b.id, ExpectedVersion: 7},
		{ApplicationId: wales.id, ExpectedVersion: 1},
		{ApplicationId: "nope", ExpectedVersion: 1},
		{ApplicationId: a.id, ExpectedVersion: 1}, // the same case twice: stale by then
	}
	wantCodes := []string{"OK", "ABORTED", "FAILED_PRECONDITION", "INVALID_ARGUMENT", "ABORTED"}
	check := func(t *testing.T, resp *pb.BatchAssignResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 1 || resp.GetFailed() != 4 || resp.GetDryRun() != dryRun {
			t.Errorf("succeeded %d, failed %d, dry run %v", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())
		}
		for i, r := range resp.GetResults() {
			if r.GetStatus().GetCode() != wantCodes[i] {
				t.Errorf("items[%d]: %s %s, want %s", i, r.GetStatus().GetCode(), r.GetStatus().GetMessage(), wantCodes[i])
			}
		}
		if got := resp.GetResults()[0].GetCase(); got.GetAssignee() != "vetting-london-2" || got.GetVersion() != 2 {
			t.Errorf("items[0] case = %v", got)
		}
	}

	before := e.snapshot(t)
	dry, err := c.BatchAssign(t.Context(), &pb.BatchAssignRequest{Items: items, Assignee: "vetting-london-2", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dry, true)
	wantSnapshot(t, "after a dry run", e.snapshot(t), before)
	if got := e.get(t, a.id); got.Assignee != "" {
		t.Errorf("a dry run assigned %s to %q", a.id, got.Assignee)
	}

	req := &pb.BatchAssignRequest{RequestId: reqID(), Items: items, Assignee: "vetting-london-2"}
	real, err := c.BatchAssign(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	check(t, real, false)
	if got := e.get(t, a.id); got.Assignee != "vetting-london-2" || got.Version != 2 {
		t.Errorf("%s after the batch: %q v%d", a.id, got.Assignee, got.Version)
	}
	if got := e.get(t, wales.id); got.Assignee != "" {
		t.Errorf("a london contact point assigned a wales case to %q", got.Assignee)
	}
	retried, err := c.BatchAssign(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	check(t, retried, false)
	if n := len(testenv.OutboxEvents(t, e.Pool, a.id)); n != 2 {
		t.Errorf("%s has %d events after a retried batch, want 2", a.id, n)
	}

	t.Run("an email assignee refuses the whole batch", func(t *testing.T) {
		_, err := c.BatchAssign(t.Context(), &pb.BatchAssignRequest{RequestId: reqID(), Items: items[1:2], Assignee: "someone@example.org"})
		testenv.WantStatus(t, err, codes.InvalidArgument, "assignee")
		_, err = c.BatchAssign(t.Context(), &pb.BatchAssignRequest{Items: items[1:2], Assignee: "someone@example.org", DryRun: true})
		testenv.WantStatus(t, err, codes.InvalidArgument, "assignee")
	})
}

func TestListMyCases(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	assign := func(r record, v int64, who string) {
		t.Helper()
		if _, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v, Assignee: who}); err != nil {
			t.Fatal(err)
		}
	}
	old := e.open(t, "london")
	e.clock.Advance(24 * time.Hour)
	blocked := e.open(t, "london")
	e.clock.Advance(24 * time.Hour)
	newest := e.open(t, "london")
	other := e.open(t, "london")
	e.clock.Advance(24 * time.Hour)
	finished := e.open(t, "london")

	assign(newest, 1, "vetting-london-2")
	assign(old, 1, "vetting-london-2")
	assign(other, 1, "vetting-london") // someone else's
	assign(finished, 1, "vetting-london-2")
	e.handle(t, finished.applicationWithdrawn(e.clock.Advance(time.Minute)))
	assign(blocked, 1, "vetting-london-2")
	// The block starts a new clock: blocked is now newer in its status
	// than newest.
	e.clock.Advance(24 * time.Hour)
	e.block(t, c, blocked, 2, thirdParty)
	e.clock.Advance(12 * time.Hour)

	mine := e.as(t, vettingLondon2)
	var got []string
	var days []int32
	var token string
	for {
		resp, err := mine.ListMyCases(t.Context(), &pb.ListMyCasesRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.GetCases() {
			got = append(got, m.GetCase().GetApplicationId())
			days = append(days, m.GetDaysInStatus())
			if m.GetCase().GetApplicationId() == blocked.id && (m.GetCase().GetBlockReason() != thirdParty || m.GetCase().GetBlockedSince() == nil) {
				t.Errorf("the blocked case does not say why: %v", m.GetCase())
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if want := []string{old.id, newest.id, blocked.id}; !slices.Equal(got, want) {
		t.Errorf("my cases = %v, want %v (oldest in status first; not others', not finished)", got, want)
	}
	if want := []int32{4, 2, 0}; !slices.Equal(days, want) {
		t.Errorf("days in status = %v, want %v", days, want)
	}

	t.Run("only the caller's current regions", func(t *testing.T) {
		moved := auth.Claims{Subject: "vetting-london-2", Role: auth.RoleVetting, Regions: []string{"wales"}}
		resp, err := e.as(t, moved).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		if err != nil || len(resp.GetCases()) != 0 {
			t.Errorf("a contact point moved to wales sees %d london cases (%v)", len(resp.GetCases()), err)
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
	for _, caller := range []auth.Claims{spocLondon, dashboard} {
		t.Run(string(caller.Role)+" has no vetting work list", func(t *testing.T) {
			_, err := e.as(t, caller).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
			testenv.WantStatus(t, err, codes.PermissionDenied)
		})
	}
}

func TestDefaultAssignees(t *testing.T) {
	t.Parallel()
	defaults, err := assign.ParseDefaults("london=vetting-london, vetting-london-2; wales=vetting-wales")
	if err != nil {
		t.Fatal(err)
	}
	e := setupFull(t, vetting.DefaultLevels(), defaults)
	seen := map[string]int{}
	for range 40 {
		r := e.open(t, "london")
		got := e.get(t, r.id)
		seen[got.Assignee]++
		rows := testenv.OutboxEvents(t, e.Pool, r.id)
		if names := testenv.EventNames(rows); !slices.Equal(names, []string{"vetting.opened", "vetting.assigned"}) {
			t.Fatalf("outbox = %v", names)
		}
		if a := rows[1].Event; a.GetVettingAssigned().GetAssignee() != got.Assignee || a.GetAggregateVersion() != 2 || a.GetActor().GetSubject() != "system:vetting" {
			t.Errorf("vetting.assigned = %v", a)
		}
		// A redelivered offer.accepted changes nothing.
		e.handle(t, r.offerAccepted(got.OpenedAt))
		if n := len(testenv.OutboxEvents(t, e.Pool, r.id)); n != 2 {
			t.Errorf("redelivery wrote %d events", n-2)
		}
	}
	if len(seen) != 2 || seen["vetting-london"] == 0 || seen["vetting-london-2"] == 0 {
		t.Errorf("london's 40 cases went to %v; want both contact points", seen)
	}
	r := e.open(t, "north-east") // no default: unassigned
	if got := e.get(t, r.id); got.Assignee != "" || got.Version != 1 {
		t.Errorf("north-east case: %q v%d", got.Assignee, got.Version)
	}
}
