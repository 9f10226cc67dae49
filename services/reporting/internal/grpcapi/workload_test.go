package grpcapi_test

import (
	"time"

	"github.com/probation-recruitment/pipeline/pkg/event"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// at is 2026-m-d at h:00 UTC; atm adds minutes.
func at(m time.Month, d, h int) time.Time { return atm(m, d, h, 0) }

func atm(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, time.UTC) }

// day is the calendar date 2026-m-d (midnight UTC, the contract's dates).
func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }

// system is the actor of the events in these tests.
var system = event.SystemActor("test")

// campaignTitle is the title of every campaign these tests create
// (titles_test.go sets others).
const campaignTitle = "Probation officers"

// campaign builds a campaign's events, numbered as the applications service
// numbers its campaigns.
type campaign struct {
	id, region string
	role       commonv1.JobRole
	version    int64
}

func newCampaign(region string, role commonv1.JobRole) *campaign {
	return &campaign{id: event.NewID(), region: region, role: role}
}

func (c *campaign) event(at time.Time, opens time.Time, closes *time.Time) (*eventsv1.Event, *eventsv1.CampaignDetails) {
	c.version++
	ev := event.New("applications", system, at, event.Record{CampaignID: c.id, Region: c.region, Role: c.role, Version: c.version})
	d := &eventsv1.CampaignDetails{Title: campaignTitle, Posts: 4, OpensOn: event.Date(opens)}
	if closes != nil {
		d.ClosesOn = event.Date(*closes)
	}
	return ev, d
}

// created is campaign.created; closes nil is a rolling campaign.
func (c *campaign) created(at time.Time, opens time.Time, closes *time.Time) *eventsv1.Event {
	ev, d := c.event(at, opens, closes)
	ev.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: d}}
	return ev
}

func (c *campaign) updated(at time.Time, opens time.Time, closes *time.Time) *eventsv1.Event {
	ev, d := c.event(at, opens, closes)
	ev.Payload = &eventsv1.Event_CampaignUpdated{CampaignUpdated: &eventsv1.CampaignUpdated{Campaign: d}}
	return ev
}

// app builds one application's events in causal order, each producer
// numbering its own record (aggregate_version) from 1.
type app struct {
	id       string
	c        *campaign
	versions map[string]int64
	evs      []*eventsv1.Event
}

func newApp(c *campaign) *app {
	return &app{id: event.NewID(), c: c, versions: map[string]int64{}}
}

func (a *app) add(producer string, at time.Time, set func(ev *eventsv1.Event)) *app {
	a.versions[producer]++
	ev := event.New(producer, system, at, event.Record{
		ApplicationID: a.id, CampaignID: a.c.id, Region: a.c.region, Role: a.c.role, Version: a.versions[producer],
	})
	set(ev)
	a.evs = append(a.evs, ev)
	return a
}

func (a *app) submitted(at time.Time) *app {
	return a.add("applications", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	})
}

func (a *app) withdrawn(at time.Time, stage commonv1.Stage) *app {
	return a.add("applications", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "candidate_request", Stage: stage}}
	})
}

func (a *app) siftPassed(at time.Time) *app {
	return a.add("sifting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}
	})
}

func (a *app) siftFailed(at time.Time) *app {
	return a.add("sifting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "criteria_not_met"}}
	})
}

func (a *app) interviewPassed(at time.Time) *app {
	return a.add("sifting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
	})
}

func (a *app) interviewFailed(at time.Time) *app {
	return a.add("sifting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: "below_bar"}}
	})
}

func (a *app) offerMade(at time.Time) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "band_4"}}
	})
}

func (a *app) offerAccepted(at time.Time) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	})
}

// startDateSet sets the start date; due is the vetting due date, or zero.
func (a *app) startDateSet(at, start time.Time, subject bool, due time.Time) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		p := &eventsv1.OfferStartDateSet{StartDate: event.Date(start), SubjectToVetting: subject}
		if !due.IsZero() {
			p.VettingDueBy = event.Date(due)
		}
		ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: p}
	})
}

