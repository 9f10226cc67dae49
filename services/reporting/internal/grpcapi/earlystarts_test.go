package grpcapi_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// policySet is offers' offer.early_start_policy_set for region at version v.
func policySet(region string, v int64, enabled bool, limit int32) *eventsv1.Event {
	ev := event.New("offers", &commonv1.Actor{Subject: "admin-1", Role: commonv1.CallerRole_CALLER_ROLE_ADMIN}, serverNow.Add(-time.Hour),
		event.Record{Region: region, Version: v})
	ev.Payload = &eventsv1.Event_OfferEarlyStartPolicySet{OfferEarlyStartPolicySet: &eventsv1.EarlyStartPolicySet{Enabled: enabled, Cap: limit}}
	return ev
}

// earlyStart is an application started subject to vetting on start, due
// by due, approved on the way (offer.early_start_approved, which the
// projection passes over).
func earlyStart(c *campaign, start, due time.Time) *app {
	a := newApp(c).submitted(start.AddDate(0, -2, 0)).siftPassed(start.AddDate(0, -2, 1)).interviewPassed(start.AddDate(0, -1, 0)).
		offerMade(start.AddDate(0, -1, 1)).offerAccepted(start.AddDate(0, -1, 2)).vettingOpened(start.AddDate(0, -1, 2)).
		startDateSet(start.AddDate(0, 0, -7), start, true, due)
	a.add("offers", start.AddDate(0, 0, -6), func(ev *eventsv1.Event) {
		ev.Actor = &commonv1.Actor{Subject: "approver-" + c.region, Role: commonv1.CallerRole_CALLER_ROLE_APPROVER}
		ev.Payload = &eventsv1.Event_OfferEarlyStartApproved{OfferEarlyStartApproved: &eventsv1.OfferEarlyStartApproved{
			StartDate: event.Date(start), VettingDueBy: event.Date(due)}}
	})
	return a.started(start.Add(9*time.Hour), start, true, due)
}

// TestEarlyStarts: a region's candidates started subject to vetting are
// counted against its policy as offers last published it; one past its
// due date is counted overdue and is in the stuck list under its own rule;
// cleared, withdrawn, ordinary starts and other regions' are not counted.
func TestEarlyStarts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london, wales := newCampaign("london", po), newCampaign("wales", po)
	closes := day(3, 31)
	var evs []*eventsv1.Event
	evs = append(evs, london.created(at(3, 1, 9), day(3, 1), &closes), wales.created(at(3, 1, 9), day(3, 1), &closes))
	onTime := earlyStart(london, day(5, 18), day(7, 13)) // due after serverNow (1 June)
	overdue := earlyStart(london, day(4, 6), day(5, 29)) // due 29 May: overdue on 1 June
	cleared := earlyStart(london, day(4, 6), day(5, 29)).vettingCleared(at(5, 20, 10))
	withdrawn := earlyStart(london, day(4, 6), day(5, 29))
	withdrawn.add("offers", at(5, 21, 10), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}}
	})
	ordinary := newApp(london).submitted(at(3, 10, 10)).siftPassed(at(3, 20, 10)).interviewPassed(at(4, 1, 10)).offerMade(at(4, 8, 10)).
		offerAccepted(at(4, 10, 10)).vettingOpened(at(4, 10, 10)).vettingCleared(at(5, 1, 10)).startDateSet(at(5, 2, 10), day(5, 11), false, time.Time{}).
		started(at(5, 11, 10), day(5, 11), false, time.Time{})
	welsh := earlyStart(wales, day(4, 6), day(5, 29))
	for _, a := range []*app{onTime, overdue, cleared, withdrawn, ordinary, welsh} {
		evs = append(evs, a.evs...)
	}
	// The policy: version 2 wins over a version 1 that arrives after it.
	evs = append(evs, policySet("london", 2, true, 5), policySet("london", 1, true, 3), policySet("wales", 1, false, 0))
	e.apply(t, evs...)

	want := map[string]*pb.GetEarlyStartsResponse{
		"london": {Region: "london", Enabled: true, Cap: 5, StartedSubjectToVetting: 2, Overdue: 1},
		"wales":  {Region: "wales", Enabled: false, Cap: 0, StartedSubjectToVetting: 1, Overdue: 1},
		// Never set: off.
		"north-east": {Region: "north-east"},
	}
	for region, w := range want {
		got, err := e.as(t, admin).GetEarlyStarts(t.Context(), &pb.GetEarlyStartsRequest{Region: region})
		if err != nil {
			t.Fatal(err)
		}
		if !got.GetAsOf().AsTime().Equal(serverNow) {
			t.Errorf("%s as of %v, want %v", region, got.GetAsOf().AsTime(), serverNow)
		}
		w.AsOf = got.GetAsOf()
		wantProto(t, region, got, w)
	}

	// The overdue one is in the stuck list under its own rule; the one not
	// yet due is not.
	stuck, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{
		Region: "london", Kind: pb.StuckKind_STUCK_KIND_VETTING_OVERDUE, PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range stuck.GetCandidates() {
		ids = append(ids, c.GetApplicationId())
	}
	if !slices.Equal(ids, []string{overdue.id}) {
		t.Errorf("vetting-overdue stuck list = %v, want only %s", ids, overdue.id)
	}

	// Readers of the region (and its approvers) only.
	for _, c := range []auth.Claims{dashLondon, spocLondon, vettingLondon, {Subject: "approver-london", Role: auth.RoleApprover, Regions: []string{"london"}}} {
		if _, err := e.as(t, c).GetEarlyStarts(t.Context(), &pb.GetEarlyStartsRequest{Region: "london"}); err != nil {
			t.Errorf("%s: %v", c.Subject, err)
		}
	}
	_, err = e.as(t, dashLondon).GetEarlyStarts(t.Context(), &pb.GetEarlyStartsRequest{Region: "wales"})
	testenv.WantStatus(t, err, codes.PermissionDenied)
	_, err = e.as(t, auth.Claims{Subject: "notifier-1", Role: auth.RoleNotifier}).GetEarlyStarts(t.Context(), &pb.GetEarlyStartsRequest{Region: "london"})
	testenv.WantStatus(t, err, codes.PermissionDenied, "role")
	_, err = e.as(t, dashLondon).GetEarlyStarts(t.Context(), &pb.GetEarlyStartsRequest{})
	testenv.WantField(t, err, "region")
}
