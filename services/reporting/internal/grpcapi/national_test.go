package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestNationalFunnelAndDurations: without a region the funnel and stage
// durations cover every region the caller may see (an admin's: all), and
// equal the sum of the regions'; stage durations follow campaign and role.
func TestNationalFunnelAndDurations(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := newScripted()
	e.apply(t, s.events...)
	adm, dash := e.as(t, admin), e.as(t, dashLondon)

	funnel := func(c pb.ReportingServiceClient, region string) map[commonv1.Stage]*pb.FunnelStage {
		t.Helper()
		r, err := c.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: region})
		if err != nil {
			t.Fatal(err)
		}
		out := map[commonv1.Stage]*pb.FunnelStage{}
		for _, st := range r.GetStages() {
			out[st.GetStage()] = st
		}
		return out
	}
	london, wales, national := funnel(adm, "london"), funnel(adm, "wales"), funnel(adm, "")
	if london[commonv1.Stage_STAGE_SIFT].GetReached() == 0 || wales[commonv1.Stage_STAGE_SIFT].GetReached() == 0 {
		t.Fatal("a region's funnel is empty: the sums would prove nothing")
	}
	for st, n := range national {
		l, w := london[st], wales[st]
		if n.GetReached() != l.GetReached()+w.GetReached() || n.GetRejected() != l.GetRejected()+w.GetRejected() || n.GetWithdrawn() != l.GetWithdrawn()+w.GetWithdrawn() {
			t.Errorf("national %v = %v, want london %v + wales %v", st, n, l, w)
		}
	}
	for st, n := range funnel(dash, "") {
		if n.GetReached() != london[st].GetReached() {
			t.Errorf("London's dashboard without a region: %v reached %d, want London's %d", st, n.GetReached(), london[st].GetReached())
		}
	}
	_, err := dash.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: "wales"})
	testenv.WantStatus(t, err, codes.PermissionDenied)

	durations := func(c pb.ReportingServiceClient, req *pb.GetStageDurationsRequest) map[commonv1.Stage]*pb.StageDuration {
		t.Helper()
		r, err := c.GetStageDurations(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		out := map[commonv1.Stage]*pb.StageDuration{}
		for _, st := range r.GetStages() {
			out[st.GetStage()] = st
		}
		return out
	}
	dl, dw, dn := durations(adm, &pb.GetStageDurationsRequest{Region: "london"}), durations(adm, &pb.GetStageDurationsRequest{Region: "wales"}), durations(adm, &pb.GetStageDurationsRequest{})
	for st, n := range dn {
		if n.GetDays().GetCount() != dl[st].GetDays().GetCount()+dw[st].GetDays().GetCount() || n.GetCurrent() != dl[st].GetCurrent()+dw[st].GetCurrent() {
			t.Errorf("national %v durations = %v, want london %v + wales %v", st, n, dl[st], dw[st])
		}
	}
	// Campaign c2 is London's only PSO campaign: the role filter and the
	// campaign filter give the same durations; c1 (PO) with the PSO role
	// gives none.
	pso := durations(dash, &pb.GetStageDurationsRequest{Role: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER})
	c2 := durations(dash, &pb.GetStageDurationsRequest{CampaignId: s.c2.id})
	none := durations(dash, &pb.GetStageDurationsRequest{CampaignId: s.c1.id, Role: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER})
	total := 0
	for st, p := range pso {
		total += int(p.GetDays().GetCount())
		if p.GetDays().GetCount() != c2[st].GetDays().GetCount() || p.GetDays().GetMedian() != c2[st].GetDays().GetMedian() {
			t.Errorf("%v: PSO role %v, campaign c2 %v; want the same", st, p.GetDays(), c2[st].GetDays())
		}
		if n := none[st].GetDays().GetCount(); n != 0 {
			t.Errorf("%v: c1 with the PSO role counts %d", st, n)
		}
		if p.GetDays().GetCount() > dl[st].GetDays().GetCount() {
			t.Errorf("%v: PSO role counts %d of London's %d", st, p.GetDays().GetCount(), dl[st].GetDays().GetCount())
		}
	}
	if total == 0 {
		t.Error("the PSO durations are empty: the comparison proves nothing")
	}
	_, err = dash.GetStageDurations(t.Context(), &pb.GetStageDurationsRequest{CampaignId: "nope"})
	testenv.WantField(t, err, "campaign_id")
	_, err = dash.GetStageDurations(t.Context(), &pb.GetStageDurationsRequest{Role: 99})
	testenv.WantField(t, err, "role")
}

