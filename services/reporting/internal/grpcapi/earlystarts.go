package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// earlyStartReaders read a region's early starts against its cap: the
// report readers, and the approvers who approve them.
var earlyStartReaders = append([]auth.Role{auth.RoleApprover}, readers...)

// GetEarlyStarts implements pb.ReportingServiceServer.
func (s *Server) GetEarlyStarts(ctx context.Context, req *pb.GetEarlyStartsRequest) (*pb.GetEarlyStartsResponse, error) {
	if _, err := region(ctx, req.GetRegion(), earlyStartReaders...); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	now := s.now().UTC()
	es, err := s.reports.EarlyStarts(ctx, req.GetRegion(), now)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetEarlyStartsResponse{Region: es.Region, Enabled: es.Enabled, Cap: int32(es.Cap),
		StartedSubjectToVetting: int32(es.Started), Overdue: int32(es.Overdue), AsOf: timestamppb.New(now)}, nil
}
