package report

import (
	"context"
	"slices"
)

// CampaignTitles returns the titles of the campaigns of rows, by campaign
// id (one read for a page of the stuck list); a campaign whose title the
// projection has not seen is missing, and so is a row with no campaign.
func (s *Service) CampaignTitles(ctx context.Context, rows []StuckRow) (map[string]string, error) {
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.CampaignID != "" {
			ids = append(ids, r.CampaignID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return map[string]string{}, nil
	}
	return s.store.CampaignTitles(ctx, ids)
}
