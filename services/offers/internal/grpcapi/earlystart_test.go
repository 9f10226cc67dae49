package grpcapi_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

var (
	approverLondon = auth.Claims{Subject: "approver-london", Role: auth.RoleApprover, Regions: []string{"london"}}
	approverWales  = auth.Claims{Subject: "approver-wales", Role: auth.RoleApprover, Regions: []string{"wales"}}
)

// approverOf is region's approver in these tests.
func approverOf(region string) auth.Claims {
	return auth.Claims{Subject: "approver-" + region, Role: auth.RoleApprover, Regions: []string{region}}
}

// allowEarlyStarts turns early starts on in region with limit as the cap,
// as an admin (again if a parallel subtest changed it in between).
func (e *env) allowEarlyStarts(t *testing.T, region string, limit int32) *pb.EarlyStartPolicy {
	t.Helper()
	c := e.as(t, admin)
	for {
		got, err := c.GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: region})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.SetEarlyStartPolicy(t.Context(), &pb.SetEarlyStartPolicyRequest{RequestId: reqID(), Region: region,
			Enabled: true, Cap: limit, ExpectedVersion: got.GetPolicy().GetVersion()})
		if status.Code(err) == codes.Aborted {
			continue
		}
		if err != nil {
			t.Fatalf("set %s's early start policy: %v", region, err)
		}
		return resp.GetPolicy()
	}
}

// approve has the record's region's approver approve its early start at
// version v.
func (e *env) approve(t *testing.T, r record, v int64) *pb.Offer {
	t.Helper()
	resp, err := e.as(t, approverOf(r.region)).ApproveEarlyStart(t.Context(),
		&pb.ApproveEarlyStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v})
	if err != nil {
		t.Fatalf("approve the early start of %s: %v", r.id, err)
	}
	return resp.GetOffer()
}

// awaitingApproval opens an offer in region, accepted, with a start today
// before vetting cleared: version 4, waiting for an approval.
func (e *env) awaitingApproval(t *testing.T, region string) record {
	t.Helper()
	c := e.as(t, auth.Claims{Subject: "spoc-" + region, Role: auth.RoleSPOC, Regions: []string{region}})
	r := e.open(t, region)
	e.accept(t, c, r)
	if _, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3, StartDate: today}); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestApproveEarlyStartAccess: only an approver of the offer's region (or
