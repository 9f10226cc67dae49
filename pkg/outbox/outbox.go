// Package outbox implements the transactional outbox (docs/design.md §4): a
// service writes each event in the same PostgreSQL transaction as the state
// change it describes, and a Relay publishes committed events to JetStream.
//
// Why an outbox at all: publishing to NATS inside the transaction would
// announce changes that then roll back, and publishing after commit would
// lose the event when the process dies in between. The outbox makes the
// event as durable as the change; the relay makes delivery at least once,
// and the event id (the Nats-Msg-Id, and the key of every consumer's inbox)
// makes "at least once" count once.
package outbox

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/tracing"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the outbox table in a service's schema.
var Migrations = pg.Embedded("outbox", migrations, "migrations")

// Append writes events to the outbox inside the caller's transaction. They
// are published only if, and after, the transaction commits, in the order
// given. The insert is deferred (pg.Defer): it goes with the transaction's
// next statement or its commit, one statement for all of events. Each row
// keeps the W3C traceparent of ctx's span, if it has one, which the relay
// publishes the event under (see Relay).
func Append(ctx context.Context, tx pgx.Tx, events ...*eventsv1.Event) error {
	if len(events) == 0 {
		return nil
	}
	var traceparent *string
	if tp := tracing.TraceParent(ctx); tp != "" {
		traceparent = &tp
	}
	ids, subjects, payloads := make([]string, len(events)), make([]string, len(events)), make([][]byte, len(events))
	for i, ev := range events {
		payload, err := event.Marshal(ev)
		if err != nil {
			return fmt.Errorf("append to outbox: %w", err)
		}
		ids[i], payloads[i] = ev.GetEventId(), payload
		subjects[i], _ = event.SubjectSuffix(ev) // checked by Marshal
	}
	if len(events) == 1 {
		if err := pg.Defer(ctx, tx, `INSERT INTO outbox (event_id, subject, payload, traceparent) VALUES ($1, $2, $3, $4)`,
			ids[0], subjects[0], payloads[0], traceparent); err != nil {
			return fmt.Errorf("append to outbox: %w", err)
		}
		return nil
	}
	uuids, err := pg.UUIDs(ids)
	if err != nil {
		return fmt.Errorf("append to outbox: %w", err)
	}
	// unnest yields the rows in the arrays' order, and the ids are given
	// in that order: the relay publishes by id.
	if err := pg.Defer(ctx, tx, `INSERT INTO outbox (event_id, subject, payload, traceparent)
		SELECT event_id, subject, payload, $4 FROM unnest($1::uuid[], $2::text[], $3::bytea[]) WITH ORDINALITY AS e (event_id, subject, payload, n) ORDER BY n`,
		uuids, subjects, payloads, traceparent); err != nil {
		return fmt.Errorf("append to outbox: %w", err)
	}
	return nil
}
