package event

import (
	"slices"
	"testing"

	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

func TestEveryEventHasOneOwner(t *testing.T) {
	t.Parallel()
	aggregates := map[string]bool{}
	for _, name := range Names() {
		aggregates[Aggregate(name)] = true
		if _, ok := OwnerOf(name); !ok {
			t.Errorf("event %s (in the contract) has no owner in Owners", name)
		}
	}
	for aggregate := range Owners {
		if !aggregates[aggregate] {
			t.Errorf("Owners names aggregate %q, which no event in the contract has", aggregate)
		}
	}
}

func TestOwnersMatchDesign(t *testing.T) {
	t.Parallel()
	// docs/design.md §3: each stage is owned by exactly one service.
	want := map[string]string{
		"campaign.created": "applications", "application.submitted": "applications", "application.withdrawn": "applications",
		"sift.passed": "sifting", "interview.scheduled": "sifting", "interview.passed": "sifting",
		"offer.accepted": "offers", "offer.start_date_set": "offers", "candidate.started": "offers",
		"vetting.opened": "vetting", "vetting.cleared": "vetting", "vetting.failed": "vetting",
		"sift.assigned": "sifting", "offer.assigned": "offers", "stuck.breach": "reporting",
	}
	for name, owner := range want {
		if got, _ := OwnerOf(name); got != owner {
			t.Errorf("OwnerOf(%s) = %q, want %q", name, got, owner)
		}
	}
	if got := Producers(); !slices.Equal(got, []string{"applications", "offers", "reporting", "sifting", "vetting"}) {
		t.Errorf("Producers() = %v", got)
	}
	if got := OwnedBy("sifting"); !slices.Equal(got, []string{"interview", "sift"}) {
		t.Errorf("OwnedBy(sifting) = %v", got)
	}
	if got := OwnedBy("reporting"); !slices.Equal(got, []string{"stuck"}) {
		t.Errorf("OwnedBy(reporting) = %v, want stuck alone", got)
	}
}

func TestCheckOwner(t *testing.T) {
	t.Parallel()
	cleared := func(producer string) *eventsv1.Event {
		return &eventsv1.Event{Producer: producer, Payload: &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}}
	}
	if err := CheckOwner(cleared("vetting")); err != nil {
		t.Errorf("vetting.cleared from vetting: %v", err)
	}
	for _, producer := range []string{"applications", "offers", "", "Vetting"} {
		if err := CheckOwner(cleared(producer)); err == nil {
			t.Errorf("vetting.cleared from %q: want an error", producer)
		}
	}
	if err := CheckOwner(&eventsv1.Event{Producer: "vetting"}); err == nil {
		t.Error("an event without payload: want an error")
	}
}
