package grpcapi

import (
	"context"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// GetReasonBreakdown implements pb.ReportingServiceServer.
func (s *Server) GetReasonBreakdown(ctx context.Context, req *pb.GetReasonBreakdownRequest) (*pb.GetReasonBreakdownResponse, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := auth.VisibleRegions(caller, req.GetRegion())
	if err == nil && req.GetCampaignId() != "" {
		err = validate.UUID("campaign_id", req.GetCampaignId())
	}
	if err == nil {
		err = checkSource(req.GetSource())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	w, err := window(req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	b, err := s.reports.Breakdown(ctx, report.AppQuery{Regions: regions, CampaignID: req.GetCampaignId(), Role: req.GetRole(),
		Source: req.GetSource(), Submitted: w})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.GetReasonBreakdownResponse{Applications: int32(b.Applications)}
	for _, src := range b.Sources {
		resp.Sources = append(resp.Sources, &pb.SourceBreakdown{Source: src.Source, Stages: funnelToProto(src.Funnel),
			TimeToHire: measureToProto(src.TimeToHire), ApplicationToStart: measureToProto(src.ApplicationToStart)})
	}
	for _, r := range b.Reasons {
		resp.Reasons = append(resp.Reasons, &pb.ReasonCount{Kind: pb.ExitKind(r.Kind), ReasonCode: r.Reason, Stage: r.Stage,
			Count: int32(r.Count), DaysToExit: statsToProto(r.DaysToExit)})
	}
	return resp, nil
}

// checkSource checks a report's optional source filter: a code of the
// source list, other:<code>, or "unknown".
func checkSource(src string) error {
	if src == "" || src == reason.Unknown || reason.Source.Valid(src) {
		return nil
	}
	return validate.Field("source", "must be one of "+reason.Source.Accepted()+`, or "unknown" for applications with none recorded`)
}

func funnelToProto(stages []report.FunnelStage) []*pb.FunnelStage {
	out := make([]*pb.FunnelStage, len(stages))
	for i, f := range stages {
		out[i] = &pb.FunnelStage{Stage: f.Stage, Reached: int32(f.Reached),
			ConversionFromPrevious: f.Conversion, Rejected: int32(f.Rejected), Withdrawn: int32(f.Withdrawn)}
	}
	return out
}