// TestVettingDurations: the steps of vetting and the blocks by reason, over
// the scripted cases and one more whose forms arrive, per region, campaign
// and role.
func TestVettingDurations(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := newScripted()
	// lv: opened 1/5, forms 3/5, blocked for overseas checks 4/5 to 10/5,
	// cleared 12/5.
	lv := newApp(s.c1).submitted(at(time.March, 11, 10)).siftPassed(at(time.March, 20, 10)).
		interviewPassed(at(time.April, 2, 10)).offerMade(at(time.April, 20, 10)).offerAccepted(at(time.May, 1, 9)).
		vettingOpened(at(time.May, 1, 10))
	lv.add("vetting", at(time.May, 3, 10), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	})
	lv.vettingBlocked(at(time.May, 4, 10), commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS).vettingUnblocked(at(time.May, 10, 10)).
		vettingCleared(at(time.May, 12, 10))
	e.apply(t, append(s.events, lv.evs...)...)

	get := func(c pb.ReportingServiceClient, req *pb.GetVettingDurationsRequest) (map[pb.VettingStep]*pb.Statistics, map[commonv1.BlockReason]*pb.Statistics) {
		t.Helper()
		r, err := c.GetVettingDurations(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		steps, blocked := map[pb.VettingStep]*pb.Statistics{}, map[commonv1.BlockReason]*pb.Statistics{}
		for _, st := range r.GetSteps() {
			steps[st.GetStep()] = st.GetDays()
		}
		for _, b := range r.GetBlocked() {
			blocked[b.GetReason()] = b.GetDays()
		}
		if len(steps) != 3 || len(blocked) != 6 {
			t.Errorf("%d steps and %d block reasons, want 3 and 6", len(steps), len(blocked))
		}
		return steps, blocked
	}
	const (
		toForms   = pb.VettingStep_VETTING_STEP_OPENED_TO_FORMS_RECEIVED
		toCleared = pb.VettingStep_VETTING_STEP_FORMS_RECEIVED_TO_CLEARED
		whole     = pb.VettingStep_VETTING_STEP_OPENED_TO_CLEARED
		missing   = commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS
		overseas  = commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS
		referee   = commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE
	)
	check := func(what string, got *pb.Statistics, count int32, median float64) {
		t.Helper()
		if got.GetCount() != count || (count > 0 && got.GetMedian() != median) {
			t.Errorf("%s: %v, want count %d median %v", what, got, count, median)
		}
	}

	// Admin, national: l1 (21 days), l9 (21), w1 (21) and lv (11) cleared;
	// l3's missing documents block lasted 4 days (its referee block is
	// still open); lv's overseas block 6.
	steps, blocked := get(e.as(t, admin), &pb.GetVettingDurationsRequest{})
	check("national opened to cleared", steps[whole], 4, 21)
	check("national opened to forms", steps[toForms], 1, 2)
	check("national forms to cleared", steps[toCleared], 1, 9)
	check("national missing documents", blocked[missing], 1, 4)
	check("national overseas", blocked[overseas], 1, 6)
	check("national referee (still blocked)", blocked[referee], 0, 0)

	dash := e.as(t, dashLondon)
	steps, _ = get(dash, &pb.GetVettingDurationsRequest{})
	check("London's dashboard, no region", steps[whole], 3, 21)
	steps, _ = get(e.as(t, admin), &pb.GetVettingDurationsRequest{Region: "wales"})
	check("wales", steps[whole], 1, 21)
	steps, blocked = get(dash, &pb.GetVettingDurationsRequest{CampaignId: s.c1.id})
	check("campaign c1", steps[whole], 2, 16)
	check("campaign c1 missing documents", blocked[missing], 1, 4)
	steps, blocked = get(dash, &pb.GetVettingDurationsRequest{Role: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER})
	check("PSO role", steps[whole], 1, 21)
	check("PSO role overseas", blocked[overseas], 0, 0)
	// A window on the day the step ended: only lv cleared after 10 May.
	steps, _ = get(dash, &pb.GetVettingDurationsRequest{From: ts(at(time.May, 11, 0))})
	check("from 11 May", steps[whole], 2, 16)

	_, err := dash.GetVettingDurations(t.Context(), &pb.GetVettingDurationsRequest{Region: "wales"})
	testenv.WantStatus(t, err, codes.PermissionDenied)
	_, err = e.dial(t, "").GetVettingDurations(t.Context(), &pb.GetVettingDurationsRequest{})
	testenv.WantStatus(t, err, codes.Unauthenticated)
}
