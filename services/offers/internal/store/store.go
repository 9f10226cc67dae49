// Package store keeps offers and their history in PostgreSQL (schema
// offers), with their events in the outbox of the same transaction.
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
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables (after the history table).
var Migrations = []pg.Migrations{recordstore.Migrations, pg.Embedded("offers", migrations, "migrations")}

// Store implements offer.Store; writes join a transaction carried by ctx.
type Store struct {
	offers *recordstore.Table[*offer.Offer, offer.Status]
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{offers: recordstore.NewTable(recordstore.Table[*offer.Offer, offer.Status]{
		Pool: pool, Select: `SELECT ` + columns + ` FROM offers WHERE application_id = $1`,
		Scan: scan, Insert: insert, Save: save, Unknown: offer.ErrUnknown, Noun: "offer record",
	})}
}

var _ offer.Store = (*Store)(nil)

const columns = `application_id::text, campaign_id::text, region, role, status, salary_band, conditions, start_date,
	vetting_cleared, subject_to_vetting, approved_by, vetting_due_by, reason_code, status_entered_at, version,
	assignee, stage_entered_at, checks, start_approved_at`

func scan(row pgx.Row) (*offer.Offer, error) {
	o := &offer.Offer{}
	var role int32
	var conditions []int32
	var checks []byte
	err := row.Scan(&o.ApplicationID, &o.CampaignID, &o.Region, &role, &o.State, &o.SalaryBand, &conditions, &o.StartDate,
		&o.VettingCleared, &o.SubjectToVetting, &o.ApprovedBy, &o.VettingDueBy, &o.ReasonCode, &o.StateEnteredAt, &o.Version,
		&o.Assignee, &o.StageEnteredAt, &checks, &o.StartApprovedAt)
	if err == nil {
		o.Checks, err = checksToDomain(checks)
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

func insert(ctx context.Context, tx pgx.Tx, o *offer.Offer) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO offers (application_id, campaign_id, region, role, status, reason_code, status_entered_at, version,
		assignee, stage_entered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		o.ApplicationID, o.CampaignID, o.Region, int32(o.Role), o.State, o.ReasonCode, o.StateEnteredAt, o.Version,
		o.Assignee, o.StageEnteredAt)
	return tag.RowsAffected() == 1, err
}

func save(ctx context.Context, tx pgx.Tx, o *offer.Offer) error {
	checks, err := checksToRow(o.Checks)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE offers SET status = $2, salary_band = $3, conditions = $4, start_date = $5,
		vetting_cleared = $6, subject_to_vetting = $7, approved_by = $8, vetting_due_by = $9, reason_code = $10,
		status_entered_at = $11, version = $12, assignee = $13, stage_entered_at = $14, checks = $15, start_approved_at = $16 WHERE application_id = $1`,
		o.ApplicationID, o.State, o.SalaryBand, conditionInts(o.Conditions), o.StartDate, o.VettingCleared,
		o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy, o.ReasonCode, o.StateEnteredAt, o.Version, o.Assignee, o.StageEnteredAt,
		checks, o.StartApprovedAt)
	return err
}

// Open inserts a record and its events unless the application has one.
func (s *Store) Open(ctx context.Context, o *offer.Offer, evs ...*eventsv1.Event) error {
	return s.offers.Open(ctx, o, evs...)
}

// Atomically runs fn in the transaction ctx carries, or in one of its own.
func (s *Store) Atomically(ctx context.Context, fn func(context.Context) error) error {
	return pg.Join(ctx, s.offers.Pool, func(tx pgx.Tx) error { return fn(pg.WithTx(ctx, tx)) })
}

// Mine lists an assignee's open records in f.Regions (nil: any), oldest in
// their stage first.
func (s *Store) Mine(ctx context.Context, f assign.Filter) ([]*offer.Offer, error) {
	return s.offers.Assigned(ctx, `SELECT `+columns+` FROM offers`, `status IN ('AWAITING_OFFER', 'MADE', 'ACCEPTED')`, "stage_entered_at", f)
}

// Update applies fn to the record under a row lock.
func (s *Store) Update(ctx context.Context, id string, fn func(*offer.Offer) (*eventsv1.Event, error)) (*offer.Offer, error) {
	return s.offers.Update(ctx, id, fn)
}

// UpdateIn applies fn to the record under a row lock if it is in one of
// regions (nil: any).
func (s *Store) UpdateIn(ctx context.Context, id string, regions []string, fn func(*offer.Offer) (*eventsv1.Event, error)) (*offer.Offer, error) {
	return s.offers.UpdateIn(ctx, id, regions, fn)
}

// Offer returns a record in one of regions (nil: any) with its history.
func (s *Store) Offer(ctx context.Context, id string, regions []string) (*offer.Offer, error) {
	return s.offers.GetIn(ctx, id, regions)
}

// List lists a region's offers, oldest in their status first.
func (s *Store) List(ctx context.Context, f offer.ListFilter) ([]*offer.Offer, error) {
	var status *string
	if f.Status != "" {
		status = (*string)(&f.Status)
	}
	return s.offers.List(ctx, `SELECT `+columns+` FROM offers
		WHERE region = ANY($1) AND ($2::text IS NULL OR status = $2)
		  AND (status_entered_at, application_id) > ($3, $4::uuid)
		ORDER BY status_entered_at, application_id LIMIT $5`, f.Regions, status, f.After.At, f.After.ID, f.Limit)
}
