package e2e

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// candidate is one application driven through the stack by its users.
type candidate struct {
	t                   *testing.T
	st                  *stack
	admin, spoc, vetter grpc.CallOption
	apps                applicationsv1.ApplicationsServiceClient
	sift                siftingv1.SiftingServiceClient
	offers              offersv1.OffersServiceClient
	vetting             vettingv1.VettingServiceClient
	id, campaignID      string
	seq                 int64
	n                   int
}

// newCandidate is a London candidate; see newCandidateIn.
func newCandidate(t *testing.T, st *stack, role commonv1.JobRole) *candidate {
	t.Helper()
	return newCandidateIn(t, st, role, "london")
}

// newCandidateIn opens a campaign in region (as an admin) and submits an
// application to it (as the region's SPOC); the candidate's SPOC and
// vetting contact point are the region's.
func newCandidateIn(t *testing.T, st *stack, role commonv1.JobRole, region string) *candidate {
	t.Helper()
	c := &candidate{
		t: t, st: st, seq: candidates.Add(1),
		admin:   token(t, "admin-1", auth.RoleAdmin),
		spoc:    token(t, "spoc-"+region+"-1", auth.RoleSPOC, region),
		vetter:  token(t, "vetting-"+region+"-1", auth.RoleVetting, region),
		apps:    applicationsv1.NewApplicationsServiceClient(st.conns["applications"]),
		sift:    siftingv1.NewSiftingServiceClient(st.conns["sifting"]),
		offers:  offersv1.NewOffersServiceClient(st.conns["offers"]),
		vetting: vettingv1.NewVettingServiceClient(st.conns["vetting"]),
	}
	ctx := context.Background()
	camp, err := c.apps.CreateCampaign(ctx, &applicationsv1.CreateCampaignRequest{
		RequestId: c.req(), Region: region, Role: role, Title: "Campaign", Posts: 5,
		OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 1},
	}, c.admin)
	c.must(err)
	c.campaignID = camp.GetCampaign().GetId()
	app, err := c.apps.SubmitApplication(ctx, &applicationsv1.SubmitApplicationRequest{
		RequestId: c.req(), CampaignId: c.campaignID,
		Candidate: &applicationsv1.Candidate{Name: "Ada Lovelace", Email: "ada@example.org"},
	}, c.spoc)
	c.must(err)
	c.id = app.GetApplication().GetId()
	return c
}

func (c *candidate) req() string {
	c.n++
	return fmt.Sprintf("%s-%d-%d", c.t.Name(), c.seq, c.n)
}

// candidates numbers the candidates of the run, so that several in one
// test (say a batch over them) never share a request id.
var candidates atomic.Int64

func (c *candidate) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

// siftCase waits until sifting has the case, then returns it.
func (c *candidate) siftCase() *siftingv1.SiftCase {
	var got *siftingv1.SiftCase
	testenv.Eventually(c.t, "sift case opened", func() (bool, string) {
		r, err := c.sift.GetCase(context.Background(), &siftingv1.GetCaseRequest{ApplicationId: c.id}, c.spoc)
		got = r.GetCase()
		return err == nil, fmt.Sprint(err)
	})
	return got
}

// passInterview takes the candidate through sift and interview.
func (c *candidate) passInterview() {
	ctx := context.Background()
	sc := c.siftCase()
	r, err := c.sift.RecordSiftDecision(ctx, &siftingv1.RecordSiftDecisionRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: sc.GetVersion(), Outcome: commonv1.Outcome_OUTCOME_PASS,
	}, c.spoc)
	c.must(err)
	// Soon: an outcome is refused before the interview's time, so the
	// outcome waits for it.
	slot := time.Now().Add(time.Second)
	s, err := c.sift.ScheduleInterview(ctx, &siftingv1.ScheduleInterviewRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: r.GetCase().GetVersion(),
		ScheduledFor: timestamppb.New(slot),
	}, c.spoc)
	c.must(err)
	time.Sleep(time.Until(slot))
	_, err = c.sift.RecordInterviewOutcome(ctx, &siftingv1.RecordInterviewOutcomeRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: s.GetCase().GetVersion(), Outcome: commonv1.Outcome_OUTCOME_PASS,
	}, c.spoc)
	c.must(err)
}

