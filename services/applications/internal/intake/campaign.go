package intake

import (
	"slices"
	"strconv"
	"strings"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// RegionPosts is one region a campaign recruits in, and its posts there.
type RegionPosts struct {
	Region string
	Posts  int
}

// MaxCampaignRegions is every region once.
const MaxCampaignRegions = 12

// CampaignStatus is where a campaign stands: applications go only to an
// OPEN one.
type CampaignStatus string

// Campaign statuses.
const (
	CampaignOpen      CampaignStatus = "OPEN"
	CampaignClosed    CampaignStatus = "CLOSED"
	CampaignCancelled CampaignStatus = "CANCELLED"
)

// Describe says the status in a sentence, for the error that refuses a
// change.
func (s CampaignStatus) Describe() string { return "campaign is " + string(s) }

// campaignMoves are the status changes allowed: a closed campaign may open
// again (its closing was early, or more posts came), a cancelled one is
// final.
var campaignMoves = map[CampaignStatus][]CampaignStatus{
	CampaignOpen:   {CampaignClosed, CampaignCancelled},
	CampaignClosed: {CampaignOpen, CampaignCancelled},
}

// CanMove reports whether a campaign may go from s to to.
func (s CampaignStatus) CanMove(to CampaignStatus) bool {
	return slices.Contains(campaignMoves[s], to)
}

var campaignStatusProto = map[CampaignStatus]commonv1.CampaignStatus{
	CampaignOpen: commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN, CampaignClosed: commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED,
	CampaignCancelled: commonv1.CampaignStatus_CAMPAIGN_STATUS_CANCELLED,
}

// CampaignStatusProto converts to the contract's enum.
func CampaignStatusProto(s CampaignStatus) commonv1.CampaignStatus { return campaignStatusProto[s] }

// CampaignStatusFromProto converts from the contract's enum; false for an
// unset or unknown one.
func CampaignStatusFromProto(p commonv1.CampaignStatus) (CampaignStatus, bool) {
	for s, v := range campaignStatusProto {
		if v == p {
			return s, true
		}
	}
	return "", false
}

// RegionCodes lists the campaign's regions, the lead region first.
func (c *Campaign) RegionCodes() []string {
	out := make([]string, len(c.Regions))
	for i, r := range c.Regions {
		out[i] = r.Region
	}
	return out
}

// HasRegion reports whether the campaign recruits in region.
func (c *Campaign) HasRegion(region string) bool { return slices.Contains(c.RegionCodes(), region) }

// setRegions sets the regions and what follows from them: the lead region
// and the total of posts.
func (c *Campaign) setRegions(rs []RegionPosts) {
	c.Regions = slices.Clone(rs)
	c.Region, c.Posts = rs[0].Region, 0
	for _, r := range rs {
		c.Posts += r.Posts
	}
}

// validateRegions checks a campaign's regions: 1-12, each a known region
// once, each with 1-MaxPosts posts.
func validateRegions(rs []RegionPosts) error {
	if len(rs) == 0 {
		return validate.Field("regions", "is required: at least one region with its posts")
	}
	if len(rs) > MaxCampaignRegions {
		return validate.Field("regions", "must list at most "+strconv.Itoa(MaxCampaignRegions)+" regions")
	}
	seen := map[string]bool{}
	for i, r := range rs {
		field := "regions[" + strconv.Itoa(i) + "]"
		if err := validate.Region(field+".region", r.Region); err != nil {
			return err
		}
		if seen[r.Region] {
			return validate.Field(field+".region", r.Region+" is listed twice")
		}
		seen[r.Region] = true
		if r.Posts < 1 || r.Posts > MaxPosts {
			return validate.Field(field+".posts", "must be between 1 and "+strconv.Itoa(MaxPosts))
		}
	}
	return nil
}

// requireAllRegions is the rule for changing a campaign: an admin, or a
// SPOC holding every one of regions. A SPOC holding none of the
// campaign's regions (had) is told it does not exist, as for any record
// out of region.
func requireAllRegions(caller auth.Claims, had, regions []string) error {
	if len(had) > 0 && !slices.ContainsFunc(had, caller.CanAccessRegion) {
		return record.NotFound("campaign: not found")
	}
	for _, r := range regions {
		if err := caller.RequireRegion(r); err != nil {
			return err
		}
	}
	return nil
}

// applicationRegion is the region an application to c is for: region if
// given (one of the campaign's), else the campaign's only one. field names
// region in the request.
func applicationRegion(c *Campaign, region, field string) (string, error) {
	if region == "" {
		if len(c.Regions) == 1 {
			return c.Regions[0].Region, nil
		}
		return "", validate.Field(field, "is required: the campaign recruits in "+strings.Join(c.RegionCodes(), ", "))
	}
	if !c.HasRegion(region) {
		return "", validate.Field(field, region+" is not a region of the campaign ("+strings.Join(c.RegionCodes(), ", ")+")")
	}
	return region, nil
}
