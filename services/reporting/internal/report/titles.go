package report

import (
	"context"
	"slices"
)

// CampaignTitles returns the titles of the campaigns ids, by id (one read
// for a page of a list); a campaign whose title the projection has not
// seen is missing, and an empty id is skipped.
func (s *Service) CampaignTitles(ctx context.Context, ids []string) (map[string]string, error) {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" })
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return map[string]string{}, nil
	}
	return s.store.CampaignTitles(ctx, ids)
}
