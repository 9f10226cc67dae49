package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// Apps reads the records the query selects, with their campaigns, in one
// snapshot: the applications of q's regions (by the apps_region_source
// index), of its campaign, role and source ("unknown": none recorded),
// submitted within its window.
func (s *Store) Apps(ctx context.Context, q report.AppQuery) ([]*projection.App, map[string]*projection.Campaign, error) {
	var campaign any
	if q.CampaignID != "" {
		campaign = q.CampaignID
	}
	var source any
	switch q.Source {
	case "":
	case reason.Unknown:
		source = ""
	default:
		source = q.Source
	}
	from, to := q.Submitted.Bounds()
	var apps map[string]*projection.App
	var campaigns map[string]*projection.Campaign
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		where := ` WHERE region = ANY($1::text[]) AND ($2::uuid IS NULL OR campaign_id = $2::uuid) AND ($3::int = 0 OR role = $3)
			AND ($4::text IS NULL OR source = $4::text) AND submitted_at IS NOT NULL
			AND (submitted_at AT TIME ZONE 'Europe/London')::date BETWEEN $5::date AND $6::date`
		args := []any{q.Regions, campaign, int32(q.Role), source, from, to}
		b.Queue(selectApps+where, args...).Query(func(rows pgx.Rows) (err error) {
			apps, err = scanApps(rows, 0)
			return err
		})
		b.Queue(`SELECT campaign_id::text, region, role, opens_on, closes_on, posts, version FROM campaigns
			WHERE campaign_id IN (SELECT campaign_id FROM apps`+where+`)`, args...).Query(func(rows pgx.Rows) (err error) {
			campaigns, err = scanCampaigns(rows)
			return err
		})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read applications for a breakdown: %w", err)
	}
	out := make([]*projection.App, 0, len(apps))
	for _, a := range apps {
		out = append(out, a)
	}
	return out, campaigns, nil
}