// offer waits until offers holds the application in status, and returns it.
func (c *candidate) offer(status offersv1.OfferStatus, cond func(*offersv1.Offer) bool) *offersv1.Offer {
	var got *offersv1.Offer
	testenv.Eventually(c.t, "offer "+status.String(), func() (bool, string) {
		r, err := c.offers.GetOffer(context.Background(), &offersv1.GetOfferRequest{ApplicationId: c.id}, c.spoc)
		if err != nil {
			return false, err.Error()
		}
		got = r.GetOffer()
		return got.GetStatus() == status && (cond == nil || cond(got)), fmt.Sprintf("offer is %v", got)
	})
	return got
}

// acceptOffer makes and accepts the offer; vetting then opens a case.
func (c *candidate) acceptOffer() *vettingv1.VettingCase {
	ctx := context.Background()
	o := c.offer(offersv1.OfferStatus_OFFER_STATUS_AWAITING_OFFER, nil)
	made, err := c.offers.MakeConditionalOffer(ctx, &offersv1.MakeConditionalOfferRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: o.GetVersion(), SalaryBandCode: "band_4",
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING},
	}, c.spoc)
	c.must(err)
	_, err = c.offers.AcceptOffer(ctx, &offersv1.AcceptOfferRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: made.GetOffer().GetVersion(),
	}, c.spoc)
	c.must(err)
	var vc *vettingv1.VettingCase
	testenv.Eventually(c.t, "vetting case opened", func() (bool, string) {
		r, err := c.vetting.GetCase(ctx, &vettingv1.GetCaseRequest{ApplicationId: c.id}, c.vetter)
		vc = r.GetCase()
		return err == nil, fmt.Sprint(err)
	})
	return vc
}

func (c *candidate) stage() commonv1.Stage {
	r, err := c.apps.GetApplication(context.Background(), &applicationsv1.GetApplicationRequest{ApplicationId: c.id}, c.spoc)
	c.must(err)
	return r.GetApplication().GetStage()
}

func (c *candidate) waitStage(want commonv1.Stage) {
	testenv.Eventually(c.t, "applications sees "+want.String(), func() (bool, string) {
		got := c.stage()
		return got == want, fmt.Sprintf("stage is %v", got)
	})
}

func londonToday() *commonv1.Date {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		loc = time.UTC
	}
	return event.Date(time.Now().In(loc))
}

