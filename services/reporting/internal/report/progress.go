package report

import (
	"context"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// CampaignSummary is a campaign as the projection knows it.
type CampaignSummary struct {
	ID       string
	Title    string
	Role     int32
	Status   int32
	OpensOn  time.Time
	ClosesOn *time.Time
	// Regions, the lead region first.
	Regions []string
}

// Progress is how far a campaign has come in one region ("" for the
// total of several).
type Progress struct {
	Region                                                     string
	Posts, Applications, PassedSift, Offers, Accepted, Started int
	Filled                                                     int
}

// Remaining is the posts not filled, never below 0.
func (p Progress) Remaining() int { return max(p.Posts-p.Filled, 0) }

// Add adds q's counts to p's.
func (p Progress) Add(q Progress) Progress {
	p.Posts += q.Posts
	p.Applications += q.Applications
	p.PassedSift += q.PassedSift
	p.Offers += q.Offers
	p.Accepted += q.Accepted
	p.Started += q.Started
	p.Filled += q.Filled
	return p
}

// ProgressStore reads campaign progress from the projection.
type ProgressStore interface {
	CampaignProgress(ctx context.Context, campaignID string, asOf time.Time) (CampaignSummary, []Progress, error)
	RegionCampaignProgress(ctx context.Context, region string, asOf time.Time, limit int) ([]CampaignSummary, []Progress, error)
}

// StatusProto is the summary's status in the contract's enum.
func (c CampaignSummary) StatusProto() commonv1.CampaignStatus {
	return commonv1.CampaignStatus(c.Status)
}

// CampaignProgress returns the campaign and its progress in each of its
// regions as of asOf. The caller filters the regions it may see.
func (s *Service) CampaignProgress(ctx context.Context, campaignID string, asOf time.Time) (CampaignSummary, []Progress, error) {
	return s.store.CampaignProgress(ctx, campaignID, asOf)
}

// MaxRegionCampaigns bounds ListCampaignProgress: a region runs tens of
// campaigns a year.
const MaxRegionCampaigns = 200

// RegionCampaignProgress returns the progress in region of its campaigns,
// newest first.
func (s *Service) RegionCampaignProgress(ctx context.Context, region string, asOf time.Time) ([]CampaignSummary, []Progress, error) {
	return s.store.RegionCampaignProgress(ctx, region, asOf, MaxRegionCampaigns)
}
