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
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

// A second SPOC of London, to assign records to.
var spocLondon2 = auth.Claims{Subject: "spoc-london-2", Role: auth.RoleSPOC, Regions: []string{"london"}}

func (e *env) assignTo(t *testing.T, c pb.OffersServiceClient, r record, v int64, who string) *pb.Offer {
	t.Helper()
	resp, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v, Assignee: who})
	if err != nil {
		t.Fatalf("assign %s to %s: %v", r.id, who, err)
	}
	return resp.GetOffer()
}

// assignSnapshot is what an assignment may write.
type assignSnapshot struct {
	outbox, history, requestLog int
	offers                      map[string]string // application id → version and assignee
}

func (e *env) assignSnapshot(t *testing.T) assignSnapshot {
	t.Helper()
	ctx := context.Background()
	var s assignSnapshot
	for table, n := range map[string]*int{"outbox": &s.outbox, "history": &s.history, "request_log": &s.requestLog} {
		if err := e.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
	}
	rows, err := e.Pool.Query(ctx, `SELECT application_id::text, 'v' || version || ' ' || assignee FROM offers`)
	if err != nil {
		t.Fatalf("read offers: %v", err)
	}
	s.offers = map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatalf("read offers: %v", err)
		}
		s.offers[id] = v
	}
	return s
}

func TestAssignAndUnassign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	r := e.open(t, "london")

	reqA := &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Assignee: spocLondon2.Subject}
	resp, err := c.AssignCase(t.Context(), reqA)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetOffer(); got.GetAssignee() != spocLondon2.Subject || got.GetVersion() != 2 || got.GetStatus() != pb.OfferStatus_OFFER_STATUS_AWAITING_OFFER ||
		!got.GetStageEnteredAt().AsTime().Equal(start) {
		t.Fatalf("assigned offer = %v", got)
	}
	// A retry with the same request id answers the same and writes nothing.
	before := len(testenv.OutboxEvents(t, e.Pool, r.id))
	again, err := c.AssignCase(t.Context(), reqA)
	if err != nil || again.GetOffer().GetVersion() != 2 || len(testenv.OutboxEvents(t, e.Pool, r.id)) != before {
		t.Errorf("retry: %v, version %d, outbox %d→%d", err, again.GetOffer().GetVersion(), before, len(testenv.OutboxEvents(t, e.Pool, r.id)))
	}
	t.Run("a stale version is Aborted and changes nothing", func(t *testing.T) {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Assignee: spocLondon.Subject})
		testenv.WantStatus(t, err, codes.Aborted)
		_, err = c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
		testenv.WantStatus(t, err, codes.Aborted)
	})
	t.Run("assigning the owner again changes nothing", func(t *testing.T) {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, Assignee: spocLondon2.Subject})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "already assigned")
	})
	if got := e.get(t, r.id); got.Assignee != spocLondon2.Subject || got.Version != 2 || len(testenv.OutboxEvents(t, e.Pool, r.id)) != before {
		t.Errorf("refused changes changed the offer: %q v%d", got.Assignee, got.Version)
	}

	// Making the offer keeps the stage (OFFER) and its clock; accepting it
	// starts PRE_EMPLOYMENT's. The owner stays throughout.
	e.clock.Advance(24 * time.Hour)
	made, err := c.MakeConditionalOffer(t.Context(), &pb.MakeConditionalOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2,
		SalaryBandCode: "band_3", Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
	if err != nil || made.GetOffer().GetAssignee() != spocLondon2.Subject || !made.GetOffer().GetStageEnteredAt().AsTime().Equal(start) {
		t.Fatalf("make: %v %v", err, made.GetOffer())
	}
	e.clock.Advance(24 * time.Hour)
	accepted, err := c.AcceptOffer(t.Context(), &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3})
	if err != nil || !accepted.GetOffer().GetStageEnteredAt().AsTime().Equal(start.Add(48*time.Hour)) {
		t.Fatalf("accept: %v %v", err, accepted.GetOffer())
	}
	if re := e.assignTo(t, e.as(t, admin), r, 4, spocLondon.Subject); re.GetAssignee() != spocLondon.Subject || re.GetVersion() != 5 ||
		re.GetStatus() != pb.OfferStatus_OFFER_STATUS_ACCEPTED {
		t.Fatalf("reassign by admin = %v", re)
	}
	un, err := c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 5})
	if err != nil || un.GetOffer().GetAssignee() != "" || un.GetOffer().GetVersion() != 6 {
		t.Fatalf("unassign: %v %v", err, un.GetOffer())
	}
	_, err = c.UnassignCase(t.Context(), &pb.UnassignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 6})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "no assignee")

	// The events, exactly.
	rows := testenv.OutboxEvents(t, e.Pool, r.id)
	want := []struct {
		name, actor        string
		version            int64
		assignee, previous string
	}{
		{"offer.assigned", spocLondon.Subject, 2, spocLondon2.Subject, ""},
		{"offer.made", spocLondon.Subject, 3, "", ""},
		{"offer.accepted", spocLondon.Subject, 4, "", ""},
		{"offer.assigned", admin.Subject, 5, spocLondon.Subject, spocLondon2.Subject},
		{"offer.unassigned", spocLondon.Subject, 6, "", spocLondon.Subject},
	}
	if len(rows) != len(want) {
		t.Fatalf("outbox = %v, want %d events", testenv.EventNames(rows), len(want))
	}
	for i, w := range want {
		row, ev := rows[i], rows[i].Event
		if row.Name != w.name || row.Subject != "london."+w.name || ev.GetActor().GetSubject() != w.actor || ev.GetAggregateVersion() != w.version ||
			ev.GetProducer() != "offers" || ev.GetApplicationId() != r.id {
			t.Errorf("outbox[%d] = %s %s %v, want %+v", i, row.Name, row.Subject, ev, w)
		}
		switch w.name {
		case "offer.assigned":
			if a := ev.GetOfferAssigned(); a.GetAssignee() != w.assignee || a.GetPreviousAssignee() != w.previous {
				t.Errorf("outbox[%d] payload = %v", i, a)
			}
		case "offer.unassigned":
			if u := ev.GetOfferUnassigned(); u.GetPreviousAssignee() != w.previous {
				t.Errorf("outbox[%d] payload = %v", i, u)
			}
		}
	}
}

func TestAssignRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	assignAs := func(c pb.OffersServiceClient, assignee string) error {
		_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, Assignee: assignee})
		return err
	}
	for _, tt := range []struct {
		name, assignee string
	}{
		{"an email address", "jo.bloggs@justice.gov.uk"},
		{"a name with spaces", "Jo Bloggs"},
		{"a service's subject", "system:offers"},
		{"nobody", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testenv.WantStatus(t, assignAs(e.as(t, spocLondon), tt.assignee), codes.InvalidArgument, "assignee")
		})
	}
	t.Run("a SPOC of another region cannot learn or change the record", func(t *testing.T) {
		errOther := assignAs(e.as(t, spocWales), "spoc-wales")
		_, errMissing := e.as(t, spocWales).AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: event.NewID(), ExpectedVersion: 1, Assignee: "spoc-wales"})
		testenv.WantStatus(t, errOther, codes.FailedPrecondition)
		if errOther.Error() != errMissing.Error() {
			t.Errorf("another region's record answers %v, a missing one %v", errOther, errMissing)
		}
		_, err := e.as(t, spocWales).GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
		testenv.WantStatus(t, err, codes.NotFound)
	})
	for _, caller := range []auth.Claims{vettingLondon, dashboard} {
		t.Run(string(caller.Role)+" may not assign", func(t *testing.T) {
			testenv.WantStatus(t, assignAs(e.as(t, caller), "spoc-london"), codes.PermissionDenied)
		})
	}
	c := e.as(t, spocLondon)
	declined, withdrawn, started := e.open(t, "london"), e.open(t, "london"), e.open(t, "london")
	e.makeOffer(t, c, declined)
	if _, err := c.DeclineOffer(t.Context(), &pb.DeclineOfferRequest{RequestId: reqID(), ApplicationId: declined.id, ExpectedVersion: 2, ReasonCode: "salary"}); err != nil {
		t.Fatal(err)
	}
	e.handle(t, withdrawn.applicationWithdrawn(e.clock.Now()))
	e.startToday(t, c, started)
	for _, closed := range []struct {
		r       record
		version int64
		status  string
	}{{declined, 3, "DECLINED"}, {withdrawn, 2, "WITHDRAWN"}, {started, 7, "STARTED"}} {
		t.Run("a "+closed.status+" record is closed", func(t *testing.T) {
			before := e.assignSnapshot(t)
			_, err := c.AssignCase(t.Context(), &pb.AssignCaseRequest{RequestId: reqID(), ApplicationId: closed.r.id, ExpectedVersion: closed.version, Assignee: "spoc-london"})
			testenv.WantStatus(t, err, codes.FailedPrecondition, "offer is "+closed.status)
			if after := e.assignSnapshot(t); after.outbox != before.outbox || after.offers[closed.r.id] != before.offers[closed.r.id] {
				t.Errorf("a refused assignment changed %s", closed.r.id)
			}
		})
	}
	if got := e.get(t, r.id); got.Assignee != "" || got.Version != 1 {
		t.Errorf("refused assignments changed the record: %q v%d", got.Assignee, got.Version)
	}
	if rows := testenv.OutboxEvents(t, e.Pool, r.id); len(rows) != 0 {
		t.Errorf("refused assignments wrote events: %v", testenv.EventNames(rows))
	}
}

