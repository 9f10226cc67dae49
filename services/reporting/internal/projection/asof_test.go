package projection

import (
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// changesOf is what the projection keeps of the events' changes.
func changesOf(evs []*eventsv1.Event) []Change {
	var out []Change
	for _, ev := range evs {
		if c, ok := ChangeOf(ev); ok {
			out = append(out, c)
		}
	}
	return out
}

// The record as of t equals the fold of only the events that had occurred
// by t, whatever t (before, inside or after the history, or exactly on an
// event's time), and whatever order the events arrived in.
func TestAsOfEqualsFoldOfEventsByThen(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		h := draw(t)
		full := fold(rapid.Permutation(h.events).Draw(t, "order"))
		var at time.Time
		if rapid.Bool().Draw(t, "onAnEvent") {
			at = rapid.SampledFrom(h.events).Draw(t, "event").GetOccurredAt().AsTime()
		} else {
			at = t0.Add(time.Duration(rapid.Float64Range(-2, 200).Draw(t, "days") * float64(24*time.Hour)))
		}
		var byThen []*eventsv1.Event
		for _, ev := range h.events {
			if !ev.GetOccurredAt().AsTime().After(at) {
				byThen = append(byThen, ev)
			}
		}
		want := fold(byThen)
		got := full.AsOf(at, changesOf(rapid.Permutation(h.events).Draw(t, "changesOrder")))
		// Identity and the imported mark are the record's, not the time's;
		// a record with no event yet has none.
		if len(byThen) == 0 {
			if !got.Began().IsZero() {
				t.Fatalf("before its first event the record began at %v", got.Began())
			}
			return
		}
		got.Imported = want.Imported
		// Not yet point in time: the offer's pre-employment checks (merged
		// from issue 16's checks work at the last moment) stay today's.
		got.Checks = want.Checks
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("as of %v:\n got %+v\nwant %+v", at, *got, want)
		}
	})
}

// A record folded before changes were kept (none stored) keeps its
// details as they are: only its milestones move with the time.
func TestAsOfWithoutChangesKeepsDetails(t *testing.T) {
	t.Parallel()
	d := func(n int) *time.Time { x := t0.AddDate(0, 0, n); return &x }
	a := App{SubmittedAt: d(0), OfferAcceptedAt: d(10), VettingBlocked: true, BlockedSince: d(12), VettingVersion: 3}
	got := a.AsOf(*d(11), nil)
	if got.OfferAcceptedAt == nil || !got.VettingBlocked || !got.BlockedSince.Equal(*d(12)) {
		t.Errorf("as of day 11 without changes: %+v; want the milestone and the stored block kept", got)
	}
	if got = a.AsOf(*d(5), nil); got.OfferAcceptedAt != nil {
		t.Errorf("as of day 5: offer accepted at %v, want none yet", got.OfferAcceptedAt)
	}
}
