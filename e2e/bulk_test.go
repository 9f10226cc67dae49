package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// bookInterview passes the sift and books an interview; it returns the
// case's version.
func (c *candidate) bookInterview() int64 {
	ctx := context.Background()
	sc := c.siftCase()
	r, err := c.sift.RecordSiftDecision(ctx, &siftingv1.RecordSiftDecisionRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: sc.GetVersion(), Outcome: commonv1.Outcome_OUTCOME_PASS,
	}, c.spoc)
	c.must(err)
	// Soon, and waited for: an outcome is refused before the interview's
	// time (as in passInterview).
	slot := time.Now().Add(time.Second)
	s, err := c.sift.ScheduleInterview(ctx, &siftingv1.ScheduleInterviewRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: r.GetCase().GetVersion(),
		ScheduledFor: timestamppb.New(slot),
	}, c.spoc)
	c.must(err)
	time.Sleep(time.Until(slot))
	return s.GetCase().GetVersion()
}

// count is how many of the events named name the stream holds about c.
func (c *candidate) count(name string) int {
	n := 0
	for _, got := range c.st.eventsFor(c.t, c.id) {
		if got == name {
			n++
		}
	}
	return n
}

// wantCodes fails unless the items' codes are want, in order.
func wantCodes(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: item codes %v, want %v", what, got, want)
	}
}