// One candidate from submission to first day, through all four services
// over gRPC; the stream then holds the pipeline's events in order.
func TestCandidateFromSubmissionToStart(t *testing.T) {
	t.Parallel()
	st := start(t)
	ctx := context.Background()
	c := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
	c.passInterview()
	vc := c.acceptOffer()
	if vc.GetLevel() != commonv1.VettingLevel_VETTING_LEVEL_CTC {
		t.Errorf("vetting level for a probation officer = %v, want CTC", vc.GetLevel())
	}
	c.waitStage(commonv1.Stage_STAGE_PRE_EMPLOYMENT)

	forms, err := c.vetting.RecordFormsReceived(ctx, &vettingv1.RecordFormsReceivedRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: vc.GetVersion(),
	}, c.vetter)
	c.must(err)
	_, err = c.vetting.ClearCase(ctx, &vettingv1.ClearCaseRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: forms.GetCase().GetVersion(),
	}, c.vetter)
	c.must(err)
	o := c.offer(offersv1.OfferStatus_OFFER_STATUS_ACCEPTED, func(o *offersv1.Offer) bool { return o.GetVettingCleared() })

	// Vetting has cleared, so the start needs no approver.
	set, err := c.offers.SetStartDate(ctx, &offersv1.SetStartDateRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: o.GetVersion(), StartDate: londonToday(),
	}, c.spoc)
	c.must(err)
	if set.GetOffer().GetSubjectToVetting() {
		t.Error("start after vetting cleared is marked subject to vetting")
	}
	// Right to work must be met before a start (it may not be waived).
	_, err = c.offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: set.GetOffer().GetVersion(),
	}, c.spoc)
	if st, _ := status.FromError(err); st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "right_to_work") {
		t.Fatalf("start without right to work: %v, want FailedPrecondition naming right_to_work", err)
	}
	rtw, err := c.offers.RecordCheck(ctx, &offersv1.RecordCheckRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: set.GetOffer().GetVersion(),
		Check: commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK, Status: commonv1.CheckStatus_CHECK_STATUS_MET,
	}, c.spoc)
	c.must(err)
	_, err = c.offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: rtw.GetOffer().GetVersion(),
	}, c.spoc)
	c.must(err)
	c.waitStage(commonv1.Stage_STAGE_HIRED)

	want := []string{
		"application.submitted", "sift.passed", "interview.scheduled", "interview.passed",
		"offer.made", "offer.accepted", "vetting.opened", "vetting.forms_received", "vetting.cleared",
		"offer.start_date_set", "offer.check_recorded", "candidate.started",
	}
	if got := st.eventsFor(t, c.id); !slices.Equal(got, want) {
		t.Errorf("events on the stream:\n got %v\nwant %v", got, want)
	}
}

// A vetting case blocked, unblocked and then failed: offers withdraws the
// offer on its own, and the application ends WITHDRAWN.
func TestFailedVettingWithdrawsOffer(t *testing.T) {
	t.Parallel()
	st := start(t)
	ctx := context.Background()
	c := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR)
	c.passInterview()
	vc := c.acceptOffer()
	if vc.GetLevel() != commonv1.VettingLevel_VETTING_LEVEL_BPSS {
		t.Errorf("vetting level for an administrator = %v, want BPSS", vc.GetLevel())
	}

	blocked, err := c.vetting.BlockCase(ctx, &vettingv1.BlockCaseRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: vc.GetVersion(),
		Reason: commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE, Note: "referee on leave until March",
	}, c.vetter)
	c.must(err)
	list, err := c.vetting.ListBlockedCases(ctx, &vettingv1.ListBlockedCasesRequest{Region: "london"}, c.vetter)
	c.must(err)
	if len(list.GetCases()) != 1 || list.GetCases()[0].GetCase().GetApplicationId() != c.id {
		t.Errorf("blocked list = %v, want this case", list.GetCases())
	}
	unblocked, err := c.vetting.UnblockCase(ctx, &vettingv1.UnblockCaseRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: blocked.GetCase().GetVersion(),
	}, c.vetter)
	c.must(err)
	_, err = c.vetting.FailCase(ctx, &vettingv1.FailCaseRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: unblocked.GetCase().GetVersion(), ReasonCode: "identity_not_verified",
	}, c.vetter)
	c.must(err)

	o := c.offer(offersv1.OfferStatus_OFFER_STATUS_WITHDRAWN, nil)
	if o.GetReasonCode() != "vetting_failed" {
		t.Errorf("offer withdrawn with reason %q, want vetting_failed", o.GetReasonCode())
	}
	c.waitStage(commonv1.Stage_STAGE_WITHDRAWN)

	got := st.eventsFor(t, c.id)
	want := []string{
		"application.submitted", "sift.passed", "interview.scheduled", "interview.passed",
		"offer.made", "offer.accepted", "vetting.opened", "vetting.blocked", "vetting.unblocked", "vetting.failed",
		"offer.withdrawn",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events on the stream:\n got %v\nwant %v", got, want)
	}
	// The free-text note stayed in vetting.
	for _, p := range st.payloadsFor(t, c.id) {
		if bytes.Contains(p, []byte("referee on leave")) {
			t.Error("the block note reached the stream")
		}
	}
}
