package main

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/region"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// probeRegion carries only the lag probe's submissions, so that its
// summary's count is the number of probes the projection has applied.
const probeRegion = "wales"

// The stage updates of one candidate's journey, in order. A step after a
// hand-off (another service opens the record the step changes, from an
// event) may find the record not there yet: it is tried again later.
const (
	opSubmit = iota
	opSift
	opSchedule
	opInterview
	opOffer
	opAccept
	opForms
	opBlock
	opUnblock
	opClear
	opStartDate
	opConfirm
	numOps
)

var opNames = [numOps]string{
	"SubmitApplication", "RecordSiftDecision", "ScheduleInterview", "RecordInterviewOutcome",
	"MakeConditionalOffer", "AcceptOffer", "RecordFormsReceived", "BlockCase", "UnblockCase", "ClearCase",
	"SetStartDate", "ConfirmStart",
}

// afterHandoff are the steps whose record another service opens or
// changes from the previous step's event.
var afterHandoff = [numOps]bool{opSift: true, opOffer: true, opForms: true, opStartDate: true}

// candidate is one application on its way through the stages.
type candidate struct {
	id, campaign, region string
	next                 int
	version              int64 // of the record the next step changes
	offerVersion         int64
	notBefore            time.Time
	tries                int
	reread               bool
	index                int
}

type pool []*candidate

func (p pool) Len() int           { return len(p) }
func (p pool) Less(i, j int) bool { return p[i].notBefore.Before(p[j].notBefore) }
func (p pool) Swap(i, j int)      { p[i], p[j] = p[j], p[i]; p[i].index, p[j].index = i, j }
func (p *pool) Push(x any)        { c := x.(*candidate); c.index = len(*p); *p = append(*p, c) }
func (p *pool) Pop() any {
	old := *p
	c := old[len(old)-1]
	*p = old[:len(old)-1]
	return c
}

// maxInFlight bounds the candidates part-way: past it a caller waits for
// one to become ready rather than submit another.
const maxInFlight = 20000

// load drives the running services through their generated clients.
type load struct {
	conns         []*grpc.ClientConn
	apps          applicationsv1.ApplicationsServiceClient
	sift          siftingv1.SiftingServiceClient
	offers        offersv1.OffersServiceClient
	vetting       vettingv1.VettingServiceClient
	reports       reportingv1.ReportingServiceClient
	spoc, vetter  map[string]grpc.CallOption
	dashboard     grpc.CallOption
	campaigns     map[string][]string // by region
	probeCampaign string
	seq           atomic.Int64
	mu            sync.Mutex
	ready         pool
	counts        [numOps]atomic.Int64
	notYet, reads atomic.Int64
	probesSent    int64
	regions       []string
}

func newLoad(ctx context.Context, st *stack) (*load, error) {
	signer, err := signingSigner()
	if err != nil {
		return nil, err
	}
	mint := func(c auth.Claims) (grpc.CallOption, error) {
		tok, err := signer.Mint(c, 8*time.Hour)
		if err != nil {
			return nil, err
		}
		return grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(tok)), nil
	}
	l := &load{spoc: map[string]grpc.CallOption{}, vetter: map[string]grpc.CallOption{}, campaigns: map[string][]string{}}
	conn := func(name string) (*grpc.ClientConn, error) {
		c, err := grpc.NewClient(st.grpcAddr[name], grpc.WithTransportCredentials(grpcauth.PlaintextLoopback()))
		if err == nil {
			l.conns = append(l.conns, c)
		}
		return c, err
	}
	var cs [5]*grpc.ClientConn
	for i, name := range []string{"applications", "sifting", "offers", "vetting", "reporting"} {
		if cs[i], err = conn(name); err != nil {
			l.close()
			return nil, err
		}
	}
	l.apps, l.sift, l.offers = applicationsv1.NewApplicationsServiceClient(cs[0]), siftingv1.NewSiftingServiceClient(cs[1]), offersv1.NewOffersServiceClient(cs[2])
	l.vetting, l.reports = vettingv1.NewVettingServiceClient(cs[3]), reportingv1.NewReportingServiceClient(cs[4])
	admin, err := mint(auth.Claims{Subject: "bench-admin", Role: auth.RoleAdmin})
	if err != nil {
		return nil, err
	}
	if l.dashboard, err = mint(auth.Claims{Subject: "bench-dashboard", Role: auth.RoleDashboard, Regions: []string{probeRegion}}); err != nil {
		return nil, err
	}
	roles := []commonv1.JobRole{commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR}
	for _, r := range region.All {
		if l.spoc[r], err = mint(auth.Claims{Subject: "bench-spoc-" + r, Role: auth.RoleSPOC, Regions: []string{r}}); err != nil {
			return nil, err
		}
		if l.vetter[r], err = mint(auth.Claims{Subject: "bench-vetting-" + r, Role: auth.RoleVetting, Regions: []string{r}}); err != nil {
			return nil, err
		}
		if r != probeRegion {
			l.regions = append(l.regions, r)
		}
		for _, role := range roles {
			resp, err := l.apps.CreateCampaign(ctx, &applicationsv1.CreateCampaignRequest{
				RequestId: l.requestID(), Region: r, Role: role, Title: "Bench campaign", Posts: 10000,
				OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 1},
			}, admin)
			if err != nil {
				l.close()
				return nil, fmt.Errorf("create campaign: %w", err)
			}
			if r == probeRegion {
				l.probeCampaign = resp.GetCampaign().GetId()
				break
			}
			l.campaigns[r] = append(l.campaigns[r], resp.GetCampaign().GetId())
		}
	}
	return l, nil
}