// an admin) approves, and the approval is the caller's subject. A SPOC
// approving the early start it asked for, another region's approver, a
// vetting contact point and a dashboard are refused, and nothing changes.
func TestApproveEarlyStartAccess(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.allowEarlyStarts(t, "london", 5)
	r := e.awaitingApproval(t, "london")
	approve := func(c auth.Claims, id string) (*pb.ApproveEarlyStartResponse, error) {
		return e.as(t, c).ApproveEarlyStart(t.Context(), &pb.ApproveEarlyStartRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 4})
	}

	_, err := approve(spocLondon, r.id)
	testenv.WantStatus(t, err, codes.PermissionDenied, "role")
	for _, c := range []auth.Claims{vettingLondon, dashboard} {
		_, err := approve(c, r.id)
		testenv.WantStatus(t, err, codes.PermissionDenied, "role")
	}
	// Another region's approver: as for a record that does not exist, word
	// for word.
	_, other := approve(approverWales, r.id)
	_, missing := approve(approverWales, event.NewID())
	if status.Code(other) != codes.FailedPrecondition || status.Convert(other).Message() != status.Convert(missing).Message() {
		t.Errorf("wales approver on a london offer: %v; on a missing one: %v; want the same FailedPrecondition", other, missing)
	}
	_, err = approve(approverLondon, "not-a-uuid")
	testenv.WantField(t, err, "application_id")
	if o := e.get(t, r.id); o.Version != 4 || o.ApprovedBy != "" {
		t.Fatalf("refused approvals left the offer at v%d approved by %q; want v4, none", o.Version, o.ApprovedBy)
	}
	// The SPOC cannot start it either without the approval.
	_, err = e.as(t, spocLondon).ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 4})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "no approver has approved")

	resp, err := approve(approverLondon, r.id)
	if err != nil {
		t.Fatal(err)
	}
	if o := resp.GetOffer(); o.GetStartApprovedBy() != "approver-london" || !o.GetStartApprovedAt().AsTime().Equal(start) || o.GetVersion() != 5 {
		t.Errorf("approved offer = %v; want approved by approver-london at %v, v5", o, start)
	}
	_, err = approve(approverLondon, r.id)
	testenv.WantStatus(t, err, codes.Aborted)
	rows := testenv.OutboxEvents(t, e.Pool, r.id)
	last := rows[len(rows)-1]
	if last.Name != "offer.early_start_approved" || last.Event.GetActor().GetSubject() != "approver-london" || last.Subject != "london.offer.early_start_approved" {
		t.Errorf("last event %s %v; want offer.early_start_approved by approver-london", last.Subject, last.Event)
	}

	t.Run("an admin approves in any region", func(t *testing.T) {
		e.allowEarlyStarts(t, "wales", 5)
		w := e.awaitingApproval(t, "wales")
		resp, err := approve(admin, w.id)
		if err != nil || resp.GetOffer().GetStartApprovedBy() != "admin-1" {
			t.Errorf("admin approval: %v, %v", resp.GetOffer(), err)
		}
	})
	t.Run("not while early starts are off", func(t *testing.T) {
		w := e.awaitingApproval(t, "north-east")
		_, err := approve(approverOf("north-east"), w.id)
		testenv.WantStatus(t, err, codes.FailedPrecondition, "early starts are off in region north-east")
	})
	t.Run("an approver reads the offer it approves", func(t *testing.T) {
		got, err := e.as(t, approverLondon).GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
		if err != nil || got.GetOffer().GetVersion() != 5 {
			t.Errorf("approver's GetOffer: %v, %v", got, err)
		}
		_, err = e.as(t, approverWales).GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
		testenv.WantStatus(t, err, codes.NotFound)
	})
}

