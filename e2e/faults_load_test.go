package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// loadRegions are the regions the load spreads its candidates over.
var loadRegions = []string{"london", "wales", "north-east"}

// okCall is a change the load was told had been made: the event its owner
// must have written, about an application (or, for a campaign, with no
// application and the campaign's id).
type okCall struct {
	method      string
	event       string
	application string
	campaign    string
}

// recorder counts the load's change calls, each answer by code, and keeps
// every call answered OK.
type recorder struct {
	mu   sync.Mutex
	sent int
	errs map[codes.Code]int
	ok   []okCall
}

func (r *recorder) answer(call okCall, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	if err != nil {
		r.errs[status.Code(err)]++
		return
	}
	r.ok = append(r.ok, call)
}

// errors formats the errors by code, most frequent first ("none" if none).
func (r *recorder) errors() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for code, n := range r.errs {
		parts = append(parts, fmt.Sprintf("%v %d", code, n))
	}
	if len(parts) == 0 {
		return "none"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// load drives candidates through every stage as their users would: SPOCs
// submit, sift, interview, offer and start them, and vetting contact
// points clear them. Each change carries a unique request id; a call whose
// outcome is unknown (Unavailable, DeadlineExceeded) is sent again as it
// was, and one refused as stale (Aborted) is sent again, as a new request,
// on the record read afresh.
type load struct {
	t         *testing.T
	st        *stack
	rec       *recorder
	stop      chan struct{}
	wg        sync.WaitGroup
	seq       atomic.Int64
	campaigns map[string]string // region → campaign id
	admin     grpc.CallOption
	spoc      grpc.CallOption
	vetter    grpc.CallOption
	apps      applicationsv1.ApplicationsServiceClient
	sift      siftingv1.SiftingServiceClient
	offers    offersv1.OffersServiceClient
	vetting   vettingv1.VettingServiceClient
}

// startLoad opens a campaign in each region and starts workers candidates
// at a time, and one SPOC who only submits (whose calls need nothing but
// the applications service and its database, so they go on while NATS is
// away); stopLoad ends it.
func startLoad(t *testing.T, st *stack, workers int) *load {
	t.Helper()
	l := &load{
		t: t, st: st, rec: &recorder{errs: map[codes.Code]int{}}, stop: make(chan struct{}), campaigns: map[string]string{},
		admin:   token(t, "admin-1", auth.RoleAdmin),
		spoc:    token(t, "spoc-1", auth.RoleSPOC, loadRegions...),
		vetter:  token(t, "vetting-1", auth.RoleVetting, loadRegions...),
		apps:    applicationsv1.NewApplicationsServiceClient(st.conns["applications"]),
		sift:    siftingv1.NewSiftingServiceClient(st.conns["sifting"]),
		offers:  offersv1.NewOffersServiceClient(st.conns["offers"]),
		vetting: vettingv1.NewVettingServiceClient(st.conns["vetting"]),
	}
	for _, region := range loadRegions {
		req := &applicationsv1.CreateCampaignRequest{
			RequestId: l.requestID(), Region: region, Role: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER,
			Title: "Campaign", Posts: 1000, OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 1},
		}
		var id string
		err := l.call("CreateCampaign", func(ctx context.Context) (okCall, error) {
			r, err := l.apps.CreateCampaign(ctx, req, l.admin)
			id = r.GetCampaign().GetId()
			return okCall{event: "campaign.created", campaign: id}, err
		})
		if err != nil {
			t.Fatalf("create a campaign in %s: %v", region, err)
		}
		l.campaigns[region] = id
	}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				l.candidate(loadRegions[(w+i)%len(loadRegions)])
			}
		})
	}
	l.wg.Go(func() {
		for i := 0; !l.stopped(); i++ {
			if _, err := l.submit(loadRegions[i%len(loadRegions)]); err != nil {
				return
			}
			select {
			case <-l.stop:
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return l
}

// stopLoad ends the load: workers finish the call they are in (or give up
// retrying it) and start no other.
func (l *load) stopLoad() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load) requestID() string {
	return fmt.Sprintf("faults-%d", l.seq.Add(1))
}

// errStopped ends a candidate when the load stops.
var errStopped = status.Error(codes.Canceled, "load stopped")

// call sends one change until it is answered: again, as it was, while the
// answer is Unavailable or DeadlineExceeded, for as long as the load runs.
// Every answer is recorded, and send's okCall with an OK one.
func (l *load) call(method string, send func(context.Context) (okCall, error)) error {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		call, err := send(ctx)
		cancel()
		call.method = method
		l.rec.answer(call, err)
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.Unavailable, codes.DeadlineExceeded:
		default:
			return err
		}
		select {
		case <-l.stop:
			return errStopped
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// await reads with get until done says the record is there as wanted, or
// the load stops. Reads are not counted: the suite reconciles changes.
func await[R any](l *load, get func(context.Context) (R, error), done func(R) bool) (R, error) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := get(ctx)
		cancel()
		if err == nil && done(r) {
			return r, nil
		}
		select {
		case <-l.stop:
			return r, errStopped
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// change sends a change to the record read by read, reading it again and
// sending a new request while the answer is Aborted (the record changed
// between the read and the call: a consumer moved it on).
func change[R any](l *load, read func() (R, error), send func(R) error) error {
	for {
		r, err := read()
		if err != nil {
			return err
		}
		if err := send(r); status.Code(err) != codes.Aborted {
			return err
		}
	}
}

// candidate takes one application in region from submission to its first
// day, or as far as it gets before the load stops or a call fails.
func (l *load) candidate(region string) {
	id, err := l.submit(region)
	if err != nil {
		return
	}
	for _, step := range []func(string) error{l.siftPass, l.interviewPass, l.offerAccepted, l.vettingCleared, l.started} {
		if err := step(id); err != nil {
			return
		}
	}
}

// submit submits an application in region and returns its id.
func (l *load) submit(region string) (string, error) {
	n := l.seq.Add(1)
	var id string
	req := &applicationsv1.SubmitApplicationRequest{
		RequestId: l.requestID(), CampaignId: l.campaigns[region],
		Candidate: &applicationsv1.Candidate{Name: fmt.Sprintf("Candidate %d", n), Email: fmt.Sprintf("candidate-%d@example.org", n)},
	}
	err := l.call("SubmitApplication", func(ctx context.Context) (okCall, error) {
		r, err := l.apps.SubmitApplication(ctx, req, l.spoc)
		id = r.GetApplication().GetId()
		return okCall{event: "application.submitted", application: id}, err
	})
	return id, err
}

func (l *load) siftCase(id string, state siftingv1.CaseState) func() (*siftingv1.SiftCase, error) {
	return func() (*siftingv1.SiftCase, error) {
		return await(l, func(ctx context.Context) (*siftingv1.SiftCase, error) {
			r, err := l.sift.GetCase(ctx, &siftingv1.GetCaseRequest{ApplicationId: id}, l.spoc)
			return r.GetCase(), err
		}, func(c *siftingv1.SiftCase) bool { return c.GetState() == state })
	}
}

func (l *load) siftPass(id string) error {
	return change(l, l.siftCase(id, siftingv1.CaseState_CASE_STATE_AWAITING_SIFT), func(c *siftingv1.SiftCase) error {
		req := &siftingv1.RecordSiftDecisionRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: c.GetVersion(),
			Outcome: commonv1.Outcome_OUTCOME_PASS}
		return l.call("RecordSiftDecision", func(ctx context.Context) (okCall, error) {
			_, err := l.sift.RecordSiftDecision(ctx, req, l.spoc)
			return okCall{event: "sift.passed", application: id}, err
		})
	})
}

func (l *load) interviewPass(id string) error {
	// Soon: an outcome is refused before the interview's time, so the
	// outcome waits for it.
	var slot time.Time
	err := change(l, l.siftCase(id, siftingv1.CaseState_CASE_STATE_AWAITING_INTERVIEW), func(c *siftingv1.SiftCase) error {
		slot = time.Now().Add(time.Second)
		req := &siftingv1.ScheduleInterviewRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: c.GetVersion(),
			ScheduledFor: timestamppb.New(slot)}
		return l.call("ScheduleInterview", func(ctx context.Context) (okCall, error) {
			_, err := l.sift.ScheduleInterview(ctx, req, l.spoc)
			return okCall{event: "interview.scheduled", application: id}, err
		})
	})
	if err != nil {
		return err
	}
	time.Sleep(time.Until(slot))
	scheduled := func() (*siftingv1.SiftCase, error) {
		return await(l, func(ctx context.Context) (*siftingv1.SiftCase, error) {
			r, err := l.sift.GetCase(ctx, &siftingv1.GetCaseRequest{ApplicationId: id}, l.spoc)
			return r.GetCase(), err
		}, func(c *siftingv1.SiftCase) bool { return c.GetInterviewAt() != nil })
	}
	return change(l, scheduled, func(c *siftingv1.SiftCase) error {
		req := &siftingv1.RecordInterviewOutcomeRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: c.GetVersion(),
			Outcome: commonv1.Outcome_OUTCOME_PASS}
		return l.call("RecordInterviewOutcome", func(ctx context.Context) (okCall, error) {
			_, err := l.sift.RecordInterviewOutcome(ctx, req, l.spoc)
			return okCall{event: "interview.passed", application: id}, err
		})
	})
}

func (l *load) offer(id string, done func(*offersv1.Offer) bool) func() (*offersv1.Offer, error) {
	return func() (*offersv1.Offer, error) {
		return await(l, func(ctx context.Context) (*offersv1.Offer, error) {
			r, err := l.offers.GetOffer(ctx, &offersv1.GetOfferRequest{ApplicationId: id}, l.spoc)
			return r.GetOffer(), err
		}, done)
	}
}

func offerIs(s offersv1.OfferStatus) func(*offersv1.Offer) bool {
	return func(o *offersv1.Offer) bool { return o.GetStatus() == s }
}

func (l *load) offerAccepted(id string) error {
	err := change(l, l.offer(id, offerIs(offersv1.OfferStatus_OFFER_STATUS_AWAITING_OFFER)), func(o *offersv1.Offer) error {
		req := &offersv1.MakeConditionalOfferRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: o.GetVersion(),
			SalaryBandCode: "band_3", Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}}
		return l.call("MakeConditionalOffer", func(ctx context.Context) (okCall, error) {
			_, err := l.offers.MakeConditionalOffer(ctx, req, l.spoc)
			return okCall{event: "offer.made", application: id}, err
		})
	})
	if err != nil {
		return err
	}
	return change(l, l.offer(id, offerIs(offersv1.OfferStatus_OFFER_STATUS_MADE)), func(o *offersv1.Offer) error {
		req := &offersv1.AcceptOfferRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: o.GetVersion()}
		return l.call("AcceptOffer", func(ctx context.Context) (okCall, error) {
			_, err := l.offers.AcceptOffer(ctx, req, l.spoc)
			return okCall{event: "offer.accepted", application: id}, err
		})
	})
}