func (l *load) close() {
	for _, c := range l.conns {
		_ = c.Close()
	}
}

// requestID is unique in the run (and across runs: the prefix is the start).
var runStamp = time.Now().UnixNano()

// requestSeq numbers the run's request ids: the services' request logs
// outlive a load (the counting phase's, then the measured one's).
var requestSeq atomic.Int64

func (l *load) requestID() string { return fmt.Sprintf("bench-%x-%d", runStamp, requestSeq.Add(1)) }

// take returns the candidate whose next step is due soonest if it is due,
// or a new candidate (its next step a submission).
func (l *load) take(ctx context.Context) *candidate {
	for {
		l.mu.Lock()
		if len(l.ready) > 0 && !l.ready[0].notBefore.After(time.Now()) {
			c := heap.Pop(&l.ready).(*candidate)
			l.mu.Unlock()
			return c
		}
		if len(l.ready) < maxInFlight {
			n := l.seq.Add(1)
			r := l.regions[n%int64(len(l.regions))]
			cs := l.campaigns[r]
			l.mu.Unlock()
			return &candidate{region: r, campaign: cs[int(n/int64(len(l.regions)))%len(cs)], next: opSubmit}
		}
		wait := time.Until(l.ready[0].notBefore)
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func (l *load) put(c *candidate) {
	if c.next >= numOps {
		return
	}
	l.mu.Lock()
	heap.Push(&l.ready, c)
	l.mu.Unlock()
}

// callResult is one stage update.
type callResult struct {
	op       int
	start    time.Time
	took     time.Duration
	err      error
	notReady bool
}

// step makes c's next stage update (reading the record first when a
// hand-off left its version unknown), and puts c back for the one after.
func (l *load) step(ctx context.Context, c *candidate) (callResult, bool) {
	if c.reread {
		if err := l.reread(ctx, c); err != nil {
			l.notYet.Add(1)
			l.retryLater(c)
			return callResult{}, false
		}
	}
	op := c.next
	start := time.Now()
	v, err := l.call(ctx, c)
	res := callResult{op: op, start: start, took: time.Since(start), err: err}
	if err != nil {
		switch status.Code(err) {
		case codes.NotFound, codes.FailedPrecondition, codes.Aborted:
			if afterHandoff[op] || c.tries > 0 {
				// The hand-off has not arrived yet, or the version guessed
				// for its record was not the one there: try again later.
				res.notReady = true
				l.notYet.Add(1)
				c.reread = status.Code(err) != codes.NotFound
				l.retryLater(c)
				return res, true
			}
		}
		return res, true // the candidate is dropped
	}
	l.counts[op].Add(1)
	c.tries, c.reread = 0, false
	c.version = v
	c.notBefore = time.Time{}
	switch op {
	case opSubmit, opInterview, opAccept:
		// Another service opens the next record at version 1 once it has
		// the event.
		c.version = 1
		c.notBefore = time.Now().Add(20 * time.Millisecond)
	case opSchedule:
		// An outcome is refused before the interview's time.
		c.notBefore = time.Now().Add(interviewLead)
	case opOffer:
		c.offerVersion = v
	case opUnblock:
	case opClear:
		// Offers notes the clearance on the offer.
		c.version = c.offerVersion + 1
		c.notBefore = time.Now().Add(20 * time.Millisecond)
	}
	if op == opAccept {
		c.offerVersion = v
	}
	c.next++
	l.put(c)
	return res, true
}

// interviewLead is how far ahead interviews are booked: soon, since the
// outcome is refused before the interview's time and waits for it.
const interviewLead = 200 * time.Millisecond

func (l *load) retryLater(c *candidate) {
	c.tries++
	c.notBefore = time.Now().Add(min(time.Duration(c.tries)*25*time.Millisecond, time.Second))
	l.put(c)
}

// call makes c's next stage update and returns the record's new version.
func (l *load) call(ctx context.Context, c *candidate) (int64, error) {
	spoc, vetter := l.spoc[c.region], l.vetter[c.region]
	rid := l.requestID()
	switch c.next {
	case opSubmit:
		r, err := l.apps.SubmitApplication(ctx, &applicationsv1.SubmitApplicationRequest{RequestId: rid, CampaignId: c.campaign,
			Candidate: &applicationsv1.Candidate{Name: "Bench Candidate", Email: rid + "@example.org"}}, spoc)
		c.id = r.GetApplication().GetId()
		return r.GetApplication().GetVersion(), err
	case opSift:
		r, err := l.sift.RecordSiftDecision(ctx, &siftingv1.RecordSiftDecisionRequest{RequestId: rid, ApplicationId: c.id,
			ExpectedVersion: c.version, Outcome: commonv1.Outcome_OUTCOME_PASS}, spoc)
		return r.GetCase().GetVersion(), err
	case opSchedule:
		r, err := l.sift.ScheduleInterview(ctx, &siftingv1.ScheduleInterviewRequest{RequestId: rid, ApplicationId: c.id,
			ExpectedVersion: c.version, ScheduledFor: timestamppb.New(time.Now().Add(interviewLead))}, spoc)
		return r.GetCase().GetVersion(), err
	case opInterview:
		r, err := l.sift.RecordInterviewOutcome(ctx, &siftingv1.RecordInterviewOutcomeRequest{RequestId: rid, ApplicationId: c.id,
			ExpectedVersion: c.version, Outcome: commonv1.Outcome_OUTCOME_PASS}, spoc)
		return r.GetCase().GetVersion(), err
	case opOffer:
		r, err := l.offers.MakeConditionalOffer(ctx, &offersv1.MakeConditionalOfferRequest{RequestId: rid, ApplicationId: c.id,
			ExpectedVersion: c.version, SalaryBandCode: "band_4",
			Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}}, spoc)
		return r.GetOffer().GetVersion(), err
	case opAccept:
		r, err := l.offers.AcceptOffer(ctx, &offersv1.AcceptOfferRequest{RequestId: rid, ApplicationId: c.id, ExpectedVersion: c.version}, spoc)
		return r.GetOffer().GetVersion(), err
	case opForms:
		r, err := l.vetting.RecordFormsReceived(ctx, &vettingv1.RecordFormsReceivedRequest{RequestId: rid, ApplicationId: c.id, ExpectedVersion: c.version}, vetter)
		return r.GetCase().GetVersion(), err
	case opBlock:
		r, err := l.vetting.BlockCase(ctx, &vettingv1.BlockCaseRequest{RequestId: rid, ApplicationId: c.id, ExpectedVersion: c.version,
			Reason: commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE, Note: "bench: referee away"}, vetter)
		return r.GetCase().GetVersion(), err
	case opUnblock:
		r, err := l.vetting.UnblockCase(ctx, &vettingv1.UnblockCaseRequest{RequestId: rid, ApplicationId: c.id, ExpectedVersion: c.version}, vetter)
		return r.GetCase().GetVersion(), err
	case opClear:
		r, err := l.vetting.ClearCase(ctx, &vettingv1.ClearCaseRequest{RequestId: rid, ApplicationId: c.id, ExpectedVersion: c.version}, vetter)
		return r.GetCase().GetVersion(), err
	case opStartDate:
		r, err := l.offers.SetStartDate(ctx, &offersv1.SetStartDateRequest{RequestId: rid, ApplicationId: c.id, ExpectedVersion: c.version,
			StartDate: londonToday()}, spoc)
		return r.GetOffer().GetVersion(), err
	case opConfirm:
		// A start needs the right to work check met: recorded first, under
		// a request id of its own derived from the step's (so a retried
		// step retries both).
		m, err := l.offers.RecordCheck(ctx, &offersv1.RecordCheckRequest{RequestId: rid + "-rtw", ApplicationId: c.id, ExpectedVersion: c.version,
			Check: commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK, Status: commonv1.CheckStatus_CHECK_STATUS_MET}, spoc)
		if err != nil {
			return 0, err
		}
		r, err := l.offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{RequestId: rid, ApplicationId: c.id, ExpectedVersion: m.GetOffer().GetVersion()}, spoc)
		return r.GetOffer().GetVersion(), err
	}
	return 0, fmt.Errorf("no step %d", c.next)
}