func (a *app) started(at, start time.Time, subject bool, due time.Time) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		p := &eventsv1.CandidateStarted{StartDate: event.Date(start), SubjectToVetting: subject}
		if !due.IsZero() {
			p.VettingDueBy = event.Date(due)
		}
		ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: p}
	})
}

func (a *app) vettingOpened(at time.Time) *app {
	return a.add("vetting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{Level: commonv1.VettingLevel_VETTING_LEVEL_CTC}}
	})
}

func (a *app) vettingBlocked(at time.Time, reason commonv1.BlockReason) *app {
	return a.add("vetting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: reason}}
	})
}

func (a *app) vettingUnblocked(at time.Time) *app {
	return a.add("vetting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
	})
}

func (a *app) vettingCleared(at time.Time) *app {
	return a.add("vetting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	})
}

// Roles of the scripted campaigns.
const (
	po  = commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER
	pso = commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER
)

// scripted is a small pipeline with hand-chosen times (all UTC; London is
// on BST, UTC+1, from 29 March, so each 10:00 UTC is the same London date).
//
//	c1  london, probation officer, opens 1 March, closes Tue 31 March 2026
//	c2  london, PSO, rolling (no closing date), opens 1 April
//	cw  wales, probation officer, closes 31 March
//
//	l1  c1  submitted 10/3, sift 20/3, interview 1/4, offer 8/4, accepted 10/4,
//	        vetting cleared 1/5, started Mon 11/5 (cleared before start)         HIRED
//	l2  c1  submitted 12/3, sift 23/3, interview 2/4, offer 9/4, accepted 13/4,
//	        started Tue 5/5 subject to vetting due 20/5, never cleared            HIRED
//	l3  c1  submitted 15/3, sift 25/3, interview 14/4, offer 15/4, accepted 20/4,
//	        vetting blocked 1/5, unblocked 5/5, blocked again 25/5 10:00          PRE_EMPLOYMENT
//	l4  c1  submitted 16/3, sift failed 26/3                                      REJECTED in SIFT
//	l5  c1  submitted 17/3, sift 27/3, interview failed 16/4                      REJECTED in INTERVIEW
//	l6  c1  submitted 18/3, sift 30/3, interview 15/4, offer 17/4, withdrawn 24/4 WITHDRAWN in OFFER
//	l7  c1  submitted 14/5                                                        SIFT
//	l8  c1  submitted 19/3, sift 12/5                                             INTERVIEW
//	l9  c2  submitted 1/4, sift 7/4, interview 21/4, offer 22/4, accepted 24/4,
//	        vetting cleared 15/5, started Tue 26/5                                HIRED
//	l10 c2  submitted 20/4, sift 27/4, interview 19/5 09:00, offer 20/5           OFFER
//	w1  cw  submitted 11/3, sift 21/3, interview 1/4, offer 7/4, accepted 9/4,
//	        cleared 30/4, started 6/5                                             HIRED
//	w2  cw  submitted 1/5                                                         SIFT
type scripted struct {
	c1, c2, cw                              *campaign
	l1, l2, l3, l4, l5, l6, l7, l8, l9, l10 *app
	w1, w2                                  *app
	// campaignEvents then every application's events: a causal order.
	events []*eventsv1.Event
}

func newScripted() *scripted {
	s := &scripted{c1: newCampaign("london", po), c2: newCampaign("london", pso), cw: newCampaign("wales", po)}
	closes := day(time.March, 31)
	s.events = append(s.events,
		s.c1.created(at(time.March, 1, 9), day(time.March, 1), &closes),
		s.c2.created(at(time.March, 25, 9), day(time.April, 1), nil),
		s.cw.created(at(time.March, 1, 9), day(time.March, 1), &closes),
	)
	none := time.Time{}
	s.l1 = newApp(s.c1).submitted(at(time.March, 10, 10)).siftPassed(at(time.March, 20, 10)).
		interviewPassed(at(time.April, 1, 10)).offerMade(at(time.April, 8, 10)).offerAccepted(at(time.April, 10, 10)).
		vettingOpened(at(time.April, 10, 11)).startDateSet(at(time.April, 20, 10), day(time.May, 11), false, none).
		vettingCleared(at(time.May, 1, 10)).started(at(time.May, 11, 10), day(time.May, 11), false, none)
	s.l2 = newApp(s.c1).submitted(at(time.March, 12, 10)).siftPassed(at(time.March, 23, 10)).
		interviewPassed(at(time.April, 2, 10)).offerMade(at(time.April, 9, 10)).offerAccepted(at(time.April, 13, 10)).
		vettingOpened(at(time.April, 13, 11)).startDateSet(at(time.April, 20, 10), day(time.May, 5), true, day(time.May, 20)).
		started(at(time.May, 5, 10), day(time.May, 5), true, day(time.May, 20))
	s.l3 = newApp(s.c1).submitted(at(time.March, 15, 10)).siftPassed(at(time.March, 25, 10)).
		interviewPassed(at(time.April, 14, 10)).offerMade(at(time.April, 15, 10)).offerAccepted(at(time.April, 20, 10)).
		vettingOpened(at(time.April, 20, 11)).vettingBlocked(at(time.May, 1, 10), commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS).
		vettingUnblocked(at(time.May, 5, 10)).vettingBlocked(at(time.May, 25, 10), commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE)
	s.l4 = newApp(s.c1).submitted(at(time.March, 16, 10)).siftFailed(at(time.March, 26, 10))
	s.l5 = newApp(s.c1).submitted(at(time.March, 17, 10)).siftPassed(at(time.March, 27, 10)).interviewFailed(at(time.April, 16, 10))
	s.l6 = newApp(s.c1).submitted(at(time.March, 18, 10)).siftPassed(at(time.March, 30, 10)).
		interviewPassed(at(time.April, 15, 10)).offerMade(at(time.April, 17, 10)).withdrawn(at(time.April, 24, 10), commonv1.Stage_STAGE_OFFER)
	s.l7 = newApp(s.c1).submitted(at(time.May, 14, 10))
	s.l8 = newApp(s.c1).submitted(at(time.March, 19, 10)).siftPassed(at(time.May, 12, 10))
	s.l9 = newApp(s.c2).submitted(at(time.April, 1, 10)).siftPassed(at(time.April, 7, 10)).
		interviewPassed(at(time.April, 21, 10)).offerMade(at(time.April, 22, 10)).offerAccepted(at(time.April, 24, 10)).
		vettingOpened(at(time.April, 24, 11)).vettingCleared(at(time.May, 15, 10)).
		startDateSet(at(time.May, 15, 11), day(time.May, 26), false, none).started(at(time.May, 26, 10), day(time.May, 26), false, none)
	s.l10 = newApp(s.c2).submitted(at(time.April, 20, 10)).siftPassed(at(time.April, 27, 10)).
		interviewPassed(at(time.May, 19, 9)).offerMade(at(time.May, 20, 10))
	s.w1 = newApp(s.cw).submitted(at(time.March, 11, 10)).siftPassed(at(time.March, 21, 10)).
		interviewPassed(at(time.April, 1, 10)).offerMade(at(time.April, 7, 10)).offerAccepted(at(time.April, 9, 10)).
		vettingOpened(at(time.April, 9, 11)).vettingCleared(at(time.April, 30, 10)).
		startDateSet(at(time.April, 30, 11), day(time.May, 6), false, none).started(at(time.May, 6, 10), day(time.May, 6), false, none)
	s.w2 = newApp(s.cw).submitted(at(time.May, 1, 10))
	for _, a := range s.apps() {
		s.events = append(s.events, a.evs...)
	}
	return s
}

func (s *scripted) apps() []*app {
	return []*app{s.l1, s.l2, s.l3, s.l4, s.l5, s.l6, s.l7, s.l8, s.l9, s.l10, s.w1, s.w2}
}