func (l *load) vettingCase(id string, s vettingv1.CaseStatus) func() (*vettingv1.VettingCase, error) {
	return func() (*vettingv1.VettingCase, error) {
		return await(l, func(ctx context.Context) (*vettingv1.VettingCase, error) {
			r, err := l.vetting.GetCase(ctx, &vettingv1.GetCaseRequest{ApplicationId: id}, l.vetter)
			return r.GetCase(), err
		}, func(c *vettingv1.VettingCase) bool { return c.GetStatus() == s })
	}
}

func (l *load) vettingCleared(id string) error {
	err := change(l, l.vettingCase(id, vettingv1.CaseStatus_CASE_STATUS_OPEN), func(c *vettingv1.VettingCase) error {
		req := &vettingv1.RecordFormsReceivedRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: c.GetVersion()}
		return l.call("RecordFormsReceived", func(ctx context.Context) (okCall, error) {
			_, err := l.vetting.RecordFormsReceived(ctx, req, l.vetter)
			return okCall{event: "vetting.forms_received", application: id}, err
		})
	})
	if err != nil {
		return err
	}
	return change(l, l.vettingCase(id, vettingv1.CaseStatus_CASE_STATUS_FORMS_RECEIVED), func(c *vettingv1.VettingCase) error {
		req := &vettingv1.ClearCaseRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: c.GetVersion()}
		return l.call("ClearCase", func(ctx context.Context) (okCall, error) {
			_, err := l.vetting.ClearCase(ctx, req, l.vetter)
			return okCall{event: "vetting.cleared", application: id}, err
		})
	})
}

