package grpcapi

import (
	"context"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// MaxWithdrawals is the most applications one BatchWithdrawApplications
// call may carry.
const MaxWithdrawals = 1000

// BatchWithdrawApplications implements pb.ApplicationsServiceServer; see
// command.Batch for how items, retries and dry runs behave. Each item is
// WithdrawApplication's change, the application read as the caller may
// see it, so an application of a region the caller does not hold fails
// alone.
func (s *Server) BatchWithdrawApplications(ctx context.Context, req *pb.BatchWithdrawApplicationsRequest) (*pb.BatchWithdrawApplicationsResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchWithdrawApplications", Roles: spocs},
		Field: "items", ItemNoun: "applications", Max: MaxWithdrawals, DryRun: req.GetDryRun()}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.withdrawn(), req, req.GetItems(), newWithdrawResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.WithdrawItem, resp *pb.WithdrawApplicationResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			a, err := s.svc.Withdraw(ctx, caller, item.GetApplicationId(), item.GetExpectedVersion(), item.GetReasonCode())
			if a != nil {
				resp.Application = applicationToProto(a)
			}
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchWithdrawApplicationsResponse{DryRun: req.GetDryRun()}
	out.Succeeded, out.Failed = command.Tally(ctx, errs, s.toStatus, func(i int, st *commonv1.ItemStatus, ok bool) {
		r := &pb.WithdrawResult{Index: int32(i), ApplicationId: req.GetItems()[i].GetApplicationId(), Status: st}
		if ok {
			r.Application = resps[i].GetApplication()
		}
		out.Results = append(out.Results, r)
	})
	return out, nil
}

func newWithdrawResponse() *pb.WithdrawApplicationResponse { return &pb.WithdrawApplicationResponse{} }

// withdrawn answers a retried item of BatchWithdrawApplications, as
// applications does.
func (s *Server) withdrawn() command.Records[*pb.WithdrawApplicationResponse] {
	return command.Records[*pb.WithdrawApplicationResponse]{
		Ref: func(r *pb.WithdrawApplicationResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetApplication().GetId(), Version: r.GetApplication().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.WithdrawApplicationResponse, error) {
			a, err := s.svc.Application(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.WithdrawApplicationResponse{Application: applicationToProto(a)}, nil
		},
	}
}
