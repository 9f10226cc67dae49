package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/record"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// campaignStatus is a campaign event's status; events written before
// campaigns had one are of an open campaign.
func campaignStatus(d *eventsv1.CampaignDetails) commonv1.CampaignStatus {
	if d.GetStatus() == commonv1.CampaignStatus_CAMPAIGN_STATUS_UNSPECIFIED {
		return commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN
	}
	return d.GetStatus()
}

// putCampaignRegions replaces the campaign's regions with the event's
// (for an event written before campaigns had several, its envelope's
// region with all the posts). Called only for an event newer than the
// campaign held.
func putCampaignRegions(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event, d *eventsv1.CampaignDetails) error {
	regions, posts := []string{ev.GetRegion()}, []int32{d.GetPosts()}
	if len(d.GetRegions()) > 0 {
		regions, posts = nil, nil
		for _, r := range d.GetRegions() {
			regions, posts = append(regions, r.GetRegion()), append(posts, r.GetPosts())
		}
	}
	id, err := pg.UUIDs([]string{ev.GetCampaignId()})
	if err != nil {
		return fmt.Errorf("store campaign regions: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM campaign_regions WHERE campaign_id = $1`, id[0]); err != nil {
		return fmt.Errorf("store campaign regions: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO campaign_regions (campaign_id, ord, region, posts)
		SELECT $1, ord - 1, region, posts FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS r (region, posts, ord)`,
		id[0], regions, posts); err != nil {
		return fmt.Errorf("store campaign regions: %w", err)
	}
	return nil
}

// progressCounts counts a campaign region's applications (a) as of $asOf
// by their milestone times: a past as_of counts what had happened by then.
// A start withdrawn since (vetting failed after it) fills no post.
const progressCounts = `count(a.application_id) FILTER (WHERE a.submitted_at <= $2),
	count(a.application_id) FILTER (WHERE a.sift_passed_at <= $2),
	count(a.application_id) FILTER (WHERE a.offer_made_at <= $2),
	count(a.application_id) FILTER (WHERE a.offer_accepted_at <= $2),
	count(a.application_id) FILTER (WHERE a.started_at <= $2),
	count(a.application_id) FILTER (WHERE a.started_at <= $2 AND (a.withdrawn_at IS NULL OR a.withdrawn_at > $2))`

func scanProgress(row pgx.Row, into ...any) (report.Progress, error) {
	var p report.Progress
	err := row.Scan(append(into, &p.Posts, &p.Applications, &p.PassedSift, &p.Offers, &p.Accepted, &p.Started, &p.Filled)...)
	return p, err
}

// CampaignProgress returns the campaign's summary and its progress in
// each of its regions as of asOf, in the campaign's order; a campaign the
// projection has not seen is record.ErrNotFound.
func (s *Store) CampaignProgress(ctx context.Context, campaignID string, asOf time.Time) (report.CampaignSummary, []report.Progress, error) {
	sums, err := s.campaignSummaries(ctx, []string{campaignID})
	if err != nil {
		return report.CampaignSummary{}, nil, err
	}
	sum, ok := sums[campaignID]
	if !ok {
		return sum, nil, record.NotFound("campaign: not found")
	}
	rows, err := s.pool.Query(ctx, `SELECT r.region, r.posts, `+progressCounts+`
		FROM campaign_regions r LEFT JOIN apps a ON a.campaign_id = r.campaign_id AND a.region = r.region
		WHERE r.campaign_id = $1 GROUP BY r.ord, r.region, r.posts ORDER BY r.ord`, campaignID, asOf)
	if err != nil {
		return sum, nil, fmt.Errorf("read campaign progress: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (report.Progress, error) {
		var region string
		p, err := scanProgress(r, &region)
		p.Region = region
		return p, err
	})
	if err != nil {
		return sum, nil, fmt.Errorf("read campaign progress: %w", err)
	}
	return sum, out, nil
}

// RegionCampaignProgress returns the progress in region of every campaign
// recruiting there, newest first, at most limit.
func (s *Store) RegionCampaignProgress(ctx context.Context, region string, asOf time.Time, limit int) ([]report.CampaignSummary, []report.Progress, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.campaign_id::text, r.posts, `+progressCounts+`
		FROM (SELECT * FROM campaign_regions WHERE region = $1 ORDER BY campaign_id DESC LIMIT $3) r
		LEFT JOIN apps a ON a.campaign_id = r.campaign_id AND a.region = r.region
		GROUP BY r.campaign_id, r.posts ORDER BY r.campaign_id DESC`, region, asOf, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("read region campaign progress: %w", err)
	}
	var ids []string
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (report.Progress, error) {
		var id string
		p, err := scanProgress(r, &id)
		p.Region = region
		ids = append(ids, id)
		return p, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read region campaign progress: %w", err)
	}
	sums, err := s.campaignSummaries(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	out := make([]report.CampaignSummary, len(ids))
	for i, id := range ids {
		out[i] = sums[id]
	}
	return out, ps, nil
}

// campaignSummaries reads the campaigns ids, by id.
func (s *Store) campaignSummaries(ctx context.Context, ids []string) (map[string]report.CampaignSummary, error) {
	arg, err := pg.UUIDs(ids)
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", record.NotFound("campaign: not found"))
	}
	rows, err := s.pool.Query(ctx, `SELECT c.campaign_id::text, coalesce(t.title, ''), c.role, c.status, c.opens_on, c.closes_on,
			array(SELECT r.region FROM campaign_regions r WHERE r.campaign_id = c.campaign_id ORDER BY r.ord)
		FROM campaigns c LEFT JOIN campaign_titles t ON t.campaign_id = c.campaign_id
		WHERE c.campaign_id = ANY($1)`, arg)
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	out := map[string]report.CampaignSummary{}
	var c report.CampaignSummary
	_, err = pgx.ForEachRow(rows, []any{&c.ID, &c.Title, &c.Role, &c.Status, &c.OpensOn, &c.ClosesOn, &c.Regions}, func() error {
		out[c.ID] = c
		return nil
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	return out, nil
}