// started sets the start date once offers has heard that vetting cleared
// (so no approver is needed), then confirms the start.
func (l *load) started(id string) error {
	cleared := l.offer(id, func(o *offersv1.Offer) bool {
		return o.GetStatus() == offersv1.OfferStatus_OFFER_STATUS_ACCEPTED && o.GetVettingCleared()
	})
	err := change(l, cleared, func(o *offersv1.Offer) error {
		req := &offersv1.SetStartDateRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: o.GetVersion(), StartDate: londonToday()}
		return l.call("SetStartDate", func(ctx context.Context) (okCall, error) {
			_, err := l.offers.SetStartDate(ctx, req, l.spoc)
			return okCall{event: "offer.start_date_set", application: id}, err
		})
	})
	if err != nil {
		return err
	}
	dated := l.offer(id, func(o *offersv1.Offer) bool { return o.GetStartDate() != nil })
	// A start needs the right to work check met.
	err = change(l, dated, func(o *offersv1.Offer) error {
		req := &offersv1.RecordCheckRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: o.GetVersion(),
			Check: commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK, Status: commonv1.CheckStatus_CHECK_STATUS_MET}
		return l.call("RecordCheck", func(ctx context.Context) (okCall, error) {
			_, err := l.offers.RecordCheck(ctx, req, l.spoc)
			return okCall{event: "offer.check_recorded", application: id}, err
		})
	})
	if err != nil {
		return err
	}
	checked := l.offer(id, func(o *offersv1.Offer) bool {
		for _, c := range o.GetChecks() {
			if c.GetCheck() == commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK && c.GetStatus() == commonv1.CheckStatus_CHECK_STATUS_MET {
				return true
			}
		}
		return false
	})
	return change(l, checked, func(o *offersv1.Offer) error {
		req := &offersv1.ConfirmStartRequest{RequestId: l.requestID(), ApplicationId: id, ExpectedVersion: o.GetVersion()}
		return l.call("ConfirmStart", func(ctx context.Context) (okCall, error) {
			_, err := l.offers.ConfirmStart(ctx, req, l.spoc)
			return okCall{event: "candidate.started", application: id}, err
		})
	})
}

