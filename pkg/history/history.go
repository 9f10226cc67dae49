// Package history records who changed a service's records, what they did
// and when, for GetCase/GetOffer-style calls. Entries are written in the
// same transaction as the change.
package history

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the history table in a service's schema.
var Migrations = pg.Embedded("history", migrations, "migrations")

// Entry is one change to a record.
type Entry struct {
	// Event is the event name, e.g. "vetting.blocked".
	Event      string
	Actor      *commonv1.Actor
	OccurredAt time.Time
	// Version of the record after the change.
	Version    int64
	ReasonCode string
}

// Append writes entries for record inside tx.
func Append(ctx context.Context, tx pgx.Tx, recordID string, entries ...Entry) error {
	for _, e := range entries {
		if _, err := tx.Exec(ctx, `INSERT INTO history (record_id, version, event, actor_subject, actor_role, occurred_at, reason_code)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			recordID, e.Version, e.Event, e.Actor.GetSubject(), int32(e.Actor.GetRole()), e.OccurredAt, e.ReasonCode); err != nil {
			return fmt.Errorf("record history: %w", err)
		}
	}
	return nil
}

// Since returns the entries of all that are newer than version.
func Since(all []Entry, version int64) []Entry {
	for i, e := range all {
		if e.Version > version {
			return all[i:]
		}
	}
	return nil
}

// Load returns a record's entries in version order.
func Load(ctx context.Context, q pg.Querier, recordID string) ([]Entry, error) {
	rows, err := q.Query(ctx, `SELECT version, event, actor_subject, actor_role, occurred_at, reason_code
		FROM history WHERE record_id = $1 ORDER BY version`, recordID)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		var subject string
		var role int32
		err := r.Scan(&e.Version, &e.Event, &subject, &role, &e.OccurredAt, &e.ReasonCode)
		e.Actor = &commonv1.Actor{Subject: subject, Role: commonv1.CallerRole(role)}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return entries, nil
}

// Proto converts entries for a response.
func Proto(entries []Entry) []*commonv1.HistoryEntry {
	out := make([]*commonv1.HistoryEntry, len(entries))
	for i, e := range entries {
		out[i] = &commonv1.HistoryEntry{
			Event: e.Event, Actor: e.Actor, OccurredAt: timestamppb.New(e.OccurredAt), Version: e.Version, ReasonCode: e.ReasonCode,
		}
	}
	return out
}
