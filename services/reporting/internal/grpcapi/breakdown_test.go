package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func (a *app) from(at time.Time, source string) *app {
	return a.add("applications", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{Source: source}}
	})
}

func (a *app) withdrew(at time.Time, stage commonv1.Stage, reason string) *app {
	return a.add("applications", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: reason, Stage: stage}}
	})
}

func (a *app) declined(at time.Time, reason string) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: reason}}
	})
}

// TestReasonBreakdown: the applications of a region broken down by source
// (funnel, conversion, time to hire) and by why they left (kind, reason
// read against its list, stage, days); historical free-form codes read as
// other:<code>; a source's funnel and time to hire answer the same through
// GetFunnel and GetTimeToHire, and the sources add up to the whole.
func TestReasonBreakdown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	closes := at(time.March, 31, 0)
	c := newCampaign("london", commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
	w := newCampaign("wales", commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
	e.apply(t, c.created(at(time.January, 1, 9), at(time.January, 1, 0), &closes),
		w.created(at(time.January, 1, 9), at(time.January, 1, 0), &closes))
	// a1 jobs_site: hired; offer 10 April, 10 days after the close.
	a1 := newApp(c).from(at(time.March, 2, 10), "jobs_site").siftPassed(at(time.March, 10, 10)).interviewPassed(at(time.April, 1, 10)).
		offerMade(at(time.April, 10, 10)).offerAccepted(at(time.April, 12, 10)).
		started(at(time.May, 1, 10), at(time.May, 1, 0), false, time.Time{})
	// a2 jobs_site: failed the sift after 7 days, for a reason of the list.
	a2 := newApp(c).from(at(time.March, 3, 10), "jobs_site")
	a2.add("sifting", at(time.March, 10, 10), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "criteria_not_met"}}
	})
	// a3 referral: withdrew at the sift after 4 days, with a code from
	// before the lists.
	a3 := newApp(c).from(at(time.March, 4, 10), "referral").withdrew(at(time.March, 8, 10), commonv1.Stage_STAGE_SIFT, "moved")
	// a4 no source: failed the interview after 15 days ("below_bar": from
	// before the lists).
	a4 := newApp(c).submitted(at(time.March, 5, 10)).siftPassed(at(time.March, 10, 10)).interviewFailed(at(time.March, 20, 10))
	// a5 referral: declined the offer (15 days after the close) for salary,
	// 45 days after applying.
	a5 := newApp(c).from(at(time.March, 6, 10), "referral").siftPassed(at(time.March, 10, 10)).interviewPassed(at(time.April, 1, 10)).
		offerMade(at(time.April, 15, 10)).declined(at(time.April, 20, 10), "salary")
	// In Wales: never in a London caller's answers.
	x := newApp(w).from(at(time.March, 2, 10), "jobs_site").withdrew(at(time.March, 3, 10), commonv1.Stage_STAGE_SIFT, "salary")
	for _, a := range []*app{a1, a2, a3, a4, a5, x} {
		e.apply(t, a.evs...)
	}
	dash := e.as(t, dashLondon)

	resp, err := dash.GetReasonBreakdown(t.Context(), &pb.GetReasonBreakdownRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetApplications() != 5 {
		t.Errorf("applications = %d, want 5", resp.GetApplications())
	}
	wantReasons := []*pb.ReasonCount{
		{Kind: pb.ExitKind_EXIT_KIND_SIFT_FAILED, ReasonCode: "criteria_not_met", Stage: commonv1.Stage_STAGE_SIFT, Count: 1, DaysToExit: stats(1, 7, 7, 7)},
		{Kind: pb.ExitKind_EXIT_KIND_INTERVIEW_FAILED, ReasonCode: "other:below_bar", Stage: commonv1.Stage_STAGE_INTERVIEW, Count: 1, DaysToExit: stats(1, 15, 15, 15)},
		{Kind: pb.ExitKind_EXIT_KIND_WITHDRAWN, ReasonCode: "other:moved", Stage: commonv1.Stage_STAGE_SIFT, Count: 1, DaysToExit: stats(1, 4, 4, 4)},
		{Kind: pb.ExitKind_EXIT_KIND_OFFER_DECLINED, ReasonCode: "salary", Stage: commonv1.Stage_STAGE_OFFER, Count: 1, DaysToExit: stats(1, 45, 45, 45)},
	}
	if len(resp.GetReasons()) != len(wantReasons) {
		t.Fatalf("reasons = %v, want %v", resp.GetReasons(), wantReasons)
	}
	for i, want := range wantReasons {
		if !proto.Equal(resp.GetReasons()[i], want) {
			t.Errorf("reasons[%d] = %v, want %v", i, resp.GetReasons()[i], want)
		}
	}

	type sourceWant struct {
		source                                    string
		sift, interview, offer, accepted, started int32
		tthCount                                  int32
		tthMedian                                 float64
	}
	wantSources := []sourceWant{
		{"jobs_site", 2, 1, 1, 1, 1, 1, 10},
		{"referral", 2, 1, 1, 0, 0, 1, 15},
		{"unknown", 1, 1, 0, 0, 0, 0, 0},
	}
	if len(resp.GetSources()) != len(wantSources) {
		t.Fatalf("sources = %v, want %d", resp.GetSources(), len(wantSources))
	}
	whole, err := dash.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	sum := map[commonv1.Stage][3]int32{}
	for i, want := range wantSources {
		got := resp.GetSources()[i]
		reached := map[commonv1.Stage]int32{}
		for _, st := range got.GetStages() {
			reached[st.GetStage()] = st.GetReached()
			s := sum[st.GetStage()]
			sum[st.GetStage()] = [3]int32{s[0] + st.GetReached(), s[1] + st.GetRejected(), s[2] + st.GetWithdrawn()}
		}
		if got.GetSource() != want.source || reached[commonv1.Stage_STAGE_SIFT] != want.sift || reached[commonv1.Stage_STAGE_INTERVIEW] != want.interview ||
			reached[commonv1.Stage_STAGE_OFFER] != want.offer || reached[commonv1.Stage_STAGE_PRE_EMPLOYMENT] != want.accepted ||
			reached[commonv1.Stage_STAGE_HIRED] != want.started {
			t.Errorf("sources[%d] = %s %v, want %+v", i, got.GetSource(), reached, want)
		}
		if tth := got.GetTimeToHire().GetCalendarDays(); tth.GetCount() != want.tthCount || tth.GetMedian() != want.tthMedian {
			t.Errorf("sources[%d] (%s) time to hire = %v, want count %d median %v", i, got.GetSource(), tth, want.tthCount, want.tthMedian)
		}
		// The same source through GetFunnel and GetTimeToHire.
		f, err := dash.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: "london", Source: want.source})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&pb.GetFunnelResponse{Stages: got.GetStages()}, f) {
			t.Errorf("GetFunnel source %s = %v, want the breakdown's %v", want.source, f, got.GetStages())
		}
		tth, err := dash.GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{Region: "london", Source: want.source})
		if err != nil {
			t.Fatal(err)
		}
		if m := tth.GetMeasures()[0]; m.GetMeasure() != pb.Measure_MEASURE_TIME_TO_HIRE || !proto.Equal(m.GetCalendarDays(), got.GetTimeToHire().GetCalendarDays()) {
			t.Errorf("GetTimeToHire source %s = %v, want %v", want.source, m, got.GetTimeToHire())
		}
	}
	// The sources add up to the funnel of the whole region (the counters).
	for _, st := range whole.GetStages() {
		if s := sum[st.GetStage()]; s != [3]int32{st.GetReached(), st.GetRejected(), st.GetWithdrawn()} {
			t.Errorf("stage %v: the sources add up to %v, the funnel says %v", st.GetStage(), s, st)
		}
	}

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		// A source, and a window on submission (2-4 March: a1, a2, a3).
		resp, err := dash.GetReasonBreakdown(t.Context(), &pb.GetReasonBreakdownRequest{Region: "london", Source: "referral"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetApplications() != 2 || len(resp.GetSources()) != 1 || len(resp.GetReasons()) != 2 {
			t.Errorf("referral only: %v; want 2 applications, one source, two reasons", resp)
		}
		resp, err = dash.GetReasonBreakdown(t.Context(), &pb.GetReasonBreakdownRequest{Region: "london",
			From: ts(at(time.March, 2, 0)), To: ts(at(time.March, 4, 12))})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetApplications() != 3 {
			t.Errorf("submitted 2-4 March: %d applications, want 3", resp.GetApplications())
		}
		unknown, err := dash.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: "london", Source: "unknown"})
		if err != nil {
			t.Fatal(err)
		}
		if unknown.GetStages()[0].GetReached() != 1 {
			t.Errorf("source unknown: %v, want the one application with no source", unknown)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		t.Parallel()
		_, err := dash.GetReasonBreakdown(t.Context(), &pb.GetReasonBreakdownRequest{Region: "london", Source: "newspaper"})
		testenv.WantField(t, err, "source")
		_, err = dash.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: "london", Source: "newspaper"})
		testenv.WantField(t, err, "source")
		_, err = dash.GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{Region: "london", Source: "Jobs Site"})
		testenv.WantField(t, err, "source")
		// Another region's breakdown is refused, as for every report.
		_, err = dash.GetReasonBreakdown(t.Context(), &pb.GetReasonBreakdownRequest{Region: "wales"})
		testenv.WantStatus(t, err, codes.PermissionDenied)
	})
}