// probe submits one application and waits until reported says reporting
// has it and sifting has opened its case: every hop from a call to the
// report and to a consuming stage works again. It returns how long that
// took from since, or fails the test after a minute.
func (l *load) probe(since time.Time, reported func(id string) (bool, error)) time.Duration {
	l.t.Helper()
	req := &applicationsv1.SubmitApplicationRequest{
		RequestId: l.requestID(), CampaignId: l.campaigns["london"],
		Candidate: &applicationsv1.Candidate{Name: "Probe", Email: fmt.Sprintf("probe-%d@example.org", l.seq.Add(1))},
	}
	var id string
	testenv.Eventually(l.t, "a submission after the fault", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := l.apps.SubmitApplication(ctx, req, l.spoc)
		l.rec.answer(okCall{method: "SubmitApplication", event: "application.submitted", application: r.GetApplication().GetId()}, err)
		id = r.GetApplication().GetId()
		return err == nil, fmt.Sprint(err)
	})
	testenv.Eventually(l.t, "the submission after the fault in the report and in sifting", func() (bool, string) {
		ok, err := reported(id)
		if err != nil || !ok {
			return false, fmt.Sprintf("not in the report (%v)", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = l.sift.GetCase(ctx, &siftingv1.GetCaseRequest{ApplicationId: id}, l.spoc)
		return err == nil, fmt.Sprintf("sifting: %v", err)
	})
	return time.Since(since)
}
