package grpcapi_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

const (
	refs = commonv1.OfferCondition_OFFER_CONDITION_REFERENCES
	rtw  = commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK
)

// offerMadeWithChecks is offer.made naming the offer's checks.
func (a *app) offerMadeWithChecks(at time.Time, checks ...commonv1.OfferCondition) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "band_4", Checks: checks}}
	})
}

func (a *app) checkRecorded(at time.Time, c commonv1.OfferCondition, s commonv1.CheckStatus) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferCheckRecorded{OfferCheckRecorded: &eventsv1.OfferCheckRecorded{Check: c, Status: s}}
	})
}

func (a *app) offerWithdrawn(at time.Time, reason string) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: reason}}
	})
}

// TestChecksReports: reporting folds offer.made's checks and
// offer.check_recorded in any order; lists a region's outstanding checks
// (only to the region's readers); measures offer made -> check met; and
// puts a check outstanding past its thresholds in the stuck list.
func TestChecksReports(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london, wales := newCampaign("london", po), newCampaign("wales", po)
	closes := day(time.April, 30)
	// a: offer 1/5, references met 6/5, right to work outstanding.
	a := newApp(london).submitted(at(time.April, 1, 9)).siftPassed(at(time.April, 5, 9)).interviewPassed(at(time.April, 20, 9)).
		offerMadeWithChecks(at(time.May, 1, 10), refs, rtw).checkRecorded(at(time.May, 6, 10), refs, commonv1.CheckStatus_CHECK_STATUS_MET)
	// b: offer 10/5, right to work met 12/5 (applied before the offer below).
	b := newApp(london).submitted(at(time.April, 1, 9)).siftPassed(at(time.April, 5, 9)).interviewPassed(at(time.April, 20, 9)).
		offerMadeWithChecks(at(time.May, 10, 10), rtw).checkRecorded(at(time.May, 12, 10), rtw, commonv1.CheckStatus_CHECK_STATUS_MET)
	// c: offer 20/5, right to work failed, so withdrawn: nothing outstanding.
	c := newApp(london).submitted(at(time.April, 1, 9)).siftPassed(at(time.April, 5, 9)).interviewPassed(at(time.April, 20, 9)).
		offerMadeWithChecks(at(time.May, 20, 10), rtw).checkRecorded(at(time.May, 21, 10), rtw, commonv1.CheckStatus_CHECK_STATUS_FAILED).
		offerWithdrawn(at(time.May, 21, 10), "check_failed:right_to_work")
	w := newApp(wales).submitted(at(time.April, 1, 9)).siftPassed(at(time.April, 5, 9)).interviewPassed(at(time.April, 20, 9)).
		offerMadeWithChecks(at(time.May, 1, 10), rtw)
	e.apply(t, london.created(at(time.April, 1, 8), day(time.April, 1), &closes), wales.created(at(time.April, 1, 8), day(time.April, 1), &closes))
	bEvs := slices.Clone(b.evs)
	slices.Reverse(bEvs) // the check recorded before the offer made: the same record
	e.apply(t, bEvs...)
	e.apply(t, a.evs...)
	e.apply(t, c.evs...)
	e.apply(t, w.evs...)

	dash := e.as(t, dashLondon)
	list, err := dash.ListOutstandingChecks(t.Context(), &pb.ListOutstandingChecksRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	if got := list.GetApplications(); len(got) != 1 || got[0].GetApplicationId() != a.id || !slices.Equal(got[0].GetChecks(), []commonv1.OfferCondition{rtw}) ||
		got[0].GetDaysOutstanding() != 31 || got[0].GetStage() != commonv1.Stage_STAGE_OFFER || !got[0].GetOfferMadeAt().AsTime().Equal(at(time.May, 1, 10)) {
		t.Errorf("outstanding in london = %v; want a alone, right to work, 31 days, in OFFER", got)
	}
	for check, want := range map[commonv1.OfferCondition]int{refs: 0, rtw: 1} {
		l, err := dash.ListOutstandingChecks(t.Context(), &pb.ListOutstandingChecksRequest{Region: "london", Check: check})
		if err != nil || len(l.GetApplications()) != want {
			t.Errorf("outstanding %s = %v, %v; want %d", check, l.GetApplications(), err, want)
		}
	}
	t.Run("paged", func(t *testing.T) {
		l, err := e.as(t, admin).ListOutstandingChecks(t.Context(), &pb.ListOutstandingChecksRequest{Region: "wales", PageSize: 1})
		if err != nil || len(l.GetApplications()) != 1 || l.GetApplications()[0].GetApplicationId() != w.id || l.GetNextPageToken() != "" {
			t.Errorf("wales as admin = %v, %v; want w alone, one page", l, err)
		}
	})
	t.Run("another region is refused", func(t *testing.T) {
		_, err := dash.ListOutstandingChecks(t.Context(), &pb.ListOutstandingChecksRequest{Region: "wales"})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		_, err = dash.ListOutstandingChecks(t.Context(), &pb.ListOutstandingChecksRequest{})
		testenv.WantField(t, err, "region")
		_, err = dash.ListOutstandingChecks(t.Context(), &pb.ListOutstandingChecksRequest{Region: "london", Check: commonv1.OfferCondition_OFFER_CONDITION_VETTING})
		testenv.WantField(t, err, "check")
	})

	t.Run("time per check", func(t *testing.T) {
		d, err := dash.GetStageDurations(t.Context(), &pb.GetStageDurationsRequest{Region: "london"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[commonv1.OfferCondition][2]float64{}
		for _, c := range d.GetChecks() {
			got[c.GetCheck()] = [2]float64{float64(c.GetDays().GetCount()), c.GetDays().GetMedian()}
		}
		want := map[commonv1.OfferCondition][2]float64{refs: {1, 5}, rtw: {1, 2}}
		if len(got) != len(want) || got[refs] != want[refs] || got[rtw] != want[rtw] {
			t.Errorf("check durations (count, median) = %v, want %v", got, want)
		}
	})

	t.Run("stuck rule", func(t *testing.T) {
		stuck, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", Kind: pb.StuckKind_STUCK_KIND_CHECK_OUTSTANDING})
		if err != nil {
			t.Fatal(err)
		}
		// a: 31 days from the offer, past the default 28-day breach.
		if got := stuck.GetCandidates(); len(got) != 1 || got[0].GetApplicationId() != a.id || got[0].GetSeverity() != pb.Severity_SEVERITY_BREACH ||
			got[0].GetNextActor() != pb.NextActor_NEXT_ACTOR_SPOC || !got[0].GetSince().AsTime().Equal(at(time.May, 1, 10)) {
			t.Errorf("check-outstanding stuck list = %v; want a, a breach since the offer, the SPOC's", got)
		}
		// As of 20/5: 19 days, a warning (14).
		early, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", Kind: pb.StuckKind_STUCK_KIND_CHECK_OUTSTANDING,
			AsOf: ts(at(time.May, 20, 12))})
		if err != nil || len(early.GetCandidates()) != 1 || early.GetCandidates()[0].GetSeverity() != pb.Severity_SEVERITY_WARNING {
			t.Errorf("as of 20/5 = %v, %v; want a as a warning", early.GetCandidates(), err)
		}
		// The crossings are stuck.* events of the rule.
		var rules []string
		for _, row := range testenv.OutboxEvents(t, e.pool, a.id) {
			if p := row.Event.GetStuckBreach(); p != nil && p.GetRule() == eventsv1.StuckRule_STUCK_RULE_CHECK_OUTSTANDING {
				rules = append(rules, row.Name)
			}
		}
		if len(rules) != 1 {
			t.Errorf("stuck.breach events of the check rule for a: %v, want one", rules)
		}
		// Met: the clock stops and a leaves the list.
		a.checkRecorded(at(time.May, 31, 10), rtw, commonv1.CheckStatus_CHECK_STATUS_MET)
		e.apply(t, a.evs[len(a.evs)-1])
		after, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", Kind: pb.StuckKind_STUCK_KIND_CHECK_OUTSTANDING})
		if err != nil || len(after.GetCandidates()) != 0 {
			t.Errorf("after right to work met: %v, %v; want none", after.GetCandidates(), err)
		}
		l, err := dash.ListOutstandingChecks(t.Context(), &pb.ListOutstandingChecksRequest{Region: "london"})
		if err != nil || len(l.GetApplications()) != 0 {
			t.Errorf("outstanding after right to work met: %v, %v; want none", l.GetApplications(), err)
		}
	})
}
