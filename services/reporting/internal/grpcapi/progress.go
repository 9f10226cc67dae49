package grpcapi

import (
	"context"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// GetCampaignProgress implements pb.ReportingServiceServer: the caller's
// regions of the campaign, and the total only to a caller who may see
// every one of them (an admin always may). A campaign in none of the
// caller's regions is not found, as if it did not exist.
func (s *Server) GetCampaignProgress(ctx context.Context, req *pb.GetCampaignProgressRequest) (*pb.GetCampaignProgressResponse, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validate.UUID("campaign_id", req.GetCampaignId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	asOf, err := s.asOf(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sum, regions, err := s.reports.CampaignProgress(ctx, req.GetCampaignId(), asOf.Truncate(time.Microsecond))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if !slices.ContainsFunc(sum.Regions, caller.CanAccessRegion) {
		return nil, s.toStatus(ctx, record.NotFound("campaign: not found"))
	}
	resp := &pb.GetCampaignProgressResponse{Campaign: campaignSummaryToProto(sum), AsOf: timestamppb.New(asOf)}
	var total report.Progress
	all := true
	for _, p := range regions {
		total = total.Add(p)
		if caller.CanAccessRegion(p.Region) {
			resp.Regions = append(resp.Regions, progressToProto(p))
		} else {
			all = false
		}
	}
	if all {
		resp.Total = progressToProto(total)
	}
	return resp, nil
}

// ListCampaignProgress implements pb.ReportingServiceServer.
func (s *Server) ListCampaignProgress(ctx context.Context, req *pb.ListCampaignProgressRequest) (*pb.ListCampaignProgressResponse, error) {
	if _, err := region(ctx, req.GetRegion(), readers...); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	asOf, err := s.asOf(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sums, ps, err := s.reports.RegionCampaignProgress(ctx, req.GetRegion(), asOf.Truncate(time.Microsecond))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListCampaignProgressResponse{AsOf: timestamppb.New(asOf)}
	for i, sum := range sums {
		resp.Campaigns = append(resp.Campaigns, &pb.RegionCampaign{Campaign: campaignSummaryToProto(sum), Progress: progressToProto(ps[i])})
	}
	return resp, nil
}

func campaignSummaryToProto(c report.CampaignSummary) *pb.CampaignSummary {
	out := &pb.CampaignSummary{CampaignId: c.ID, Title: c.Title, Role: commonv1.JobRole(c.Role), Status: c.StatusProto(),
		OpensOn: event.Date(c.OpensOn), Regions: c.Regions}
	if c.ClosesOn != nil {
		out.ClosesOn = event.Date(*c.ClosesOn)
	}
	return out
}

func progressToProto(p report.Progress) *pb.CampaignProgress {
	return &pb.CampaignProgress{Region: p.Region, Posts: int32(p.Posts), Applications: int32(p.Applications),
		PassedSift: int32(p.PassedSift), Offers: int32(p.Offers), Accepted: int32(p.Accepted), Started: int32(p.Started),
		Filled: int32(p.Filled), Remaining: int32(p.Remaining())}
}
