package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func (a *app) interviewScheduled(at, when time.Time) *app {
	return a.add("sifting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(when)}}
	})
}

func (a *app) vettingFormsReceived(at time.Time) *app {
	return a.add("vetting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	})
}

// TestStuckRulesMatchTheWork: through the stored projection, a booked
// interview's clock runs from the interview and a PRE_EMPLOYMENT case
// whose vetting forms are in is the vetting contact point's.
func TestStuckRulesMatchTheWork(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := newCampaign("london", po)
	closes := day(time.March, 31)
	// At 1/6 12:00 (INTERVIEW 14/21, PRE_EMPLOYMENT 28/42):
	//   next    in INTERVIEW since 1/5, interview booked for 8/6: not stuck
	//           (by stage entry it would be a breach, 31 days in);
	//   late    in INTERVIEW since 1/4, interviewed 15/5 10:00, no outcome:
	//           a warning, 17 days since the interview, 3 over;
	//   rebook  booked for 10/5, rebooked for 20/5: 12 days, not stuck;
	//   forms   in PRE_EMPLOYMENT since 20/4 10:00, forms in 25/4: a breach,
	//           the vetting contact point's;
	//   noforms in PRE_EMPLOYMENT since 20/4 10:00, no forms: a breach, the SPOC's.
	next := newApp(c).submitted(at(time.April, 1, 9)).siftPassed(at(time.May, 1, 9)).interviewScheduled(at(time.May, 2, 9), at(time.June, 8, 10))
	late := newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.April, 1, 9)).interviewScheduled(at(time.April, 2, 9), at(time.May, 15, 10))
	rebook := newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.April, 1, 9)).
		interviewScheduled(at(time.April, 2, 9), at(time.May, 10, 10)).interviewScheduled(at(time.May, 9, 9), at(time.May, 20, 10))
	pre := func() *app {
		return newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.March, 10, 9)).interviewPassed(at(time.April, 1, 9)).
			offerMade(at(time.April, 2, 9)).offerAccepted(at(time.April, 20, 10)).vettingOpened(at(time.April, 20, 11))
	}
	forms := pre().vettingFormsReceived(at(time.April, 25, 10))
	noforms := pre()
	evs := []*eventsv1.Event{c.created(at(time.March, 1, 8), day(time.March, 1), &closes)}
	for _, a := range []*app{next, late, rebook, forms, noforms} {
		evs = append(evs, a.evs...)
	}
	e.apply(t, evs...)

	resp, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(at(time.June, 1, 12))})
	if err != nil {
		t.Fatal(err)
	}
	// Two breaches 42 days in, 0 over, with the same since: by application
	// id (a UUID's text orders as its bytes); then the warning.
	formsRow := candidate(forms, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.April, 20, 10), 42, 0, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_VETTING)
	noformsRow := candidate(noforms, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.April, 20, 10), 42, 0, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_SPOC)
	if forms.id > noforms.id {
		formsRow, noformsRow = noformsRow, formsRow
	}
	wantCandidates(t, resp.GetCandidates(), []*pb.StuckCandidate{formsRow, noformsRow,
		candidate(late, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_INTERVIEW, at(time.May, 15, 10), 17, 3, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC)})
}
