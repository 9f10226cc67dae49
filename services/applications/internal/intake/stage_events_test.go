package intake

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/event"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// StageEvents filters what the consumer hands to ApplyStageEvent, so it
// must name exactly the events that move a stage.
func TestStageEventsMatchStageAfter(t *testing.T) {
	t.Parallel()
	for _, name := range event.Names() {
		ev := &eventsv1.Event{}
		m := ev.ProtoReflect()
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(strings.Replace(name, ".", "_", 1)))
		if fd == nil {
			t.Fatalf("no payload field for %s", name)
		}
		m.Set(fd, m.NewField(fd))
		_, moves := stageAfter(ev)
		if listed := slices.Contains(StageEvents, name); listed != moves {
			t.Errorf("%s: in StageEvents = %v, moves a stage = %v", name, listed, moves)
		}
	}
}
