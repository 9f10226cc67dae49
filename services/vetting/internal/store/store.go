// Package store keeps vetting cases and their history in PostgreSQL
// (schema vetting), with their events in the outbox of the same
// transaction.
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
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables (after history.Migrations).
var Migrations = []pg.Migrations{history.Migrations, pg.Embedded("vetting", migrations, "migrations")}

// Store implements vetting.Store; writes join a transaction carried by ctx.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

var _ vetting.Store = (*Store)(nil)

const columns = `application_id::text, campaign_id::text, region, role, level, status, opened_at, status_entered_at,
	block_reason, block_note, blocked_since, resume_status, reason_code, version`

func scan(row pgx.Row) (*vetting.Case, error) {
	c := &vetting.Case{}
	var role, level, reason int32
	err := row.Scan(&c.ApplicationID, &c.CampaignID, &c.Region, &role, &level, &c.Status, &c.OpenedAt, &c.StatusEnteredAt,
		&reason, &c.BlockNote, &c.BlockedSince, &c.ResumeStatus, &c.ReasonCode, &c.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, vetting.ErrUnknown
	}
	c.Role, c.Level, c.BlockReason = commonv1.JobRole(role), commonv1.VettingLevel(level), commonv1.BlockReason(reason)
	return c, err
}

// Open inserts a case and its event unless the application has a case.
func (s *Store) Open(ctx context.Context, c *vetting.Case, ev *eventsv1.Event) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO cases (application_id, campaign_id, region, role, level, status, opened_at,
			status_entered_at, reason_code, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			c.ApplicationID, c.CampaignID, c.Region, int32(c.Role), int32(c.Level), c.Status, c.OpenedAt, c.StatusEnteredAt,
			c.ReasonCode, c.Version)
		if err != nil {
			return fmt.Errorf("open case: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if err := history.Append(ctx, tx, c.ApplicationID, c.History...); err != nil {
			return err
		}
		if ev == nil {
			return nil
		}
		return outbox.Append(ctx, tx, ev)
	})
}

// Update applies fn to the case under a row lock.
func (s *Store) Update(ctx context.Context, id string, fn func(*vetting.Case) (*eventsv1.Event, error)) (*vetting.Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, vetting.ErrUnknown
	}
	var out *vetting.Case
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
		if _, err := tx.Exec(ctx, `UPDATE cases SET status = $2, status_entered_at = $3, block_reason = $4, block_note = $5,
			blocked_since = $6, resume_status = $7, reason_code = $8, version = $9 WHERE application_id = $1`,
			c.ApplicationID, c.Status, c.StatusEnteredAt, int32(c.BlockReason), c.BlockNote, c.BlockedSince, c.ResumeStatus,
			c.ReasonCode, c.Version); err != nil {
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
		if c.History, err = history.Load(ctx, tx, c.ApplicationID); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// Case returns a case with its history.
func (s *Store) Case(ctx context.Context, id string) (*vetting.Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, vetting.ErrUnknown
	}
	q := pg.Q(ctx, s.pool)
	c, err := scan(q.QueryRow(ctx, `SELECT `+columns+` FROM cases WHERE application_id = $1`, id))
	if err != nil {
		if errors.Is(err, vetting.ErrUnknown) {
			return nil, err
		}
		return nil, fmt.Errorf("read case: %w", err)
	}
	c.History, err = history.Load(ctx, q, id)
	return c, err
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
	rows, err := pg.Q(ctx, s.pool).Query(ctx, query, f.Regions, status, f.After.At, f.After.ID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*vetting.Case, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}
