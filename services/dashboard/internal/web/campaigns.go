package web

import (
	"cmp"
	"context"
	"net/http"
	"strings"

	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// campaignsView is the list of a region's campaigns with their progress
// in the region.
type campaignsView struct {
	chrome
	Region, RegionName string
	Rows               []campaignRow
}

// campaignRow is one campaign's progress in one region (or in total).
type campaignRow struct {
	ID, Title, Role, Status, StatusCode string
	// Regions names the campaign's regions when it has several.
	Regions                                                    string
	Region                                                     string
	Posts, Applications, PassedSift, Offers, Accepted, Started int32
	Filled, Remaining                                          int32
	// FilledPercent is filled / posts, 0-100, for the progress bar.
	FilledPercent int32
}

func progressRow(c *pb.CampaignSummary, p *pb.CampaignProgress) campaignRow {
	r := campaignRow{ID: c.GetCampaignId(), Title: cmp.Or(c.GetTitle(), c.GetCampaignId()), Role: roleName(c.GetRole()),
		Status: campaignStatusName(c.GetStatus()), StatusCode: enumCode(c.GetStatus(), "CAMPAIGN_STATUS_"),
		Region: cmp.Or(regionName(p.GetRegion()), "All regions"), Posts: p.GetPosts(), Applications: p.GetApplications(),
		PassedSift: p.GetPassedSift(), Offers: p.GetOffers(), Accepted: p.GetAccepted(), Started: p.GetStarted(),
		Filled: p.GetFilled(), Remaining: p.GetRemaining()}
	if p.GetRegion() == "" {
		r.Region = "All regions"
	}
	if len(c.GetRegions()) > 1 {
		names := make([]string, len(c.GetRegions()))
		for i, code := range c.GetRegions() {
			names[i] = regionName(code)
		}
		r.Regions = strings.Join(names, ", ")
	}
	if r.Posts > 0 {
		r.FilledPercent = min(100, r.Filled*100/r.Posts)
	}
	return r
}

func campaignStatusName(s commonv1.CampaignStatus) string {
	switch s {
	case commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN:
		return "Open"
	case commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED:
		return "Closed"
	case commonv1.CampaignStatus_CAMPAIGN_STATUS_CANCELLED:
		return "Cancelled"
	}
	return "Unknown"
}

// regionCampaigns lists the region's campaigns, newest first, each with
// its posts filled in the region.
func (s *Server) regionCampaigns(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	code, _, ok := s.regionRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := s.reports.ListCampaignProgress(ctx, &pb.ListCampaignProgressRequest{Region: code})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := &campaignsView{chrome: chrome{Title: "Campaigns in " + regionName(code)}, Region: code, RegionName: regionName(code)}
	for _, c := range resp.GetCampaigns() {
		v.Rows = append(v.Rows, progressRow(c.GetCampaign(), c.GetProgress()))
	}
	s.render(w, r, http.StatusOK, "campaigns", v)
}

// campaignView is one campaign's progress in each region the user holds,
// and in total when they hold every one.
type campaignView struct {
	chrome
	Campaign campaignRow
	Rows     []campaignRow
	Total    *campaignRow
	// Region is where the user came from (the breadcrumb), if any.
	Region, RegionName string
}

func (s *Server) campaign(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	id := strings.ToLower(r.PathValue("campaign"))
	if validate.UUID("campaign", id) != nil {
		s.fail(w, r, errNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := s.reports.GetCampaignProgress(ctx, &pb.GetCampaignProgressRequest{CampaignId: id})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c := resp.GetCampaign()
	v := &campaignView{chrome: chrome{Title: cmp.Or(c.GetTitle(), "Campaign")}, Campaign: progressRow(c, &pb.CampaignProgress{})}
	for _, p := range resp.GetRegions() {
		v.Rows = append(v.Rows, progressRow(c, p))
	}
	if t := resp.GetTotal(); t != nil {
		row := progressRow(c, t)
		v.Total = &row
	}
	if from := r.URL.Query().Get("region"); validate.Region("region", from) == nil {
		v.Region, v.RegionName = from, regionName(from)
	} else if len(resp.GetRegions()) == 1 {
		v.Region, v.RegionName = resp.GetRegions()[0].GetRegion(), regionName(resp.GetRegions()[0].GetRegion())
	}
	s.render(w, r, http.StatusOK, "campaign", v)
}
