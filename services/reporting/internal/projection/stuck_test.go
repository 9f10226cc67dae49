package projection

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// stageClock returns the application's StuckStage clock.
func stageClock(t *testing.T, a App) Clock {
	t.Helper()
	for _, c := range a.Clocks(DefaultThresholds()) {
		if c.Kind == StuckStage {
			return c
		}
	}
	t.Fatal("no stage clock")
	return Clock{}
}

func booked(at time.Time) *eventsv1.Event_InterviewScheduled {
	return &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(at)}}
}

// TestInterviewClockRunsFromTheInterview: in INTERVIEW with an interview
// booked, the clock (14/21 days) runs from the interview, the latest
// booking winning; with none booked, from entering the stage.
func TestInterviewClockRunsFromTheInterview(t *testing.T) {
	t.Parallel()
	day := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(24*time.Hour))) }
	tests := []struct {
		name      string
		bookings  []time.Time // in the order sifting made them
		wantSince time.Time
	}{
		// Sift passed on day 1 (below): no interview booked yet.
		{"none booked: from the sift", nil, day(1)},
		{"booked for day 30: from day 30", []time.Time{day(30)}, day(30)},
		{"rebooked from day 30 to day 40", []time.Time{day(30), day(40)}, day(40)},
		{"rebooked earlier, to day 20", []time.Time{day(30), day(20)}, day(20)},
		// A date before the stage began cannot start the clock earlier.
		{"booked before the stage began", []time.Time{day(0.5)}, day(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory()
			h.add("applications", 0, &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}})
			h.add("sifting", 1, &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}})
			for _, b := range tt.bookings {
				h.add("sifting", 0.1, booked(b))
			}
			// Delivered newest first: the latest booking still wins.
			evs := append([]*eventsv1.Event(nil), h.events...)
			for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
				evs[i], evs[j] = evs[j], evs[i]
			}
			c := stageClock(t, fold(evs))
			if c.Stage != commonv1.Stage_STAGE_INTERVIEW || !c.Since.Equal(tt.wantSince) {
				t.Fatalf("clock %v since %v, want INTERVIEW since %v", c.Stage, c.Since, tt.wantSince)
			}
			if want := tt.wantSince.Add(14 * 24 * time.Hour); !c.WarningAt.Equal(want) {
				t.Fatalf("warning at %v, want %v", c.WarningAt, want)
			}
			if want := tt.wantSince.Add(21 * 24 * time.Hour); !c.BreachAt.Equal(want) {
				t.Fatalf("breach at %v, want %v", c.BreachAt, want)
			}
		})
	}
}

// TestPreEmploymentNextActor: a PRE_EMPLOYMENT case is the vetting contact
// point's while its vetting is blocked, or its forms are in and it has not
// cleared; otherwise the SPOC's.
func TestPreEmploymentNextActor(t *testing.T) {
	t.Parallel()
	forms := &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	blocked := &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY}}
	unblocked := &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
	cleared := &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	tests := []struct {
		name    string
		vetting []any
		want    NextActor
	}{
		{"opened, no forms", nil, ActorSPOC},
		{"forms received", []any{forms}, ActorVetting},
		{"forms received, blocked, unblocked", []any{forms, blocked, unblocked}, ActorVetting},
		{"blocked without forms", []any{blocked}, ActorVetting},
		{"forms received and cleared: the SPOC sets the start", []any{forms, cleared}, ActorSPOC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHistory()
			h.add("applications", 0, &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}})
			h.add("sifting", 1, &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}})
			h.add("sifting", 1, &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}})
			h.add("offers", 1, &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{}})
			h.add("offers", 1, &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
			h.add("vetting", 0.01, &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}})
			for _, p := range tt.vetting {
				h.add("vetting", 1, p)
			}
			c := stageClock(t, fold(h.events))
			if c.Stage != commonv1.Stage_STAGE_PRE_EMPLOYMENT || c.NextActor != tt.want {
				t.Fatalf("%v clock names actor %v, want %v", c.Stage, c.NextActor, tt.want)
			}
		})
	}
}