// TestEarlyStartPolicy: admins alone set a region's policy, with its
// version guarding against lost updates and an event carrying only the
// region's rule; the region's SPOCs, vetting contact points and approvers
// read it with the count the cap limits.
func TestEarlyStartPolicy(t *testing.T) {
	t.Parallel()
	e := setup(t)
	set := func(c auth.Claims, req *pb.SetEarlyStartPolicyRequest) (*pb.SetEarlyStartPolicyResponse, error) {
		if req.RequestId == "" {
			req.RequestId = reqID()
		}
		return e.as(t, c).SetEarlyStartPolicy(t.Context(), req)
	}
	for _, c := range []auth.Claims{spocLondon, approverLondon, vettingLondon, dashboard} {
		_, err := set(c, &pb.SetEarlyStartPolicyRequest{Region: "london", Enabled: true, Cap: 99})
		testenv.WantStatus(t, err, codes.PermissionDenied, "role")
	}
	got, err := e.as(t, spocLondon).GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: "london"})
	if err != nil || got.GetPolicy().GetEnabled() || got.GetPolicy().GetVersion() != 0 || got.GetStartedSubjectToVetting() != 0 {
		t.Fatalf("london before any policy: %v, %v; want off at version 0", got, err)
	}

	_, err = set(admin, &pb.SetEarlyStartPolicyRequest{Region: "atlantis", Enabled: true, Cap: 1})
	testenv.WantField(t, err, "region")
	_, err = set(admin, &pb.SetEarlyStartPolicyRequest{Region: "london", Enabled: true, Cap: -1})
	testenv.WantField(t, err, "cap")
	_, err = set(admin, &pb.SetEarlyStartPolicyRequest{Region: "london", Enabled: true, Cap: 10001})
	testenv.WantField(t, err, "cap")
	_, err = set(admin, &pb.SetEarlyStartPolicyRequest{Region: "london", Enabled: true, Cap: 1, ExpectedVersion: 3})
	testenv.WantStatus(t, err, codes.Aborted)

	req := &pb.SetEarlyStartPolicyRequest{RequestId: reqID(), Region: "london", Enabled: true, Cap: 2}
	first, err := set(admin, req)
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.EarlyStartPolicy{Region: "london", Enabled: true, Cap: 2, Version: 1, UpdatedAt: first.GetPolicy().GetUpdatedAt()}
	if !proto.Equal(first.GetPolicy(), want) || !first.GetPolicy().GetUpdatedAt().AsTime().Equal(start) {
		t.Errorf("policy = %v, want %v at %v", first.GetPolicy(), want, start)
	}
	// A retry is answered, not applied again.
	again, err := set(admin, proto.Clone(req).(*pb.SetEarlyStartPolicyRequest))
	if err != nil || !proto.Equal(again.GetPolicy(), first.GetPolicy()) {
		t.Errorf("retry: %v, %v; want the first answer", again, err)
	}
	var events []testenv.OutboxEvent
	for _, row := range testenv.OutboxEvents(t, e.Pool, "") {
		if row.Name == "offer.early_start_policy_set" {
			events = append(events, row)
		}
	}
	if len(events) != 1 {
		t.Fatalf("policy events = %v, want one", events)
	}
	ev := events[0]
	if ev.Subject != "london.offer.early_start_policy_set" || ev.Event.GetApplicationId() != "" || ev.Event.GetAggregateVersion() != 1 ||
		ev.Event.GetActor().GetSubject() != "admin-1" || !proto.Equal(ev.Event.GetOfferEarlyStartPolicySet(), &eventsv1.EarlyStartPolicySet{Enabled: true, Cap: 2}) {
		t.Errorf("policy event %s %v", ev.Subject, ev.Event)
	}

	for _, c := range []auth.Claims{spocLondon, vettingLondon, approverLondon, admin} {
		got, err := e.as(t, c).GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: "london"})
		if err != nil || !proto.Equal(got.GetPolicy(), first.GetPolicy()) {
			t.Errorf("%s reads london's policy: %v, %v", c.Subject, got, err)
		}
	}
	_, err = e.as(t, spocWales).GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: "london"})
	testenv.WantStatus(t, err, codes.PermissionDenied)
	_, err = e.as(t, dashboard).GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: "london"})
	testenv.WantStatus(t, err, codes.PermissionDenied, "role")
	_, err = e.as(t, spocLondon).GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{})
	testenv.WantField(t, err, "region")
}

