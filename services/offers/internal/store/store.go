// Package store keeps offers and their history in PostgreSQL (schema
// offers), with their events in the outbox of the same transaction.
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
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables (after history.Migrations).
var Migrations = []pg.Migrations{history.Migrations, pg.Embedded("offers", migrations, "migrations")}

// Store implements offer.Store; writes join a transaction carried by ctx.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

var _ offer.Store = (*Store)(nil)

const columns = `application_id::text, campaign_id::text, region, role, status, salary_band, conditions, start_date,
	vetting_cleared, subject_to_vetting, approved_by, vetting_due_by, reason_code, status_entered_at, version`

func scan(row pgx.Row) (*offer.Offer, error) {
	o := &offer.Offer{}
	var role int32
	var conditions []int32
	err := row.Scan(&o.ApplicationID, &o.CampaignID, &o.Region, &role, &o.Status, &o.SalaryBand, &conditions, &o.StartDate,
		&o.VettingCleared, &o.SubjectToVetting, &o.ApprovedBy, &o.VettingDueBy, &o.ReasonCode, &o.StatusEnteredAt, &o.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, offer.ErrUnknown
	}
	o.Role = commonv1.JobRole(role)
	for _, c := range conditions {
		o.Conditions = append(o.Conditions, commonv1.OfferCondition(c))
	}
	return o, err
}

func conditionInts(cs []commonv1.OfferCondition) []int32 {
	out := make([]int32, len(cs))
	for i, c := range cs {
		out[i] = int32(c)
	}
	return out
}

// Open inserts a record unless the application has one.
func (s *Store) Open(ctx context.Context, o *offer.Offer) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO offers (application_id, campaign_id, region, role, status, reason_code, status_entered_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			o.ApplicationID, o.CampaignID, o.Region, int32(o.Role), o.Status, o.ReasonCode, o.StatusEnteredAt, o.Version)
		if err != nil {
			return fmt.Errorf("open offer: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return history.Append(ctx, tx, o.ApplicationID, o.History...)
	})
}

// Update applies fn to the record under a row lock.
func (s *Store) Update(ctx context.Context, id string, fn func(*offer.Offer) (*eventsv1.Event, error)) (*offer.Offer, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, offer.ErrUnknown
	}
	var out *offer.Offer
	err := pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		o, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM offers WHERE application_id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		before := o.Version
		ev, err := fn(o)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE offers SET status = $2, salary_band = $3, conditions = $4, start_date = $5,
			vetting_cleared = $6, subject_to_vetting = $7, approved_by = $8, vetting_due_by = $9, reason_code = $10,
			status_entered_at = $11, version = $12 WHERE application_id = $1`,
			o.ApplicationID, o.Status, o.SalaryBand, conditionInts(o.Conditions), o.StartDate, o.VettingCleared,
			o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy, o.ReasonCode, o.StatusEnteredAt, o.Version); err != nil {
			return fmt.Errorf("update offer: %w", err)
		}
		if err := history.Append(ctx, tx, o.ApplicationID, history.Since(o.History, before)...); err != nil {
			return err
		}
		if ev != nil {
			if err := outbox.Append(ctx, tx, ev); err != nil {
				return err
			}
		}
		if o.History, err = history.Load(ctx, tx, o.ApplicationID); err != nil {
			return err
		}
		out = o
		return nil
	})
	return out, err
}

// Offer returns a record with its history.
func (s *Store) Offer(ctx context.Context, id string) (*offer.Offer, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, offer.ErrUnknown
	}
	q := pg.Q(ctx, s.pool)
	o, err := scan(q.QueryRow(ctx, `SELECT `+columns+` FROM offers WHERE application_id = $1`, id))
	if err != nil {
		if errors.Is(err, offer.ErrUnknown) {
			return nil, err
		}
		return nil, fmt.Errorf("read offer: %w", err)
	}
	o.History, err = history.Load(ctx, q, id)
	return o, err
}

// List lists a region's offers, oldest in their status first.
func (s *Store) List(ctx context.Context, f offer.ListFilter) ([]*offer.Offer, error) {
	var status *string
	if f.Status != "" {
		status = (*string)(&f.Status)
	}
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT `+columns+` FROM offers
		WHERE region = ANY($1) AND ($2::text IS NULL OR status = $2)
		  AND (status_entered_at, application_id) > ($3, $4::uuid)
		ORDER BY status_entered_at, application_id LIMIT $5`, f.Regions, status, f.After.At, f.After.ID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list offers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*offer.Offer, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list offers: %w", err)
	}
	return out, nil
}
