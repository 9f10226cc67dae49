package projection

import (
	"maps"
	"slices"
	"testing"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// TestVettingDurations: a case opened, forms in after 2 days, blocked for
// missing documents for 3 days, blocked again (overseas checks) until
// cleared 3 days later — in any order of arrival, and with repeats, the
// steps and each block measure the same.
func TestVettingDurations(t *testing.T) {
	t.Parallel()
	h := newHistory()
	h.add("applications", 0, &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}})
	h.add("offers", 1, &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
	h.add("vetting", 0, &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}})
	h.add("vetting", 2, &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}})
	h.add("vetting", 0.5, &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: "vetting-1"}})
	h.add("vetting", 0.5, &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}})
	h.add("vetting", 3, &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}})
	h.add("vetting", 1, &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS}})
	h.add("vetting", 3, &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}})

	want := map[Measure]int{
		VettingOpenedToForms: 2, VettingFormsToCleared: 8, VettingOpenedToClear: 10,
		VettingBlocked + Measure(commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS): 3,
		VettingBlocked + Measure(commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS):   3,
	}
	orders := map[string][]*eventsv1.Event{"in order": h.events, "reversed": reversed(h.events),
		"repeated": append(slices.Clone(h.events), h.events...)}
	for name, events := range orders {
		t.Run(name, func(t *testing.T) {
			a := &App{}
			for _, ev := range events {
				a.Apply(ev)
			}
			got := map[Measure]int{}
			for _, d := range a.vettingDurations() {
				if _, dup := got[d.Measure]; dup {
					t.Errorf("measure %d twice", d.Measure)
				}
				got[d.Measure] = d.Days
			}
			if !maps.Equal(got, want) {
				t.Errorf("vetting durations = %v, want %v", got, want)
			}
			if len(a.VettingSteps) != 6 {
				t.Errorf("%d vetting steps, want 6 (the assignment is no step): %+v", len(a.VettingSteps), a.VettingSteps)
			}
		})
	}
}

// TestOpenBlockEndsAtWithdrawal: a block nothing followed is not measured
// until the application is withdrawn, which ends it.
func TestOpenBlockEndsAtWithdrawal(t *testing.T) {
	t.Parallel()
	h := newHistory()
	h.add("offers", 0, &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
	h.add("vetting", 0, &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}})
	h.add("vetting", 1, &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH}})
	a := &App{}
	for _, ev := range h.events {
		a.Apply(ev)
	}
	if d := a.vettingDurations(); len(d) != 0 {
		t.Errorf("an open block measured: %+v", d)
	}
	h.add("applications", 4, &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "x"}})
	a.Apply(h.events[len(h.events)-1])
	d := a.vettingDurations()
	if len(d) != 1 || d[0].Measure != VettingBlocked+Measure(commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH) || d[0].Days != 4 {
		t.Errorf("after the withdrawal: %+v, want one identity-mismatch block of 4 days", d)
	}
}

func reversed(evs []*eventsv1.Event) []*eventsv1.Event {
	out := slices.Clone(evs)
	slices.Reverse(out)
	return out
}