// TestEarlyStartCap: a start before vetting clears is refused while the
// region's policy is off or its cap is reached; a candidate whose vetting
// clears (or fails) leaves the count; another region's starts do not count.
func TestEarlyStartCap(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	confirm := func(r record, v int64) (*pb.ConfirmStartResponse, error) {
		return c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v})
	}
	e.allowEarlyStarts(t, "london", 1)
	a, b := e.awaitingApproval(t, "london"), e.awaitingApproval(t, "london")
	e.approve(t, a, 4)
	e.approve(t, b, 4)

	// Off: approved or not, nobody starts before vetting clears.
	pol := e.allowEarlyStarts(t, "london", 1)
	if _, err := e.as(t, admin).SetEarlyStartPolicy(t.Context(), &pb.SetEarlyStartPolicyRequest{RequestId: reqID(), Region: "london",
		Enabled: false, Cap: 1, ExpectedVersion: pol.GetVersion()}); err != nil {
		t.Fatal(err)
	}
	_, err := confirm(a, 5)
	testenv.WantStatus(t, err, codes.FailedPrecondition, "early starts are off in region london")

	e.allowEarlyStarts(t, "london", 1)
	if _, err := confirm(a, 5); err != nil {
		t.Fatalf("first early start under a cap of 1: %v", err)
	}
	_, err = confirm(b, 5)
	testenv.WantStatus(t, err, codes.FailedPrecondition, "region london has 1 candidates started subject to vetting", "cap of 1")
	if o := e.get(t, b.id); o.Version != 5 || o.State != "ACCEPTED" {
		t.Errorf("refused start left %s v%d", o.State, o.Version)
	}
	got, err := c.GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: "london"})
	if err != nil || got.GetStartedSubjectToVetting() != 1 {
		t.Errorf("count = %v, %v; want 1", got, err)
	}

	// Wales's early starts are Wales's.
	e.allowEarlyStarts(t, "wales", 1)
	w := e.awaitingApproval(t, "wales")
	e.approve(t, w, 4)
	if _, err := e.as(t, spocWales).ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: w.id, ExpectedVersion: 5}); err != nil {
		t.Errorf("wales's first early start while london is at its cap: %v", err)
	}

	// a's vetting clears: a leaves the count and b may start.
	e.handle(t, a.vettingCleared(start))
	if _, err := confirm(b, 5); err != nil {
		t.Fatalf("start after the other's vetting cleared: %v", err)
	}
	// b's vetting fails: the offer is withdrawn and leaves the count too.
	e.handle(t, b.vettingFailed(start))
	got, err = c.GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: "london"})
	if err != nil || got.GetStartedSubjectToVetting() != 0 {
		t.Errorf("count after one cleared and one failed = %v, %v; want 0", got, err)
	}
}

// TestEarlyStartCapRace: with the cap one place short, two starts
// confirmed at the same moment by real concurrent calls cannot both pass:
// exactly one starts, the other is refused for the cap. Repeated, since a
// race that is not serialised passes some rounds by luck.
func TestEarlyStartCapRace(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const rounds = 8
	for round := range rounds {
		region := "london"
		limit := int32(2*round + 2)
		e.allowEarlyStarts(t, region, limit)
		// limit-1 started (this round's filler plus earlier rounds' winners
		// and fillers), so one place is left.
		filler := e.awaitingApproval(t, region)
		e.approve(t, filler, 4)
		if _, err := e.as(t, spocLondon).ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: filler.id, ExpectedVersion: 5}); err != nil {
			t.Fatalf("round %d filler: %v", round, err)
		}
		if n := e.count(t, region); n != limit-1 {
			t.Fatalf("round %d: %d started before the race, want %d", round, n, limit-1)
		}
		racers := []record{e.awaitingApproval(t, region), e.awaitingApproval(t, region)}
		for _, r := range racers {
			e.approve(t, r, 4)
		}
		// Each racer has its own connection, so the calls really overlap.
		clients := []pb.OffersServiceClient{e.as(t, spocLondon), e.as(t, spocLondon)}
		var wg sync.WaitGroup
		errs := make([]error, len(racers))
		ready := make(chan struct{})
		for i, r := range racers {
			wg.Go(func() {
				<-ready
				_, errs[i] = clients[i].ConfirmStart(context.Background(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 5})
			})
		}
		close(ready)
		wg.Wait()
		ok, capped := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case status.Code(err) == codes.FailedPrecondition && strings.Contains(status.Convert(err).Message(), "cap of"):
				capped++
			default:
				t.Errorf("round %d: unexpected %v", round, err)
			}
		}
		if ok != 1 || capped != 1 {
			t.Fatalf("round %d: %d started, %d refused for the cap; want exactly one of each (%v)", round, ok, capped, errs)
		}
		if n := e.count(t, region); n != limit {
			t.Fatalf("round %d: %d started after the race, want the cap %d", round, n, limit)
		}
	}
}

// count is the region's candidates started subject to vetting.
func (e *env) count(t *testing.T, region string) int32 {
	t.Helper()
	got, err := e.as(t, admin).GetEarlyStartPolicy(t.Context(), &pb.GetEarlyStartPolicyRequest{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	return got.GetStartedSubjectToVetting()
}
