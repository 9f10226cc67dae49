package event

import (
	"fmt"
	"slices"
	"strings"

	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Owners maps each aggregate (the first part of an event name) to the one
// service that may publish its events (docs/design.md §3): the owner of a
// stage alone moves an application out of it, so only it may say so. The
// value is the service's producer name in the envelope, its NATS user and
// its durable consumer's name.
//
// NATS permissions (pkg/natsperm) and the consumers' checks (pkg/consumer)
// are both made from this map, so a new event type is published and
// accepted only once it has an owner here.
var Owners = map[string]string{
	"campaign":    "applications",
	"application": "applications",
	"sift":        "sifting",
	"interview":   "sifting",
	"offer":       "offers",
	"candidate":   "offers",
	"vetting":     "vetting",
	"stuck":       "reporting",
}

// Aggregate returns the first part of an event name: "vetting" of
// "vetting.cleared".
func Aggregate(name string) string {
	aggregate, _, _ := strings.Cut(name, ".")
	return aggregate
}

// OwnerOf returns the service that owns the event named name; false for a
// name no service owns.
func OwnerOf(name string) (string, bool) {
	owner, ok := Owners[Aggregate(name)]
	return owner, ok
}

// OwnedBy lists the aggregates whose events producer publishes, sorted;
// none for a service that publishes nothing.
func OwnedBy(producer string) []string {
	var out []string
	for aggregate, owner := range Owners {
		if owner == producer {
			out = append(out, aggregate)
		}
	}
	slices.Sort(out)
	return out
}

// Producers lists the services that own events, sorted.
func Producers() []string {
	var out []string
	for _, owner := range Owners {
		if !slices.Contains(out, owner) {
			out = append(out, owner)
		}
	}
	slices.Sort(out)
	return out
}

// CheckOwner returns an error unless ev's envelope names the owner of its
// event type as its producer.
func CheckOwner(ev *eventsv1.Event) error {
	name, err := Name(ev)
	if err != nil {
		return err
	}
	owner, ok := OwnerOf(name)
	if !ok {
		return fmt.Errorf("event %s has no owner", name)
	}
	if ev.GetProducer() != owner {
		return fmt.Errorf("event %s is owned by %s, not by its producer %q", name, owner, ev.GetProducer())
	}
	return nil
}
