package intake

import (
	"slices"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/event"
)

// StageEvents filters what the consumer hands to ApplyStageEvent, so it
// must name exactly the events that move a stage or open or close the
// vetting case.
func TestStageEventsMatchStageAfter(t *testing.T) {
	t.Parallel()
	for _, name := range event.Names() {
		ev, ok := event.Blank(name)
		if !ok {
			t.Fatalf("no payload field for %s", name)
		}
		_, moves := stageAfter(ev)
		_, vetting := vettingAfter(ev)
		if listed := slices.Contains(StageEvents, name); listed != (moves || vetting) {
			t.Errorf("%s: in StageEvents = %v, moves a stage = %v, opens or closes vetting = %v", name, listed, moves, vetting)
		}
	}
}
