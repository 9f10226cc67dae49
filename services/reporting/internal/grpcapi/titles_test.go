package grpcapi_test

import (
	"maps"
	"testing"
	"time"

	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// titled is ev (a campaign event) with the campaign's title set to title.
func titled(ev *eventsv1.Event, title string) *eventsv1.Event {
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_CampaignCreated:
		p.CampaignCreated.GetCampaign().Title = title
	case *eventsv1.Event_CampaignUpdated:
		p.CampaignUpdated.GetCampaign().Title = title
	}
	return ev
}

// TestStuckListNamesCampaignTitles: each stuck candidate carries its
// campaign's title as the latest campaign event gave it; an older event
// arriving late changes nothing, and a campaign reporting has not seen has
// no title.
func TestStuckListNamesCampaignTitles(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c1, c2, unseen := newCampaign("london", po), newCampaign("london", pso), newCampaign("london", po)
	closes := day(time.March, 31)
	created1 := titled(c1.created(at(time.March, 1, 8), day(time.March, 1), &closes), "London probation officers, spring")
	a1 := newApp(c1).submitted(at(time.May, 10, 9))
	a2 := newApp(c2).submitted(at(time.May, 11, 9))
	a3 := newApp(unseen).submitted(at(time.May, 12, 9))
	evs := []*eventsv1.Event{created1, titled(c2.created(at(time.March, 1, 8), day(time.March, 1), &closes), "PSOs (London) <2026>")}
	for _, a := range []*app{a1, a2, a3} {
		evs = append(evs, a.evs...)
	}
	e.apply(t, evs...)

	titles := func(t *testing.T) map[string]string {
		t.Helper()
		resp, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(at(time.June, 1, 12))})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, c := range resp.GetCandidates() {
			out[c.GetApplicationId()] = c.GetCampaignTitle()
		}
		if len(out) != 3 {
			t.Fatalf("stuck list = %v, want the three applications", resp.GetCandidates())
		}
		return out
	}
	want := map[string]string{a1.id: "London probation officers, spring", a2.id: "PSOs (London) <2026>", a3.id: ""}
	if got := titles(t); !maps.Equal(got, want) {
		t.Errorf("titles = %v, want %v", got, want)
	}

	// Renamed: the list follows; the creation arriving again, late, does not
	// bring the old title back.
	e.apply(t, titled(c1.updated(at(time.March, 2, 8), day(time.March, 1), &closes), "London POs, spring 2026"))
	e.apply(t, created1)
	want[a1.id] = "London POs, spring 2026"
	if got := titles(t); !maps.Equal(got, want) {
		t.Errorf("after the rename: titles = %v, want %v", got, want)
	}
}
