package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

const policyColumns = `region, enabled, cap, version, updated_by, updated_at`

func scanPolicy(row pgx.Row, region string) (offer.Policy, error) {
	var p offer.Policy
	err := row.Scan(&p.Region, &p.Enabled, &p.Cap, &p.Version, &p.UpdatedBy, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return offer.Policy{Region: region}, nil // never set: off
	}
	return p, err
}

// earlyStarts counts a region's candidates started subject to vetting
// (index offers_early_starts).
const earlyStarts = `SELECT count(*) FROM offers
	WHERE region = $1 AND status = 'STARTED' AND subject_to_vetting AND NOT vetting_cleared`

// Policy reads region's early start policy.
func (s *Store) Policy(ctx context.Context, region string) (offer.Policy, error) {
	p, err := scanPolicy(pg.Q(ctx, s.offers.Pool).QueryRow(ctx, `SELECT `+policyColumns+` FROM early_start_policies WHERE region = $1`, region), region)
	if err != nil {
		return offer.Policy{}, fmt.Errorf("read early start policy: %w", err)
	}
	return p, nil
}

// EarlyStarts counts region's candidates started subject to vetting.
func (s *Store) EarlyStarts(ctx context.Context, region string) (int, error) {
	var n int
	if err := pg.Q(ctx, s.offers.Pool).QueryRow(ctx, earlyStarts, region).Scan(&n); err != nil {
		return 0, fmt.Errorf("count early starts: %w", err)
	}
	return n, nil
}

// HoldPolicy locks region's policy row in the transaction ctx carries and
// then counts the region's early starts. Under READ COMMITTED the count, a
// statement after the lock, sees every start committed by a transaction
// that held the lock before. It refuses to run outside a transaction,
// where the lock would end with the statement and admit a race.
func (s *Store) HoldPolicy(ctx context.Context, region string) (offer.Policy, int, error) {
	tx, ok := pg.TxFrom(ctx)
	if !ok {
		return offer.Policy{}, 0, errors.New("hold early start policy: no transaction in the context")
	}
	p, err := scanPolicy(tx.QueryRow(ctx, `SELECT `+policyColumns+` FROM early_start_policies WHERE region = $1 FOR UPDATE`, region), region)
	if err != nil {
		return offer.Policy{}, 0, fmt.Errorf("hold early start policy: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, earlyStarts, region).Scan(&n); err != nil {
		return offer.Policy{}, 0, fmt.Errorf("count early starts: %w", err)
	}
	return p, n, nil
}

// UpdatePolicy applies fn to region's policy under its row lock (made, at
// version 0 and off, if the region has none) and stores it with fn's event.
func (s *Store) UpdatePolicy(ctx context.Context, region string, fn func(*offer.Policy) (*eventsv1.Event, error)) (offer.Policy, error) {
	var out offer.Policy
	err := pg.Join(ctx, s.offers.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO early_start_policies (region, enabled, cap, version, updated_by, updated_at)
			VALUES ($1, false, 0, 0, '', now()) ON CONFLICT DO NOTHING`, region); err != nil {
			return fmt.Errorf("update early start policy: %w", err)
		}
		p, err := scanPolicy(tx.QueryRow(ctx, `SELECT `+policyColumns+` FROM early_start_policies WHERE region = $1 FOR UPDATE`, region), region)
		if err != nil {
			return fmt.Errorf("update early start policy: %w", err)
		}
		ev, err := fn(&p)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE early_start_policies SET enabled = $2, cap = $3, version = $4, updated_by = $5, updated_at = $6
			WHERE region = $1`, p.Region, p.Enabled, p.Cap, p.Version, p.UpdatedBy, p.UpdatedAt); err != nil {
			return fmt.Errorf("update early start policy: %w", err)
		}
		out = p
		return outbox.Append(ctx, tx, ev)
	})
	return out, err
}