// reread reads the record c's next step changes, for its version.
func (l *load) reread(ctx context.Context, c *candidate) error {
	l.reads.Add(1)
	var v int64
	var err error
	switch c.next {
	case opSift, opSchedule, opInterview:
		var r *siftingv1.GetCaseResponse
		r, err = l.sift.GetCase(ctx, &siftingv1.GetCaseRequest{ApplicationId: c.id}, l.spoc[c.region])
		v = r.GetCase().GetVersion()
	case opOffer, opAccept, opStartDate, opConfirm:
		var r *offersv1.GetOfferResponse
		r, err = l.offers.GetOffer(ctx, &offersv1.GetOfferRequest{ApplicationId: c.id}, l.spoc[c.region])
		v = r.GetOffer().GetVersion()
		if err == nil && c.next == opStartDate && !r.GetOffer().GetVettingCleared() {
			return fmt.Errorf("vetting not yet cleared on the offer")
		}
	default:
		var r *vettingv1.GetCaseResponse
		r, err = l.vetting.GetCase(ctx, &vettingv1.GetCaseRequest{ApplicationId: c.id}, l.vetter[c.region])
		v = r.GetCase().GetVersion()
	}
	if err != nil {
		return err
	}
	c.version = v
	return nil
}

// opTotals are the successful stage updates of the run, by kind.
func (l *load) opTotals() [numOps]int64 {
	var out [numOps]int64
	for i := range out {
		out[i] = l.counts[i].Load()
	}
	return out
}

