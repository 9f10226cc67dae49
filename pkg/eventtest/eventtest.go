// Package eventtest checks event consumers in the domain's own tests: it
// needs neither a database nor a broker, so domain tests stay free of
// infrastructure.
package eventtest

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/event"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// WantConsumes checks a consumer's declared event names against its
// handler: the consumer hands the handler only the declared events, so
// they must be exactly the ones it acts on. handle must come from a service
// built with no store (nil), so that acting on an event — touching the
// store — panics; an event it ignores returns at once.
func WantConsumes(t *testing.T, declared []string, handle func(context.Context, *eventsv1.Event) error) {
	t.Helper()
	for _, name := range declared {
		if _, ok := event.Blank(name); !ok {
			t.Errorf("declared event %q is not in the contract", name)
		}
	}
	for _, name := range event.Names() {
		ev, _ := event.Blank(name)
		acts := func() (touched bool) {
			defer func() {
				// Only the nil store's dereference means "acted"; any
				// other panic is a bug in the handler, reported as such.
				if r := recover(); r != nil {
					if re, ok := r.(runtime.Error); !ok || !strings.Contains(re.Error(), "nil pointer dereference") {
						panic(r)
					}
					touched = true
				}
			}()
			_ = handle(context.Background(), ev)
			return false
		}()
		if want := slices.Contains(declared, name); acts != want {
			t.Errorf("%s: declared = %v, but the handler acts on it = %v", name, want, acts)
		}
	}
}
