package main

import (
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/region"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// workload generates the events of campaigns and their applications, each
// application's history causally ordered, with plausible proportions:
// about half pass the sift, most interviews pass, some vetting cases block,
// some candidates start before vetting clears, some withdraw.
type workload struct {
	rng  *rand.Rand
	emit func(*eventsv1.Event)
	// AppsPerCampaign on average.
	appsPerCampaign int
}

var roles = []commonv1.JobRole{
	commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER,
	commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR,
	commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER,
}

var epoch = time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)

type record struct {
	w                         *workload
	app, campaign, regionCode string
	role                      commonv1.JobRole
	at                        time.Time
	versions                  map[string]int64
}

func (r *record) add(producer string, days float64, set func(*eventsv1.Event)) {
	r.at = r.at.Add(time.Duration(days * 24 * float64(time.Hour)))
	r.versions[producer]++
	ev := &eventsv1.Event{
		EventId: event.NewID(), ApplicationId: r.app, Region: r.regionCode, CampaignId: r.campaign, Role: r.role,
		OccurredAt: timestamppb.New(r.at), Producer: producer, AggregateVersion: r.versions[producer],
		Actor: &commonv1.Actor{Subject: "bench", Role: commonv1.CallerRole_CALLER_ROLE_SPOC},
	}
	set(ev)
	r.w.emit(ev)
}

func date(t time.Time) *commonv1.Date { return event.Date(t) }

// campaign emits one campaign and its applications; it returns how many
// applications it made.
func (w *workload) campaign() int {
	rng := w.rng
	regionCode := region.All[rng.IntN(len(region.All))]
	role := roles[rng.IntN(len(roles))]
	opens := epoch.AddDate(0, 0, rng.IntN(900))
	closes := opens.AddDate(0, 0, 14+rng.IntN(28))
	c := &record{w: w, campaign: event.NewID(), regionCode: regionCode, role: role, at: opens, versions: map[string]int64{}}
	details := &eventsv1.CampaignDetails{Title: "Campaign", Posts: int32(10 + rng.IntN(200)), OpensOn: date(opens)}
	if rng.IntN(10) > 0 { // one in ten is rolling
		details.ClosesOn = date(closes)
	}
	c.add("applications", 0, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: details}}
	})
	n := w.appsPerCampaign/2 + rng.IntN(w.appsPerCampaign)
	for range n {
		w.application(c, opens, closes)
	}
	return n
}

func (w *workload) application(c *record, opens, closes time.Time) {
	rng := w.rng
	a := &record{w: w, app: event.NewID(), campaign: c.campaign, regionCode: c.regionCode, role: c.role,
		at: opens.Add(time.Duration(rng.Int64N(int64(closes.Sub(opens))))), versions: map[string]int64{}}
	gap := func(lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }
	withdraw := func() bool {
		if rng.IntN(25) != 0 {
			return false
		}
		a.add("applications", gap(0.5, 10), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "candidate_request"}}
		})
		return true
	}
	a.add("applications", 0, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	})
	if withdraw() {
		return
	}
	if rng.IntN(10) < 3 {
		a.add("sifting", gap(2, 20), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "insufficient_evidence"}}
		})
		return
	}
	a.add("sifting", gap(2, 20), func(ev *eventsv1.Event) { ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}} })
	a.add("sifting", gap(1, 5), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(a.at.AddDate(0, 0, 7))}}
	})
	if withdraw() {
		return
	}
	if rng.IntN(10) < 2 {
		a.add("sifting", gap(5, 20), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: "below_standard"}}
		})
		return
	}
	a.add("sifting", gap(5, 20), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
	})
	a.add("offers", gap(1, 14), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "band_4",
			Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}}}
	})
	if withdraw() {
		return
	}
	a.add("offers", gap(1, 7), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	})
	a.add("vetting", 0.01, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{Level: commonv1.VettingLevel_VETTING_LEVEL_CTC}}
	})
	a.add("vetting", gap(2, 10), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	})
	if rng.IntN(5) == 0 {
		a.add("vetting", gap(1, 10), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason(1 + rng.IntN(5))}}
		})
		if rng.IntN(4) == 0 {
			return // still blocked
		}
		a.add("vetting", gap(1, 30), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
		})
	}
	start := a.at.AddDate(0, 0, 14+rng.IntN(28))
	early := rng.IntN(3) == 0 // starts subject to vetting
	if early {
		a.add("offers", gap(1, 3), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{StartDate: date(start),
				SubjectToVetting: true, ApprovedBy: "head-of-resourcing", VettingDueBy: date(start.AddDate(0, 0, 56))}}
		})
		a.add("offers", start.Sub(a.at).Hours()/24+0.1, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: date(start),
				SubjectToVetting: true, ApprovedBy: "head-of-resourcing", VettingDueBy: date(start.AddDate(0, 0, 56))}}
		})
	}
	if rng.IntN(20) == 0 {
		a.add("vetting", gap(5, 40), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: "identity_not_verified"}}
		})
		a.add("offers", 0.01, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: early}}
		})
		return
	}
	a.add("vetting", gap(5, 40), func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	})
	if !early {
		if start.Before(a.at) {
			start = a.at.AddDate(0, 0, 14)
		}
		a.add("offers", gap(0.5, 2), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{StartDate: date(start)}}
		})
		a.add("offers", start.Sub(a.at).Hours()/24+0.1, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: date(start)}}
		})
	}
}
