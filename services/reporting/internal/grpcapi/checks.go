package grpcapi

import (
	"context"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// ListOutstandingChecks implements pb.ReportingServiceServer: a region's
// offers with pre-employment checks outstanding, oldest offer first, for
// the region's readers.
func (s *Server) ListOutstandingChecks(ctx context.Context, req *pb.ListOutstandingChecksRequest) (*pb.ListOutstandingChecksResponse, error) {
	if _, err := region(ctx, req.GetRegion(), readers...); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	q := report.ChecksQuery{Region: req.GetRegion(), Check: req.GetCheck()}
	if c := q.Check; c != commonv1.OfferCondition_OFFER_CONDITION_UNSPECIFIED && !slices.Contains(report.Checks, c) {
		return nil, s.toStatus(ctx, validate.Field("check", "must be OFFER_CONDITION_REFERENCES, OFFER_CONDITION_MEDICAL or OFFER_CONDITION_RIGHT_TO_WORK"))
	}
	filters := []string{q.Region, q.Check.String()}
	limit, after, err := pagetoken.PageByKey(req.GetPageSize(), req.GetPageToken(), filters...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	q.After, q.Limit = after, limit+1
	rows, err := s.reports.OutstandingChecks(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rows, next := pagetoken.Next(rows, limit, func(r report.OutstandingChecks) string {
		return pagetoken.Key{At: r.OfferMadeAt, ID: r.ApplicationID}.String()
	}, filters...)
	now := s.now()
	resp := &pb.ListOutstandingChecksResponse{NextPageToken: next}
	for _, r := range rows {
		resp.Applications = append(resp.Applications, &pb.OutstandingChecks{
			ApplicationId: r.ApplicationID, CampaignId: r.CampaignID, Region: r.Region, Role: r.Role, Stage: r.Stage,
			OfferMadeAt: timestamppb.New(r.OfferMadeAt), DaysOutstanding: int32(record.DaysSince(r.OfferMadeAt, now)),
			Checks: r.Checks, Assignee: r.Assignee,
		})
	}
	return resp, nil
}

// checkDurationsToProto converts the time per check.
func checkDurationsToProto(ds []report.CheckDuration) []*pb.CheckDuration {
	out := make([]*pb.CheckDuration, len(ds))
	for i, d := range ds {
		out[i] = &pb.CheckDuration{Check: d.Check, Days: statsToProto(d.Days)}
	}
	return out
}
