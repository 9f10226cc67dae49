package e2e

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// earlyStartDated accepts c's offer and sets its start for today, before
// vetting clears; it returns the offer, waiting for an approval.
func (c *candidate) earlyStartDated() *offersv1.Offer {
	c.t.Helper()
	c.passInterview()
	c.acceptOffer()
	o := c.offer(offersv1.OfferStatus_OFFER_STATUS_ACCEPTED, nil)
	set, err := c.offers.SetStartDate(context.Background(), &offersv1.SetStartDateRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: o.GetVersion(), StartDate: londonToday(),
	}, c.spoc)
	c.must(err)
	if !set.GetOffer().GetSubjectToVetting() {
		c.t.Fatalf("start before vetting cleared is not subject to vetting: %v", set.GetOffer())
	}
	return set.GetOffer()
}

// TestEarlyStartJourney: the whole governed early start on the running
// services. London's policy (cap 1) set by an admin; the SPOC cannot
// approve its own early start, nor Wales's approver; London's approver
// approves and the start is confirmed; a second early start is refused at
// the cap until the first one's vetting clears (offers hears it from
// vetting over NATS); reporting counts London's early starts against the
// cap from the events.
func TestEarlyStartJourney(t *testing.T) {
	t.Parallel()
	st := start(t)
	ctx := context.Background()
	offers := offersv1.NewOffersServiceClient(st.conns["offers"])
	reports := reportingv1.NewReportingServiceClient(st.conns["reporting"])
	admin := token(t, "admin-1", auth.RoleAdmin)
	approver := token(t, "approver-london-1", auth.RoleApprover, "london")
	welshApprover := token(t, "approver-wales-1", auth.RoleApprover, "wales")
	reader := token(t, "dashboard-london-1", auth.RoleDashboard, "london")

	if _, err := offers.SetEarlyStartPolicy(ctx, &offersv1.SetEarlyStartPolicyRequest{
		RequestId: event.NewID(), Region: "london", Enabled: true, Cap: 1,
	}, admin); err != nil {
		t.Fatal(err)
	}

	first := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
	o := first.earlyStartDated()
	_, err := offers.ApproveEarlyStart(ctx, &offersv1.ApproveEarlyStartRequest{RequestId: first.req(), ApplicationId: first.id, ExpectedVersion: o.GetVersion()}, first.spoc)
	testenv.WantStatus(t, err, codes.PermissionDenied, "role")
	_, err = offers.ApproveEarlyStart(ctx, &offersv1.ApproveEarlyStartRequest{RequestId: first.req(), ApplicationId: first.id, ExpectedVersion: o.GetVersion()}, welshApprover)
	testenv.WantStatus(t, err, codes.FailedPrecondition)
	_, err = offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{RequestId: first.req(), ApplicationId: first.id, ExpectedVersion: o.GetVersion()}, first.spoc)
	testenv.WantStatus(t, err, codes.FailedPrecondition, "no approver has approved")
	approved, err := offers.ApproveEarlyStart(ctx, &offersv1.ApproveEarlyStartRequest{RequestId: first.req(), ApplicationId: first.id, ExpectedVersion: o.GetVersion()}, approver)
	first.must(err)
	if got := approved.GetOffer().GetStartApprovedBy(); got != "approver-london-1" {
		t.Errorf("approved by %q, want the approver's subject", got)
	}
	_, err = offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{RequestId: first.req(), ApplicationId: first.id, ExpectedVersion: approved.GetOffer().GetVersion()}, first.spoc)
	first.must(err)

	earlyStarts := func(t *testing.T, want int32) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("reporting counts %d early start(s)", want), func() (bool, string) {
			r, err := reports.GetEarlyStarts(ctx, &reportingv1.GetEarlyStartsRequest{Region: "london"}, reader)
			if err != nil {
				return false, err.Error()
			}
			return r.GetEnabled() && r.GetCap() == 1 && r.GetStartedSubjectToVetting() == want && r.GetOverdue() == 0, fmt.Sprint(r)
		})
	}
	earlyStarts(t, 1)

	// A subtest: request ids are named after the test, so the second
	// candidate's must not repeat the first's.
	t.Run("the cap", func(t *testing.T) {
		secondAtTheCap(t, st, first, approver, earlyStarts)
	})
}

// secondAtTheCap is a second early start in London, refused at the cap of
// 1 until first's vetting clears.
func secondAtTheCap(t *testing.T, st *stack, first *candidate, approver grpc.CallOption, earlyStarts func(*testing.T, int32)) {
	ctx := context.Background()
	offers := first.offers
	second := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
	o2 := second.earlyStartDated()
	approved2, err := offers.ApproveEarlyStart(ctx, &offersv1.ApproveEarlyStartRequest{RequestId: second.req(), ApplicationId: second.id, ExpectedVersion: o2.GetVersion()}, approver)
	second.must(err)
	_, err = offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{RequestId: second.req(), ApplicationId: second.id, ExpectedVersion: approved2.GetOffer().GetVersion()}, second.spoc)
	testenv.WantStatus(t, err, codes.FailedPrecondition, "cap of 1")

	// The first candidate's vetting clears: offers hears it and the second
	// may start.
	vc, err := first.vetting.GetCase(ctx, &vettingv1.GetCaseRequest{ApplicationId: first.id}, first.vetter)
	first.must(err)
	forms, err := first.vetting.RecordFormsReceived(ctx, &vettingv1.RecordFormsReceivedRequest{RequestId: first.req(), ApplicationId: first.id, ExpectedVersion: vc.GetCase().GetVersion()}, first.vetter)
	first.must(err)
	_, err = first.vetting.ClearCase(ctx, &vettingv1.ClearCaseRequest{RequestId: first.req(), ApplicationId: first.id, ExpectedVersion: forms.GetCase().GetVersion()}, first.vetter)
	first.must(err)
	testenv.Eventually(t, "the second early start once the first has cleared", func() (bool, string) {
		o := second.offer(offersv1.OfferStatus_OFFER_STATUS_ACCEPTED, nil)
		_, err := offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{RequestId: second.req(), ApplicationId: second.id, ExpectedVersion: o.GetVersion()}, second.spoc)
		return err == nil, fmt.Sprint(status.Convert(err).Message())
	})
	earlyStarts(t, 1)
}
