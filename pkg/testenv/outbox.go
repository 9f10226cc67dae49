package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/event"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// OutboxEvent is one row of a service's outbox table (pkg/outbox), decoded.
type OutboxEvent struct {
	Subject string
	// Name is the event's name, e.g. "sift.passed" (event.Name).
	Name string
	// Payload is the row's bytes, as the relay publishes them.
	Payload   []byte
	Event     *eventsv1.Event
	Published bool
}

// OutboxEvents returns the outbox rows in pool's schema about id, oldest
// first: the events of application id, or the campaign events (those with
// no application) of campaign id; "" returns every row. It fails the test
// if any row is an event its producer does not own (event.Owners) or a
// subject its envelope does not give: what the consumers would refuse.
func OutboxEvents(t testing.TB, pool *pgxpool.Pool, id string) []OutboxEvent {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT subject, payload, published_at IS NOT NULL FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxEvent, error) {
		var o OutboxEvent
		if err := r.Scan(&o.Subject, &o.Payload, &o.Published); err != nil {
			return o, err
		}
		if o.Event, err = event.Unmarshal(o.Payload); err != nil {
			return o, err
		}
		o.Name, err = event.Name(o.Event)
		return o, err
	})
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	// Every event a service writes must be one it owns: the consumers
	// refuse any other (pkg/consumer), and NATS would not take it.
	for _, o := range all {
		if err := event.CheckOwner(o.Event); err != nil {
			t.Errorf("outbox event %s: %v", o.Event.GetEventId(), err)
		}
		if want, _ := event.SubjectSuffix(o.Event); o.Subject != want {
			t.Errorf("outbox event %s: subject %q, but its envelope says %q", o.Event.GetEventId(), o.Subject, want)
		}
	}
	var out []OutboxEvent
	for _, o := range all {
		app := o.Event.GetApplicationId()
		if id == "" || app == id || (app == "" && o.Event.GetCampaignId() == id) {
			out = append(out, o)
		}
	}
	return out
}

// EventNames lists the names of the events in rows.
func EventNames(rows []OutboxEvent) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Name
	}
	return out
}
