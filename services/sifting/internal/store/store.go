// Package store keeps sift cases and their history in PostgreSQL (schema
// sifting), with their events in the outbox of the same transaction.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables (after history.Migrations).
var Migrations = []pg.Migrations{history.Migrations, pg.Embedded("sift", migrations, "migrations")}

// Store implements sift.Store; writes join a transaction carried by ctx.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

var _ sift.Store = (*Store)(nil)

const columns = `application_id::text, campaign_id::text, region, role, state, submitted_at, state_entered_at,
	interview_at, score, reason_code, version`

func scan(row pgx.Row) (*sift.Case, error) {
	c := &sift.Case{}
	var role int32
	err := row.Scan(&c.ApplicationID, &c.CampaignID, &c.Region, &role, &c.State, &c.SubmittedAt, &c.StateEnteredAt,
		&c.InterviewAt, &c.Score, &c.ReasonCode, &c.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sift.ErrUnknownCase
	}
	c.Role = commonv1.JobRole(role)
	return c, err
}

// Open inserts a case unless the application has one.
func (s *Store) Open(ctx context.Context, c *sift.Case) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO cases (application_id, campaign_id, region, role, state, submitted_at,
			state_entered_at, interview_at, score, reason_code, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
			c.ApplicationID, c.CampaignID, c.Region, int32(c.Role), c.State, c.SubmittedAt, c.StateEnteredAt,
			c.InterviewAt, c.Score, c.ReasonCode, c.Version)
		if err != nil {
			return fmt.Errorf("open case: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return history.Append(ctx, tx, c.ApplicationID, c.History...)
	})
}

// Update applies fn to the case under a row lock.
func (s *Store) Update(ctx context.Context, id string, fn func(*sift.Case) (*eventsv1.Event, error)) (*sift.Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, sift.ErrUnknownCase
	}
	var out *sift.Case
	err := pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM cases WHERE application_id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		before := c.Version
		ev, err := fn(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE cases SET state = $2, state_entered_at = $3, interview_at = $4, score = $5,
			reason_code = $6, version = $7 WHERE application_id = $1`,
			c.ApplicationID, c.State, c.StateEnteredAt, c.InterviewAt, c.Score, c.ReasonCode, c.Version); err != nil {
			return fmt.Errorf("update case: %w", err)
		}
		if err := history.Append(ctx, tx, c.ApplicationID, history.Since(c.History, before)...); err != nil {
			return err
		}
		if ev != nil {
			if err := outbox.Append(ctx, tx, ev); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.History, err = history.Load(ctx, pg.Q(ctx, s.pool), id)
	return out, err
}

// Case returns a case with its history.
func (s *Store) Case(ctx context.Context, id string) (*sift.Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, sift.ErrUnknownCase
	}
	c, err := scan(pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT `+columns+` FROM cases WHERE application_id = $1`, id))
	if err != nil {
		if errors.Is(err, sift.ErrUnknownCase) {
			return nil, err
		}
		return nil, fmt.Errorf("read case: %w", err)
	}
	c.History, err = history.Load(ctx, pg.Q(ctx, s.pool), id)
	return c, err
}

// Queue lists cases in f.State, oldest in the state first.
func (s *Store) Queue(ctx context.Context, f sift.QueueFilter) ([]*sift.Case, error) {
	var campaign *string
	if f.CampaignID != "" {
		campaign = &f.CampaignID
	}
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT `+columns+` FROM cases
		WHERE region = ANY($1) AND state = $2 AND ($3::uuid IS NULL OR campaign_id = $3)
		  AND (state_entered_at, application_id) > ($4, $5::uuid)
		ORDER BY state_entered_at, application_id LIMIT $6`,
		f.Regions, f.State, campaign, f.After.At, f.After.ID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list queue: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sift.Case, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list queue: %w", err)
	}
	return out, nil
}
