// Package store keeps the equality service's milestones and reads the
// monitoring answers (handoff's table) in PostgreSQL, schema
// equality. Writes join the transaction ctx carries (the consumer's).
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/monitoring/handoff"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations create the service's tables: the answers table, then the
// milestones.
var Migrations = []pg.Migrations{handoff.Migrations, pg.Embedded("equality", migrations, "migrations")}

// Store implements funnel.Store.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

var _ funnel.Store = (*Store)(nil)

// GrantDeposit lets role insert monitoring answers into this schema's
// answers table, and nothing else: no SELECT, UPDATE or DELETE there, no
// right on any other table (docs/security.md, "Database roles"). The
// service runs it at every start, after its migrations, since dbroles
// revokes every right others hold on a service's schema. Idempotent.
func GrantDeposit(ctx context.Context, pool *pgxpool.Pool, schema, role string) error {
	id := pgx.Identifier{role}.Sanitize()
	for _, sql := range []string{
		"GRANT USAGE ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " TO " + id,
		"GRANT INSERT ON " + pgx.Identifier{schema, "answers"}.Sanitize() + " TO " + id,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return fmt.Errorf("grant deposit to %s: %w", role, err)
		}
	}
	return nil
}

const columns = `application_id::text, region, campaign_id, submitted_at, interview_at, offer_at, pre_employment_at, hired_at,
	ended_at, vetting_opened_at, blocked_since, blocked_seconds`

func scanTargets(m *funnel.Milestones, secs *float64) []any {
	return []any{&m.ApplicationID, &m.Region, &m.CampaignID, &m.Reached[0], &m.Reached[1], &m.Reached[2], &m.Reached[3], &m.Reached[4],
		&m.EndedAt, &m.VettingOpenedAt, &m.BlockedSince, secs}
}

// UpdateMilestones implements funnel.Store.
func (s *Store) UpdateMilestones(ctx context.Context, applicationID string, fn func(*funnel.Milestones) bool) error {
	return pg.Join(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			m    funnel.Milestones
			secs float64
		)
		err := tx.QueryRow(ctx, `SELECT `+columns+` FROM milestones WHERE application_id = $1 FOR UPDATE`, applicationID).
			Scan(scanTargets(&m, &secs)...)
		if errors.Is(err, pgx.ErrNoRows) {
			m = funnel.Milestones{ApplicationID: applicationID}
		} else if err != nil {
			return fmt.Errorf("read milestones: %w", err)
		}
		m.Blocked = time.Duration(secs * float64(time.Second))
		if !fn(&m) {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO milestones (application_id, region, campaign_id, submitted_at, interview_at, offer_at,
			pre_employment_at, hired_at, ended_at, vetting_opened_at, blocked_since, blocked_seconds)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (application_id) DO UPDATE SET region = $2, campaign_id = $3, submitted_at = $4, interview_at = $5,
			offer_at = $6, pre_employment_at = $7, hired_at = $8, ended_at = $9, vetting_opened_at = $10, blocked_since = $11,
			blocked_seconds = $12`,
			m.ApplicationID, m.Region, m.CampaignID, m.Reached[0], m.Reached[1], m.Reached[2], m.Reached[3], m.Reached[4],
			m.EndedAt, m.VettingOpenedAt, m.BlockedSince, m.Blocked.Seconds())
		if err != nil {
			return fmt.Errorf("store milestones: %w", err)
		}
		return nil
	})
}

// EraseAnswers implements funnel.Store.
func (s *Store) EraseAnswers(ctx context.Context, applicationID string) error {
	if _, err := pg.Q(ctx, s.pool).Exec(ctx, `DELETE FROM answers WHERE application_id = $1`, applicationID); err != nil {
		return fmt.Errorf("erase answers: %w", err)
	}
	return nil
}

// Answers implements funnel.Store.
func (s *Store) Answers(ctx context.Context, applicationID string) (monitoring.Answers, error) {
	vals := make([]*string, len(monitoring.Characteristics))
	targets := make([]any, len(vals))
	cols := make([]string, len(vals))
	for i, c := range monitoring.Characteristics {
		targets[i], cols[i] = &vals[i], string(c)
	}
	err := pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM answers WHERE application_id = $1`, applicationID).
		Scan(targets...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read answers: %w", err)
	}
	a := monitoring.Answers{}
	for i, c := range monitoring.Characteristics {
		if vals[i] != nil {
			a[c] = *vals[i]
		}
	}
	return a, nil
}

// Window implements funnel.Store.
func (s *Store) Window(ctx context.Context, from, to time.Time, c monitoring.Characteristic) ([]funnel.Row, error) {
	// c is one of a fixed list, never the caller's text: safe to name.
	if !slices.Contains(monitoring.Characteristics, c) {
		return nil, fmt.Errorf("unknown characteristic %q", c)
	}
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT `+columns+`, a.`+string(c)+`
		FROM milestones m LEFT JOIN answers a USING (application_id)
		WHERE m.submitted_at >= $1 AND m.submitted_at < $2`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read window: %w", err)
	}
	defer rows.Close()
	var out []funnel.Row
	for rows.Next() {
		var (
			r      funnel.Row
			secs   float64
			answer *string
		)
		if err := rows.Scan(append(scanTargets(&r.Milestones, &secs), &answer)...); err != nil {
			return nil, fmt.Errorf("read window: %w", err)
		}
		r.Blocked = time.Duration(secs * float64(time.Second))
		if answer != nil {
			r.Answer = *answer
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read window: %w", err)
	}
	return out, nil
}