func TestBatchAssign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	a, b, wales := e.open(t, "london"), e.open(t, "london"), e.open(t, "wales")
	items := []*pb.AssignItem{
		{ApplicationId: a.id, ExpectedVersion: 1},
		{ApplicationId: b.id, ExpectedVersion: 7},
		{ApplicationId: wales.id, ExpectedVersion: 1},
		{ApplicationId: "nope", ExpectedVersion: 1},
		{ApplicationId: a.id, ExpectedVersion: 1}, // the same record twice: stale by then
	}
	wantCodes := []string{"OK", "ABORTED", "FAILED_PRECONDITION", "INVALID_ARGUMENT", "ABORTED"}
	check := func(t *testing.T, resp *pb.BatchAssignResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 1 || resp.GetFailed() != 4 || resp.GetDryRun() != dryRun || len(resp.GetResults()) != len(items) {
			t.Fatalf("succeeded %d, failed %d, dry run %v, %d results", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun(), len(resp.GetResults()))
		}
		for i, r := range resp.GetResults() {
			if r.GetStatus().GetCode() != wantCodes[i] || r.GetIndex() != int32(i) {
				t.Errorf("items[%d]: %s %s, want %s", i, r.GetStatus().GetCode(), r.GetStatus().GetMessage(), wantCodes[i])
			}
		}
		if f := resp.GetResults()[3].GetStatus().GetField(); f != "items[3].application_id" {
			t.Errorf("items[3] names field %q", f)
		}
		if got := resp.GetResults()[0].GetOffer(); got.GetAssignee() != "spoc-london-2" || got.GetVersion() != 2 {
			t.Errorf("items[0] offer = %v", got)
		}
	}
	before := e.assignSnapshot(t)
	dry, err := c.BatchAssign(t.Context(), &pb.BatchAssignRequest{Items: items, Assignee: "spoc-london-2", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dry, true)
	if after := e.assignSnapshot(t); after.outbox != before.outbox || after.history != before.history || after.requestLog != before.requestLog ||
		!mapsEqual(after.offers, before.offers) {
		t.Errorf("a dry run wrote: %+v, was %+v", after, before)
	}
	req := &pb.BatchAssignRequest{RequestId: reqID(), Items: items, Assignee: "spoc-london-2"}
	real, err := c.BatchAssign(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	check(t, real, false)
	retried, err := c.BatchAssign(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	check(t, retried, false)
	if got := e.get(t, wales.id); got.Assignee != "" {
		t.Errorf("a london SPOC assigned a wales record to %q", got.Assignee)
	}
	rows := testenv.OutboxEvents(t, e.Pool, "")
	if names := testenv.EventNames(rows); !slices.Equal(names, []string{"offer.assigned"}) || rows[0].Event.GetApplicationId() != a.id ||
		rows[0].Event.GetOfferAssigned().GetAssignee() != "spoc-london-2" {
		t.Errorf("outbox after a batch and its retry = %v", names)
	}
	t.Run("an email assignee refuses the whole batch", func(t *testing.T) {
		_, err := c.BatchAssign(t.Context(), &pb.BatchAssignRequest{Items: items[1:2], Assignee: "someone@example.org", DryRun: true})
		testenv.WantStatus(t, err, codes.InvalidArgument, "assignee")
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestListMyCases(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	awaiting := e.open(t, "london")
	accepted := e.open(t, "london")
	other := e.open(t, "london")
	started := e.open(t, "london")
	e.startToday(t, c, started)
	e.clock.Advance(time.Hour)
	made := e.open(t, "london")
	e.clock.Advance(23 * time.Hour)
	newer := e.open(t, "london")
	e.makeOffer(t, c, made) // OFFER still, since it opened
	e.clock.Advance(24 * time.Hour)
	e.accept(t, c, accepted) // PRE_EMPLOYMENT from now
	e.clock.Advance(12 * time.Hour)

	e.assignTo(t, c, awaiting, 1, "spoc-london-2")
	e.assignTo(t, c, accepted, 3, "spoc-london-2")
	e.assignTo(t, c, other, 1, "spoc-london") // someone else's
	e.assignTo(t, c, made, 2, "spoc-london-2")
	e.assignTo(t, c, newer, 1, "spoc-london-2")
	// A started record is closed: it takes no owner, so it is on nobody's list.

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
			got = append(got, m.GetOffer().GetApplicationId())
			days = append(days, m.GetDaysInStage())
			stages = append(stages, m.GetStage())
			if !m.GetStageEnteredAt().AsTime().Equal(m.GetOffer().GetStageEnteredAt().AsTime()) {
				t.Errorf("%s: stage entered %v, the offer says %v", m.GetOffer().GetApplicationId(), m.GetStageEnteredAt(), m.GetOffer().GetStageEnteredAt())
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if want := []string{awaiting.id, made.id, newer.id, accepted.id}; !slices.Equal(got, want) {
		t.Errorf("my cases = %v, want %v (oldest in stage first; not others')", got, want)
	}
	if want := []int32{2, 2, 1, 0}; !slices.Equal(days, want) {
		t.Errorf("days in stage = %v, want %v", days, want)
	}
	offer, pre := commonv1.Stage_STAGE_OFFER, commonv1.Stage_STAGE_PRE_EMPLOYMENT
	if want := []commonv1.Stage{offer, offer, offer, pre}; !slices.Equal(stages, want) {
		t.Errorf("stages = %v, want %v", stages, want)
	}
	// A record that closes leaves the list.
	e.handle(t, newer.applicationWithdrawn(e.clock.Now()))
	resp, err := mine.ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
	if err != nil || len(resp.GetCases()) != 3 {
		t.Errorf("after a withdrawal: %d cases (%v), want 3", len(resp.GetCases()), err)
	}
	t.Run("only the caller's current regions", func(t *testing.T) {
		moved := auth.Claims{Subject: "spoc-london-2", Role: auth.RoleSPOC, Regions: []string{"wales"}}
		resp, err := e.as(t, moved).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
		if err != nil || len(resp.GetCases()) != 0 {
			t.Errorf("a SPOC moved to wales sees %d london records (%v)", len(resp.GetCases()), err)
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
	for _, caller := range []auth.Claims{vettingLondon, dashboard} {
		t.Run(string(caller.Role)+" has no offers work list", func(t *testing.T) {
			_, err := e.as(t, caller).ListMyCases(t.Context(), &pb.ListMyCasesRequest{})
			testenv.WantStatus(t, err, codes.PermissionDenied)
		})
	}
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
		r := e.open(t, "london")
		got := e.get(t, r.id)
		seen[got.Assignee]++
		rows := testenv.OutboxEvents(t, e.Pool, r.id)
		if names := testenv.EventNames(rows); !slices.Equal(names, []string{"offer.assigned"}) {
			t.Fatalf("outbox = %v", names)
		}
		if a := rows[0].Event; a.GetOfferAssigned().GetAssignee() != got.Assignee || a.GetOfferAssigned().GetPreviousAssignee() != "" ||
			a.GetAggregateVersion() != 2 || a.GetActor().GetSubject() != "system:offers" || got.Version != 2 || rows[0].Subject != "london.offer.assigned" {
			t.Errorf("offer.assigned = %s %v (record v%d)", rows[0].Subject, a, got.Version)
		}
		// A redelivered interview.passed changes nothing.
		e.handle(t, r.interviewPassed(start))
		if n := len(testenv.OutboxEvents(t, e.Pool, r.id)); n != 1 {
			t.Errorf("redelivery wrote %d events", n-1)
		}
	}
	if len(seen) != 2 || seen["spoc-london"] == 0 || seen["spoc-london-2"] == 0 {
		t.Errorf("london's 40 records went to %v; want both SPOCs", seen)
	}
	r := e.open(t, "north-east") // no default: unassigned
	if got := e.get(t, r.id); got.Assignee != "" || got.Version != 1 {
		t.Errorf("north-east record: %q v%d", got.Assignee, got.Version)
	}
}