// latency summarises one set of calls.
type latency struct {
	calls, errors, notReady int
	rate                    float64
	p50, p90, p99, max      time.Duration
	errCodes                map[string]int
	firstErr                error
	byOp                    [numOps]int
}

func summarise(lat []time.Duration, d time.Duration) latency {
	slices.Sort(lat)
	s := latency{calls: len(lat), rate: float64(len(lat)) / d.Seconds()}
	if len(lat) == 0 {
		return s
	}
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	s.p50, s.p90, s.p99, s.max = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
	return s
}

// closedLoop runs n callers, each making the next due stage update as
// soon as its last one returned, for warmup and then d measured.
func (l *load) closedLoop(ctx context.Context, n int, warmup, d time.Duration) latency {
	return l.drive(ctx, n, nil, warmup, d)
}

// drive runs n callers for warmup + d; with gate, each call first takes a
// token from it (paced load). It summarises the calls started in the
// measured window.
func (l *load) drive(ctx context.Context, n int, gate <-chan struct{}, warmup, d time.Duration) latency {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	from := time.Now().Add(warmup)
	until := from.Add(d)
	var mu sync.Mutex
	var all []time.Duration
	out := latency{errCodes: map[string]int{}}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(until) {
				if gate != nil {
					select {
					case <-gate:
					case <-time.After(time.Until(until)):
						continue
					}
				}
				c := l.take(ctx)
				if c == nil {
					return
				}
				res, called := l.step(ctx, c)
				if !called || res.start.Before(from) {
					continue
				}
				mu.Lock()
				switch {
				case res.notReady:
					out.notReady++
				case res.err != nil:
					out.errors++
					out.errCodes[opNames[res.op]+": "+status.Code(res.err).String()]++
					if out.firstErr == nil {
						out.firstErr = res.err
					}
				default:
					mine = append(mine, res.took)
					out.byOp[res.op]++
				}
				mu.Unlock()
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	s := summarise(all, d)
	s.errors, s.notReady, s.errCodes, s.firstErr, s.byOp = out.errors, out.notReady, out.errCodes, out.firstErr, out.byOp
	return s
}

// lagResult is one lag phase.
type lagResult struct {
	target, callers    int
	achieved           float64
	probes, unseen     int
	p50, p90, p99, max time.Duration
	load               latency
	pollInterval       time.Duration
}

// lag runs the mix paced so that with the probe it makes rate updates/s
// (or closed-loop with callers when rate is 0) for d, while a probe
// submits an application to the probe region every 50 ms and polls GetRegionSummary every 5 ms until the
// region's count includes it: the time from the submission's return to
// the first summary that shows it.
func (l *load) lag(ctx context.Context, rate, callers int, d time.Duration) (lagResult, error) {
	const probeEvery, pollEvery = 50 * time.Millisecond, 5 * time.Millisecond
	res := lagResult{target: rate, callers: callers, pollInterval: pollEvery}
	base, err := l.awaitProbes(ctx, 30*time.Second)
	if err != nil {
		return res, err
	}
	sentBefore := l.probesSent
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type probe struct {
		n        int64
		returned time.Time
	}
	var mu sync.Mutex
	var pending []probe
	var lags []time.Duration
	var probeErr error
	probesDone := make(chan struct{})
	go func() { // the probe's submissions
		defer close(probesDone)
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			<-t.C
			rid := l.requestID()
			_, err := l.apps.SubmitApplication(ctx, &applicationsv1.SubmitApplicationRequest{RequestId: rid, CampaignId: l.probeCampaign,
				Candidate: &applicationsv1.Candidate{Name: "Bench Probe", Email: rid + "@example.org"}}, l.spoc[probeRegion])
			if err != nil {
				mu.Lock()
				probeErr = err
				mu.Unlock()
				continue
			}
			mu.Lock()
			l.probesSent++
			pending = append(pending, probe{n: l.probesSent, returned: time.Now()})
			mu.Unlock()
		}
	}()
	pollDone := make(chan struct{})
	go func() { // the poller
		defer close(pollDone)
		t := time.NewTicker(pollEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := l.probeCount(ctx)
			if err != nil {
				continue
			}
			now := time.Now()
			mu.Lock()
			for len(pending) > 0 && n-base >= pending[0].n-sentBefore {
				lags = append(lags, now.Sub(pending[0].returned))
				pending = pending[1:]
			}
			mu.Unlock()
		}
	}()
	var gate chan struct{}
	n := callers
	// The probe is probeRate of the updates; the mix makes the rest.
	const probeRate = int(time.Second / probeEvery)
	rate -= probeRate
	if target := res.target; target > 0 && target <= probeRate {
		n, rate = 0, 0
	}
	if rate > 0 {
		// Paced: a token every 1/rate s, taken by up to 256 callers; a
		// token not taken within a second is dropped (the achieved rate
		// says so).
		gate = make(chan struct{}, rate)
		n = 256
		go func() {
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			start := time.Now()
			var sent int64
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				due := int64(time.Since(start).Seconds()*float64(rate)) - sent
				for ; due > 0; due-- {
					select {
					case gate <- struct{}{}:
					default:
					}
					sent++
				}
			}
		}()
	}
	if n > 0 {
		res.load = l.drive(ctx, n, gate, 0, d)
	}
	<-probesDone
	// Give the last probes time to show.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		left := len(pending)
		mu.Unlock()
		if left == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-pollDone
	mu.Lock()
	defer mu.Unlock()
	if probeErr != nil && len(lags) == 0 {
		return res, fmt.Errorf("lag probe: %w", probeErr)
	}
	res.unseen = len(pending)
	res.probes = len(lags)
	// Every probe is one update too.
	res.achieved = res.load.rate + float64(len(lags)+len(pending))/d.Seconds()
	s := summarise(lags, d)
	res.p50, res.p90, res.p99, res.max = s.p50, s.p90, s.p99, s.max
	return res, nil
}

// probeCount is the number of applications the probe region's summary
// counts.
func (l *load) probeCount(ctx context.Context) (int64, error) {
	r, err := l.reports.GetRegionSummary(ctx, &reportingv1.GetRegionSummaryRequest{Region: probeRegion}, l.dashboard)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, sc := range r.GetSummary().GetStageCounts() {
		n += int64(sc.GetCount())
	}
	return n, nil
}

// awaitProbes waits until the summary counts every probe sent so far and
// returns the count.
func (l *load) awaitProbes(ctx context.Context, within time.Duration) (int64, error) {
	deadline := time.Now().Add(within)
	for {
		n, err := l.probeCount(ctx)
		if err == nil && n >= l.probesSent {
			return n, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the probe region's summary counts %d of %d probes after %s (last error %v)", n, l.probesSent, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
