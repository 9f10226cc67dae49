// Package store keeps vetting cases and their history in PostgreSQL
// (schema vetting), with their events in the outbox of the same
// transaction.
package store

import (
	"context"
	"embed"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/recordstore"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables (after the history table).
var Migrations = []pg.Migrations{recordstore.Migrations, pg.Embedded("vetting", migrations, "migrations")}

// Store implements vetting.Store; writes join a transaction carried by ctx.
type Store struct {
	cases *recordstore.Table[*vetting.Case, vetting.Status]
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{cases: recordstore.NewTable(recordstore.Table[*vetting.Case, vetting.Status]{
		Pool: pool, Select: `SELECT ` + columns + ` FROM cases WHERE application_id = $1`,
		Scan: scan, Insert: insert, Save: save, Unknown: vetting.ErrUnknown, Noun: "vetting case",
	})}
}

var _ vetting.Store = (*Store)(nil)

const columns = `application_id::text, campaign_id::text, region, role, level, status, opened_at, status_entered_at,
	block_reason, block_note, blocked_since, resume_status, reason_code, version, assignee`

func scan(row pgx.Row) (*vetting.Case, error) {
	c := &vetting.Case{}
	var role, level, reason int32
	err := row.Scan(&c.ApplicationID, &c.CampaignID, &c.Region, &role, &level, &c.State, &c.OpenedAt, &c.StateEnteredAt,
		&reason, &c.BlockNote, &c.BlockedSince, &c.ResumeStatus, &c.ReasonCode, &c.Version, &c.Assignee)
	c.Role, c.Level, c.BlockReason = commonv1.JobRole(role), commonv1.VettingLevel(level), commonv1.BlockReason(reason)
	return c, err
}

func insert(ctx context.Context, tx pgx.Tx, c *vetting.Case) (bool, error) {
	// Every column: a case may open blocked (an imported history, whose
	// steps are applied before it is stored), and the block's columns must
	// go in with the status (cases_check).
	tag, err := tx.Exec(ctx, `INSERT INTO cases (application_id, campaign_id, region, role, level, status, opened_at,
		status_entered_at, block_reason, block_note, blocked_since, resume_status, reason_code, version, assignee)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING`,
		c.ApplicationID, c.CampaignID, c.Region, int32(c.Role), int32(c.Level), c.State, c.OpenedAt, c.StateEnteredAt,
		int32(c.BlockReason), c.BlockNote, c.BlockedSince, c.ResumeStatus, c.ReasonCode, c.Version, c.Assignee)
	return tag.RowsAffected() == 1, err
}

func save(ctx context.Context, tx pgx.Tx, c *vetting.Case) error {
	_, err := tx.Exec(ctx, `UPDATE cases SET status = $2, status_entered_at = $3, block_reason = $4, block_note = $5,
		blocked_since = $6, resume_status = $7, reason_code = $8, version = $9, assignee = $10 WHERE application_id = $1`,
		c.ApplicationID, c.State, c.StateEnteredAt, int32(c.BlockReason), c.BlockNote, c.BlockedSince, c.ResumeStatus,
		c.ReasonCode, c.Version, c.Assignee)
	return err
}

// Open inserts a case and its events unless the application has a case.
func (s *Store) Open(ctx context.Context, c *vetting.Case, evs ...*eventsv1.Event) error {
	return s.cases.Open(ctx, c, evs...)
}

// Update applies fn to the case under a row lock.
func (s *Store) Update(ctx context.Context, id string, fn func(*vetting.Case) (*eventsv1.Event, error)) (*vetting.Case, error) {
	return s.cases.Update(ctx, id, fn)
}

// UpdateIn applies fn to the case under a row lock if it is in one of
// regions (nil: any).
func (s *Store) UpdateIn(ctx context.Context, id string, regions []string, fn func(*vetting.Case) (*eventsv1.Event, error)) (*vetting.Case, error) {
	return s.cases.UpdateIn(ctx, id, regions, fn)
}

// Case returns a case in one of regions (nil: any) with its history.
func (s *Store) Case(ctx context.Context, id string, regions []string) (*vetting.Case, error) {
	return s.cases.GetIn(ctx, id, regions)
}

// List lists cases; blocked ones by how long they have been blocked.
func (s *Store) List(ctx context.Context, f vetting.ListFilter) ([]*vetting.Case, error) {
	var status *string
	if f.Status != "" {
		status = (*string)(&f.Status)
	}
	query := `SELECT ` + columns + ` FROM cases WHERE region = ANY($1) AND ($2::text IS NULL OR status = $2)
		AND (status_entered_at, application_id) > ($3, $4::uuid) ORDER BY status_entered_at, application_id LIMIT $5`
	if f.Status == vetting.Blocked {
		query = `SELECT ` + columns + ` FROM cases WHERE region = ANY($1) AND status = $2
		AND (blocked_since, application_id) > ($3, $4::uuid) ORDER BY blocked_since, application_id LIMIT $5`
	}
	return s.cases.List(ctx, query, f.Regions, status, f.After.At, f.After.ID, f.Limit)
}

// Mine lists an assignee's cases in progress in f.Regions (nil: any),
// oldest in their status first.
func (s *Store) Mine(ctx context.Context, f assign.Filter) ([]*vetting.Case, error) {
	return s.cases.Assigned(ctx, `SELECT `+columns+` FROM cases`, `status IN ('OPEN', 'FORMS_RECEIVED', 'BLOCKED')`, "status_entered_at", f)
}
