// Package store keeps sift cases and their history in PostgreSQL (schema
// sifting), with their events in the outbox of the same transaction.
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
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables (after the history table).
var Migrations = []pg.Migrations{recordstore.Migrations, pg.Embedded("sift", migrations, "migrations")}

// Store implements sift.Store; writes join a transaction carried by ctx.
type Store struct {
	cases *recordstore.Table[*sift.Case, sift.State]
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{cases: recordstore.NewTable(recordstore.Table[*sift.Case, sift.State]{
		Pool: pool, Select: `SELECT ` + columns + ` FROM cases WHERE application_id = $1`,
		Scan: scan, Insert: insert, Save: save, Unknown: sift.ErrUnknownCase, Noun: "sift case",
	})}
}

var _ sift.Store = (*Store)(nil)

const columns = `application_id::text, campaign_id::text, region, role, state, submitted_at, state_entered_at,
	interview_at, score, reason_code, version, assignee`

func scan(row pgx.Row) (*sift.Case, error) {
	c := &sift.Case{}
	var role int32
	err := row.Scan(&c.ApplicationID, &c.CampaignID, &c.Region, &role, &c.State, &c.SubmittedAt, &c.StateEnteredAt,
		&c.InterviewAt, &c.Score, &c.ReasonCode, &c.Version, &c.Assignee)
	c.Role = commonv1.JobRole(role)
	return c, err
}

func insert(ctx context.Context, tx pgx.Tx, c *sift.Case) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO cases (application_id, campaign_id, region, role, state, submitted_at,
		state_entered_at, interview_at, score, reason_code, version, assignee)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		c.ApplicationID, c.CampaignID, c.Region, int32(c.Role), c.State, c.SubmittedAt, c.StateEnteredAt,
		c.InterviewAt, c.Score, c.ReasonCode, c.Version, c.Assignee)
	return tag.RowsAffected() == 1, err
}

func save(ctx context.Context, tx pgx.Tx, c *sift.Case) error {
	_, err := tx.Exec(ctx, `UPDATE cases SET state = $2, state_entered_at = $3, interview_at = $4, score = $5,
		reason_code = $6, version = $7, assignee = $8 WHERE application_id = $1`,
		c.ApplicationID, c.State, c.StateEnteredAt, c.InterviewAt, c.Score, c.ReasonCode, c.Version, c.Assignee)
	return err
}

// Open inserts a case and its events unless the application has one.
func (s *Store) Open(ctx context.Context, c *sift.Case, evs ...*eventsv1.Event) error {
	return s.cases.Open(ctx, c, evs...)
}

// Mine lists an assignee's open cases in f.Regions (nil: any), oldest in
// their stage first.
func (s *Store) Mine(ctx context.Context, f assign.Filter) ([]*sift.Case, error) {
	return s.cases.Assigned(ctx, `SELECT `+columns+` FROM cases`, `state IN ('AWAITING_SIFT', 'AWAITING_INTERVIEW')`, "state_entered_at", f)
}

// Update applies fn to the case under a row lock.
func (s *Store) Update(ctx context.Context, id string, fn func(*sift.Case) (*eventsv1.Event, error)) (*sift.Case, error) {
	return s.cases.Update(ctx, id, fn)
}

// UpdateIn applies fn to the case under a row lock if it is in one of
// regions (nil: any).
func (s *Store) UpdateIn(ctx context.Context, id string, regions []string, fn func(*sift.Case) (*eventsv1.Event, error)) (*sift.Case, error) {
	return s.cases.UpdateIn(ctx, id, regions, fn)
}

// Case returns a case in one of regions (nil: any) with its history.
func (s *Store) Case(ctx context.Context, id string, regions []string) (*sift.Case, error) {
	return s.cases.GetIn(ctx, id, regions)
}

// Queue lists cases in f.State, oldest in the state first.
func (s *Store) Queue(ctx context.Context, f sift.QueueFilter) ([]*sift.Case, error) {
	var campaign *string
	if f.CampaignID != "" {
		campaign = &f.CampaignID
	}
	return s.cases.List(ctx, `SELECT `+columns+` FROM cases
		WHERE region = ANY($1) AND state = $2 AND ($3::uuid IS NULL OR campaign_id = $3)
		  AND (state_entered_at, application_id) > ($4, $5::uuid)
		ORDER BY state_entered_at, application_id LIMIT $6`,
		f.Regions, f.State, campaign, f.After.At, f.After.ID, f.Limit)
}
