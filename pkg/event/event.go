// Package event names events and their NATS subjects (docs/design.md §4) and
// encodes the recruitment.events.v1.Event envelope.
package event

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/validate"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// DefaultSubjectPrefix is the first token of every event subject.
const DefaultSubjectPrefix = "recruitment"

var payloadOneof = (&eventsv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")

// Name returns the event's name, "<aggregate>.<event>", from its payload:
// the payload field sift_passed is "sift.passed", offer_start_date_set is
// "offer.start_date_set".
func Name(ev *eventsv1.Event) (string, error) {
	fd := ev.ProtoReflect().WhichOneof(payloadOneof)
	if fd == nil {
		return "", errors.New("event has no payload")
	}
	return NameOf(fd), nil
}

// NameOf returns the event name of a payload field.
func NameOf(fd protoreflect.FieldDescriptor) string {
	aggregate, rest, _ := strings.Cut(string(fd.Name()), "_")
	return aggregate + "." + rest
}

// Names lists every event name in the contract, in field order.
func Names() []string {
	fields := payloadOneof.Fields()
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = NameOf(fields.Get(i))
	}
	return names
}

// Blank returns an event named name with an empty payload and no envelope,
// for tests of which events a handler acts on; false for an unknown name.
func Blank(name string) (*eventsv1.Event, bool) {
	fd := payloadOneof.Fields().ByName(protoreflect.Name(strings.Replace(name, ".", "_", 1)))
	if fd == nil {
		return nil, false
	}
	ev := &eventsv1.Event{}
	m := ev.ProtoReflect()
	m.Set(fd, m.NewField(fd))
	return ev, true
}

// SubjectSuffix returns "<region>.<aggregate>.<event>", the part of the
// subject after the deployment's prefix.
func SubjectSuffix(ev *eventsv1.Event) (string, error) {
	name, err := Name(ev)
	if err != nil {
		return "", err
	}
	if ev.GetRegion() == "" {
		return "", errors.New("event has no region")
	}
	return ev.GetRegion() + "." + name, nil
}

// NewID returns a new event id: a UUIDv7, so ids sort by creation time.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Marshal encodes ev for the stream, checking the envelope is complete.
func Marshal(ev *eventsv1.Event) ([]byte, error) {
	if validate.UUID("event_id", ev.GetEventId()) != nil {
		return nil, fmt.Errorf("marshal event: event_id %q is not a UUID", ev.GetEventId())
	}
	if ev.GetOccurredAt() == nil || ev.GetProducer() == "" || ev.GetActor() == nil {
		return nil, errors.New("marshal event: occurred_at, producer and actor are required")
	}
	if _, err := SubjectSuffix(ev); err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	return b, nil
}

// Unmarshal decodes an event read from the stream. The event id must be a
// UUID in its canonical form: uuid.Parse also takes {…} and urn:uuid:…,
// which the inboxes' uuid columns refuse, so such an event would be retried
// as a database error instead of being refused here as poison.
func Unmarshal(b []byte) (*eventsv1.Event, error) {
	ev := &eventsv1.Event{}
	if err := proto.Unmarshal(b, ev); err != nil {
		return nil, fmt.Errorf("unmarshal event: %w", err)
	}
	if validate.UUID("event_id", ev.GetEventId()) != nil {
		return nil, fmt.Errorf("unmarshal event: event_id %q is not a UUID", ev.GetEventId())
	}
	return ev, nil
}
