package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// applyEarlyStartPolicies stores each region's early start policy from
// offer.early_start_policy_set, newer versions only, inside the batch's
// transaction. A policy feeds no aggregate: it is read beside the count.
func applyEarlyStartPolicies(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
	b := &pgx.Batch{}
	for _, ev := range evs {
		p := ev.GetOfferEarlyStartPolicySet()
		if p == nil {
			continue
		}
		b.Queue(`INSERT INTO early_start_policies (region, enabled, cap, version) VALUES ($1, $2, $3, $4)
			ON CONFLICT (region) DO UPDATE SET enabled = excluded.enabled, cap = excluded.cap, version = excluded.version
			WHERE early_start_policies.version < excluded.version`, ev.GetRegion(), p.GetEnabled(), p.GetCap(), ev.GetAggregateVersion())
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store early start policies: %w", err)
	}
	return nil
}

// EarlyStarts reads region's early start policy and counts its candidates
// started subject to vetting, and those of them whose vetting due date is
// before today (index apps_early_starts).
func (s *Store) EarlyStarts(ctx context.Context, region string, today time.Time) (report.EarlyStarts, error) {
	out := report.EarlyStarts{Region: region}
	err := s.pool.QueryRow(ctx, `SELECT
			coalesce((SELECT enabled FROM early_start_policies WHERE region = $1), false),
			coalesce((SELECT cap FROM early_start_policies WHERE region = $1), 0),
			count(*), count(*) FILTER (WHERE vetting_due_by < $3)
		FROM apps WHERE region = $1 AND subject_to_vetting AND stage = $2 AND vetting_cleared_at IS NULL`,
		region, int32(commonv1.Stage_STAGE_HIRED), today).Scan(&out.Enabled, &out.Cap, &out.Started, &out.Overdue)
	if err != nil {
		return report.EarlyStarts{}, fmt.Errorf("read early starts: %w", err)
	}
	return out, nil
}
