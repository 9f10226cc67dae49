package eventtest

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Command checks the outcome of one command a fuzz target ran on a record
// (before is a copy taken first, after the record itself) and reports
// whether it was accepted:
//   - refused: the error is a FieldError naming one of fields, a stale
//     version or a move the state machine forbids (never anything a
//     caller would see as Internal), no event, and the record unchanged;
//   - accepted: an event that the stream would carry (event.Marshal takes
//     it and it reads back the same), numbered with the record's new
//     version, one more than before.
func Command[R any](t *testing.T, before, after *R, version func(*R) int64, ev *eventsv1.Event, err error, fields ...string) bool {
	t.Helper()
	if err != nil {
		var fe *validate.FieldError
		var te *record.TransitionError
		switch {
		case errors.As(err, &fe):
			if !slices.Contains(fields, fe.Field) || fe.Rule == "" {
				t.Fatalf("refused on field %q (%q); the request's fields are %v", fe.Field, fe.Rule, fields)
			}
		case errors.Is(err, record.ErrStale), errors.As(err, &te):
		default:
			t.Fatalf("refused with %T %v: neither a field, a stale version nor a state", err, err)
		}
		if ev != nil {
			t.Fatalf("refused (%v) but returned an event", err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("refused (%v) but changed the record:\nbefore %+v\nafter  %+v", err, before, after)
		}
		return false
	}
	if ev == nil {
		t.Fatal("accepted without an event")
	}
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatalf("accepted with an event the stream would refuse: %v", err)
	}
	if back, err := event.Unmarshal(b); err != nil || !proto.Equal(back, ev) {
		t.Fatalf("the event changed on the way through the stream: %v", err)
	}
	if v := version(after); v != version(before)+1 || ev.GetAggregateVersion() != v {
		t.Fatalf("accepted: version %d → %d, event at version %d", version(before), v, ev.GetAggregateVersion())
	}
	return true
}