// TestClockAssignee: each clock names the assignee of the record its next
// actor works on, latest by the producer's version whatever the order of
// arrival, and "" once unassigned.
func TestClockAssignee(t *testing.T) {
	t.Parallel()
	assigned := func(producer, to string) any {
		switch producer {
		case "sifting":
			if to == "" {
				return &eventsv1.Event_SiftUnassigned{SiftUnassigned: &eventsv1.CaseUnassigned{}}
			}
			return &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: to}}
		case "offers":
			if to == "" {
				return &eventsv1.Event_OfferUnassigned{OfferUnassigned: &eventsv1.CaseUnassigned{}}
			}
			return &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: to}}
		}
		if to == "" {
			return &eventsv1.Event_VettingUnassigned{VettingUnassigned: &eventsv1.VettingUnassigned{}}
		}
		return &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: to}}
	}
	// Every record assigned twice (the second wins), vetting then unassigned.
	base := func(upTo string, vettingUnassigned, blocked, forms bool) *history {
		h := newHistory()
		h.add("applications", 0, &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}})
		h.add("sifting", 0.1, assigned("sifting", "sift-1"))
		h.add("sifting", 0.1, assigned("sifting", "sift-2"))
		if upTo == "sift" {
			return h
		}
		h.add("sifting", 1, &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}})
		h.add("sifting", 1, &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}})
		h.add("offers", 1, &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "b"}})
		h.add("offers", 0.1, assigned("offers", "offer-1"))
		h.add("offers", 0.1, assigned("offers", "offer-2"))
		if upTo == "offer" {
			return h
		}
		h.add("offers", 1, &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
		h.add("vetting", 0.1, &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}})
		h.add("vetting", 0.1, assigned("vetting", "vet-1"))
		h.add("vetting", 0.1, assigned("vetting", "vet-2"))
		if forms {
			h.add("vetting", 0.1, &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}})
		}
		if blocked {
			h.add("vetting", 0.1, &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}})
		}
		if vettingUnassigned {
			h.add("vetting", 0.1, assigned("vetting", ""))
		}
		return h
	}
	tests := []struct {
		name string
		h    *history
		want map[StuckKind]string
	}{
		{"in SIFT: the sift case's", base("sift", false, false, false), map[StuckKind]string{StuckStage: "sift-2"}},
		{"in OFFER: the offer's", base("offer", false, false, false), map[StuckKind]string{StuckStage: "offer-2"}},
		{"in PRE_EMPLOYMENT, no forms: the offer's", base("pre", false, false, false), map[StuckKind]string{StuckStage: "offer-2"}},
		{"in PRE_EMPLOYMENT, forms in: the vetting case's", base("pre", false, false, true), map[StuckKind]string{StuckStage: "vet-2"}},
		{"blocked: the vetting case's for both clocks", base("pre", false, true, false),
			map[StuckKind]string{StuckStage: "vet-2", StuckVettingBlocked: "vet-2"}},
		{"blocked, vetting unassigned: nobody", base("pre", true, true, false),
			map[StuckKind]string{StuckStage: "", StuckVettingBlocked: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Newest first: the highest version still wins.
			var a App
			for i := len(tt.h.events) - 1; i >= 0; i-- {
				a.Apply(tt.h.events[i])
			}
			got := map[StuckKind]string{}
			for _, c := range a.Clocks(DefaultThresholds()) {
				got[c.Kind] = c.Assignee
			}
			if len(got) != len(tt.want) {
				t.Fatalf("clocks %v, want %v", got, tt.want)
			}
			for k, w := range tt.want {
				if got[k] != w {
					t.Errorf("clock %d assignee %q, want %q", k, got[k], w)
				}
			}
		})
	}
}

// TestThresholdsForRole: a role's overrides replace the region's limits
// they name and leave the others; a role without overrides gets the
// region's, and the region's are never changed.
func TestThresholdsForRole(t *testing.T) {
	t.Parallel()
	region := DefaultThresholds()
	longer := Limit{6, 9}
	region.Roles = map[commonv1.JobRole]Overrides{
		commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER: {Stages: map[commonv1.Stage]Limit{commonv1.Stage_STAGE_SIFT: {4, 6}}, Blocked: &longer},
		commonv1.JobRole_JOB_ROLE_ADMINISTRATOR:     {Stages: map[commonv1.Stage]Limit{commonv1.Stage_STAGE_OFFER: {2, 3}}},
	}
	po := region.For(commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
	if po.Stages[commonv1.Stage_STAGE_SIFT] != (Limit{4, 6}) || po.Blocked != longer || po.Stages[commonv1.Stage_STAGE_OFFER] != (Limit{7, 10}) {
		t.Errorf("probation officers: %+v", po)
	}
	clerk := region.For(commonv1.JobRole_JOB_ROLE_ADMINISTRATOR)
	if clerk.Stages[commonv1.Stage_STAGE_OFFER] != (Limit{2, 3}) || clerk.Blocked != (Limit{3, 5}) || clerk.Stages[commonv1.Stage_STAGE_SIFT] != (Limit{10, 14}) {
		t.Errorf("administrators: %+v", clerk)
	}
	other := region.For(commonv1.JobRole_JOB_ROLE_OTHER)
	if other.Stages[commonv1.Stage_STAGE_SIFT] != (Limit{10, 14}) || other.Blocked != (Limit{3, 5}) {
		t.Errorf("a role without overrides: %+v", other)
	}
	if region.Stages[commonv1.Stage_STAGE_SIFT] != (Limit{10, 14}) || region.Blocked != (Limit{3, 5}) {
		t.Errorf("the region's own changed: %+v", region)
	}
}
