package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// applyTitles stores the title of each campaign event newer than the one
// held, inside the batch's transaction. Titles label the stuck list and
// feed no aggregate, so they stand apart from the campaigns the fold
// measures with.
func applyTitles(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
	b := &pgx.Batch{}
	for _, ev := range evs {
		var d *eventsv1.CampaignDetails
		switch p := ev.GetPayload().(type) {
		case *eventsv1.Event_CampaignCreated:
			d = p.CampaignCreated.GetCampaign()
		case *eventsv1.Event_CampaignUpdated:
			d = p.CampaignUpdated.GetCampaign()
		case *eventsv1.Event_CampaignStatusChanged:
			d = p.CampaignStatusChanged.GetCampaign()
		default:
			continue
		}
		b.Queue(`INSERT INTO campaign_titles (campaign_id, title, version) VALUES ($1, $2, $3)
			ON CONFLICT (campaign_id) DO UPDATE SET title = excluded.title, version = excluded.version
			WHERE campaign_titles.version < excluded.version`, ev.GetCampaignId(), d.GetTitle(), ev.GetAggregateVersion())
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store campaign titles: %w", err)
	}
	return nil
}

// CampaignTitles returns the titles of the campaigns ids, by id; a
// campaign whose title the projection has not seen is missing.
func (s *Store) CampaignTitles(ctx context.Context, ids []string) (map[string]string, error) {
	arg, err := pg.UUIDs(ids)
	if err != nil {
		return nil, fmt.Errorf("read campaign titles: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT campaign_id::text, title FROM campaign_titles WHERE campaign_id = ANY($1)`, arg)
	if err != nil {
		return nil, fmt.Errorf("read campaign titles: %w", err)
	}
	out := map[string]string{}
	var id, title string
	_, err = pgx.ForEachRow(rows, []any{&id, &title}, func() error {
		out[id] = title
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read campaign titles: %w", err)
	}
	return out, nil
}