// TestBulkCallsThroughTheStack runs each bulk call — interview outcomes,
// conditional offers, vetting clears, withdrawals — as London's users over
// three London candidates and one Welsh one, first as a dry run and then
// for real: the Welsh item fails alone each time, and the stream holds each
// London change exactly once and nothing of the Welsh candidate's beyond
// what its own SPOC did. The outbox relays publish in the order rows were
// written, so a dry run that had written an event would show on the stream
// before the real one: each count of one proves the dry run published
// nothing.
func TestBulkCallsThroughTheStack(t *testing.T) {
	t.Parallel()
	st := start(t)
	ctx := context.Background()
	role := commonv1.JobRole_JOB_ROLE_ADMINISTRATOR
	l1, l2, l3 := newCandidateIn(t, st, role, "london"), newCandidateIn(t, st, role, "london"), newCandidateIn(t, st, role, "london")
	w := newCandidateIn(t, st, role, "wales")
	london := []*candidate{l1, l2, l3}
	spoc, vetter := l1.spoc, l1.vetter

	// Interview outcomes.
	outcomes := []*siftingv1.InterviewOutcome{}
	for _, c := range append(slices.Clone(london), w) {
		outcomes = append(outcomes, &siftingv1.InterviewOutcome{ApplicationId: c.id, ExpectedVersion: c.bookInterview(), Outcome: commonv1.Outcome_OUTCOME_PASS})
	}
	for _, dry := range []bool{true, false} {
		r, err := l1.sift.BatchRecordInterviewOutcomes(ctx, &siftingv1.BatchRecordInterviewOutcomesRequest{
			RequestId: l1.req(), Outcomes: outcomes, DryRun: dry}, spoc)
		l1.must(err)
		var codes []string
		for _, x := range r.GetResults() {
			codes = append(codes, x.GetStatus().GetCode())
		}
		wantCodes(t, fmt.Sprintf("interview outcomes (dry run %v)", dry), codes, "OK", "OK", "OK", "FAILED_PRECONDITION")
	}

	// Conditional offers, once offers has heard of the passes.
	var offers []*offersv1.OfferItem
	for _, c := range london {
		o := c.offer(offersv1.OfferStatus_OFFER_STATUS_AWAITING_OFFER, nil)
		offers = append(offers, &offersv1.OfferItem{ApplicationId: c.id, ExpectedVersion: o.GetVersion(), SalaryBandCode: "band_3",
			Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
	}
	offers = append(offers, &offersv1.OfferItem{ApplicationId: w.id, ExpectedVersion: 1, SalaryBandCode: "band_3",
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
	var made *offersv1.BatchMakeConditionalOffersResponse
	for _, dry := range []bool{true, false} {
		r, err := l1.offers.BatchMakeConditionalOffers(ctx, &offersv1.BatchMakeConditionalOffersRequest{
			RequestId: l1.req(), Items: offers, DryRun: dry}, spoc)
		l1.must(err)
		var codes []string
		for _, x := range r.GetResults() {
			codes = append(codes, x.GetStatus().GetCode())
		}
		wantCodes(t, fmt.Sprintf("offers (dry run %v)", dry), codes, "OK", "OK", "OK", "FAILED_PRECONDITION")
		made = r
	}

	// l1 and l2 accept; their forms arrive; vetting clears them in bulk.
	var clears []*vettingv1.ClearItem
	for i, c := range london[:2] {
		_, err := c.offers.AcceptOffer(ctx, &offersv1.AcceptOfferRequest{RequestId: c.req(), ApplicationId: c.id,
			ExpectedVersion: made.GetResults()[i].GetOffer().GetVersion()}, spoc)
		c.must(err)
		var vc *vettingv1.VettingCase
		testenv.Eventually(t, "vetting case opened", func() (bool, string) {
			r, err := c.vetting.GetCase(ctx, &vettingv1.GetCaseRequest{ApplicationId: c.id}, vetter)
			vc = r.GetCase()
			return err == nil, fmt.Sprint(err)
		})
		forms, err := c.vetting.RecordFormsReceived(ctx, &vettingv1.RecordFormsReceivedRequest{RequestId: c.req(), ApplicationId: c.id,
			ExpectedVersion: vc.GetVersion()}, vetter)
		c.must(err)
		clears = append(clears, &vettingv1.ClearItem{ApplicationId: c.id, ExpectedVersion: forms.GetCase().GetVersion()})
	}
	clears = append(clears, &vettingv1.ClearItem{ApplicationId: w.id, ExpectedVersion: 2})
	for _, dry := range []bool{true, false} {
		r, err := l1.vetting.BatchClear(ctx, &vettingv1.BatchClearRequest{RequestId: l1.req(), Items: clears, DryRun: dry}, vetter)
		l1.must(err)
		var codes []string
		for _, x := range r.GetResults() {
			codes = append(codes, x.GetStatus().GetCode())
		}
		wantCodes(t, fmt.Sprintf("clears (dry run %v)", dry), codes, "OK", "OK", "FAILED_PRECONDITION")
	}

	// l3 and the Welsh candidate withdrawn in bulk by London's SPOC.
	var withdrawals []*applicationsv1.WithdrawItem
	for _, c := range []*candidate{l3, w} {
		r, err := c.apps.GetApplication(ctx, &applicationsv1.GetApplicationRequest{ApplicationId: c.id}, c.spoc)
		c.must(err)
		withdrawals = append(withdrawals, &applicationsv1.WithdrawItem{ApplicationId: c.id, ExpectedVersion: r.GetApplication().GetVersion(), ReasonCode: "candidate_request"})
	}
	for _, dry := range []bool{true, false} {
		r, err := l1.apps.BatchWithdrawApplications(ctx, &applicationsv1.BatchWithdrawApplicationsRequest{
			RequestId: l1.req(), Items: withdrawals, DryRun: dry}, spoc)
		l1.must(err)
		var codes []string
		for _, x := range r.GetResults() {
			codes = append(codes, x.GetStatus().GetCode())
		}
		// Another region's application answers as a missing one would.
		if len(codes) != 2 || codes[0] != "OK" || (codes[1] != "NOT_FOUND" && codes[1] != "FAILED_PRECONDITION") {
			t.Errorf("withdrawals (dry run %v): item codes %v, want OK and NOT_FOUND or FAILED_PRECONDITION", dry, codes)
		}
	}

	// The stream: each London change once.
	l3.offer(offersv1.OfferStatus_OFFER_STATUS_WITHDRAWN, nil)
	for _, c := range london {
		testenv.Eventually(t, "the London changes on the stream", func() (bool, string) {
			return c.count("interview.passed") == 1 && c.count("offer.made") == 1, fmt.Sprint(st.eventsFor(t, c.id))
		})
	}
	for _, c := range london[:2] {
		testenv.Eventually(t, "vetting.cleared on the stream", func() (bool, string) {
			return c.count("vetting.cleared") == 1, fmt.Sprint(st.eventsFor(t, c.id))
		})
	}
	testenv.Eventually(t, "application.withdrawn on the stream", func() (bool, string) {
		return l3.count("application.withdrawn") == 1, fmt.Sprint(st.eventsFor(t, l3.id))
	})
	// Every count above is exactly one, and stays so once all is published.
	for _, c := range london {
		for _, name := range []string{"interview.passed", "offer.made", "vetting.cleared", "application.withdrawn"} {
			if n := c.count(name); n > 1 {
				t.Errorf("%s: %d %s events on the stream", c.id, n, name)
			}
		}
	}
	if got, want := st.eventsFor(t, w.id), []string{"application.submitted", "sift.passed", "interview.scheduled"}; !slices.Equal(got, want) {
		t.Errorf("the Welsh candidate's events: %v, want only %v", got, want)
	}
}
