// Package grpcapi serves recruitment.vetting.v1: it checks the caller,
// converts between the contract and the vetting rules, makes changes
// idempotent by request id, and maps errors to status codes in one place.
package grpcapi

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

// MaxBatch is the most cases one batch call may carry.
const MaxBatch = 1000

var (
	// changers may change cases: the region's vetting contact point (and admins).
	changers = []auth.Role{auth.RoleVetting}
	// readers may read them: SPOCs too.
	readers = []auth.Role{auth.RoleVetting, auth.RoleSPOC}
)

// Server implements pb.VettingServiceServer.
type Server struct {
	pb.UnimplementedVettingServiceServer
	svc  *vetting.Service
	pool *pgxpool.Pool
	log  *slog.Logger
}

// New returns a Server; pool records request ids with the changes.
func New(svc *vetting.Service, pool *pgxpool.Pool, log *slog.Logger) *Server {
	return &Server{svc: svc, pool: pool, log: log}
}

// RecordFormsReceived implements pb.VettingServiceServer.
func (s *Server) RecordFormsReceived(ctx context.Context, req *pb.RecordFormsReceivedRequest) (*pb.RecordFormsReceivedResponse, error) {
	resp := &pb.RecordFormsReceivedResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("RecordFormsReceived", changers, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, c auth.Claims) (*vetting.Case, error) {
			return s.svc.RecordFormsReceived(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, c *vetting.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// BlockCase implements pb.VettingServiceServer.
func (s *Server) BlockCase(ctx context.Context, req *pb.BlockCaseRequest) (*pb.BlockCaseResponse, error) {
	resp := &pb.BlockCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("BlockCase", changers, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, c auth.Claims) (*vetting.Case, error) {
			return s.svc.Block(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), req.GetReason(), req.GetNote())
		}, func(viewer auth.Claims, c *vetting.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// UnblockCase implements pb.VettingServiceServer.
func (s *Server) UnblockCase(ctx context.Context, req *pb.UnblockCaseRequest) (*pb.UnblockCaseResponse, error) {
	resp := &pb.UnblockCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("UnblockCase", changers, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, c auth.Claims) (*vetting.Case, error) {
			return s.svc.Unblock(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, c *vetting.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// ClearCase implements pb.VettingServiceServer.
func (s *Server) ClearCase(ctx context.Context, req *pb.ClearCaseRequest) (*pb.ClearCaseResponse, error) {
	resp := &pb.ClearCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("ClearCase", changers, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, c auth.Claims) (*vetting.Case, error) {
			return s.svc.Clear(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, c *vetting.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// FailCase implements pb.VettingServiceServer.
func (s *Server) FailCase(ctx context.Context, req *pb.FailCaseRequest) (*pb.FailCaseResponse, error) {
	resp := &pb.FailCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("FailCase", changers, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, c auth.Claims) (*vetting.Case, error) {
			return s.svc.Fail(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), req.GetReasonCode())
		}, func(viewer auth.Claims, c *vetting.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// BatchUnblock implements pb.VettingServiceServer; see command.Batch for
// how items, retries and dry runs behave.
func (s *Server) BatchUnblock(ctx context.Context, req *pb.BatchUnblockRequest) (*pb.BatchUnblockResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchUnblock", Roles: changers}, Field: "items", ItemNoun: "cases", Max: MaxBatch, DryRun: req.GetDryRun()}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.unblocked(), req, req.GetItems(), newUnblockResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.UnblockItem, resp *pb.UnblockCaseResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			c, err := s.svc.Unblock(ctx, caller, item.GetApplicationId(), item.GetExpectedVersion())
			resp.Case = caseToProto(c, caller)
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchUnblockResponse{DryRun: req.GetDryRun()}
	out.Succeeded, out.Failed = command.Tally(ctx, errs, s.toStatus, func(i int, st *commonv1.ItemStatus, ok bool) {
		r := &pb.UnblockResult{Index: int32(i), ApplicationId: req.GetItems()[i].GetApplicationId(), Status: st}
		if ok {
			r.Case = resps[i].GetCase()
		}
		out.Results = append(out.Results, r)
	})
	return out, nil
}

// BatchClear implements pb.VettingServiceServer; see command.Batch for
// how items, retries and dry runs behave. Each case is read as the caller
// may see it, so a case of a region the caller does not hold fails alone.
func (s *Server) BatchClear(ctx context.Context, req *pb.BatchClearRequest) (*pb.BatchClearResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchClear", Roles: changers}, Field: "items", ItemNoun: "cases", Max: MaxBatch, DryRun: req.GetDryRun()}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.cleared(), req, req.GetItems(), newClearResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.ClearItem, resp *pb.ClearCaseResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			c, err := s.svc.Clear(ctx, caller, item.GetApplicationId(), item.GetExpectedVersion())
			resp.Case = caseToProto(c, caller)
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchClearResponse{DryRun: req.GetDryRun()}
	out.Succeeded, out.Failed = command.Tally(ctx, errs, s.toStatus, func(i int, st *commonv1.ItemStatus, ok bool) {
		r := &pb.ClearResult{Index: int32(i), ApplicationId: req.GetItems()[i].GetApplicationId(), Status: st}
		if ok {
			r.Case = resps[i].GetCase()
		}
		out.Results = append(out.Results, r)
	})
	return out, nil
}

func newClearResponse() *pb.ClearCaseResponse { return &pb.ClearCaseResponse{} }

// cleared answers a retried item of BatchClear, as cases does.
func (s *Server) cleared() command.Records[*pb.ClearCaseResponse] {
	return command.Records[*pb.ClearCaseResponse]{
		Ref: func(r *pb.ClearCaseResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetCase().GetApplicationId(), Version: r.GetCase().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.ClearCaseResponse, error) {
			c, err := s.svc.Case(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.ClearCaseResponse{Case: caseToProto(c, caller)}, nil
		},
	}
}

// AssignCase implements pb.VettingServiceServer.
func (s *Server) AssignCase(ctx context.Context, req *pb.AssignCaseRequest) (*pb.AssignCaseResponse, error) {
	resp := &pb.AssignCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("AssignCase", changers, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, c auth.Claims) (*vetting.Case, error) {
			return s.svc.Assign(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), req.GetAssignee())
		}, func(viewer auth.Claims, c *vetting.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// UnassignCase implements pb.VettingServiceServer.
func (s *Server) UnassignCase(ctx context.Context, req *pb.UnassignCaseRequest) (*pb.UnassignCaseResponse, error) {
	resp := &pb.UnassignCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("UnassignCase", changers, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, c auth.Claims) (*vetting.Case, error) {
			return s.svc.Unassign(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, c *vetting.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// BatchAssign implements pb.VettingServiceServer; see command.Batch for
// how items, retries and dry runs behave. The assignee is checked once for
// the whole batch.
func (s *Server) BatchAssign(ctx context.Context, req *pb.BatchAssignRequest) (*pb.BatchAssignResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchAssign", Roles: changers, Invalid: assign.Check("assignee", req.GetAssignee())},
		Field: "items", ItemNoun: "cases", Max: MaxBatch, DryRun: req.GetDryRun()}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.assigned(), req, req.GetItems(), newAssignResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.AssignItem, resp *pb.AssignCaseResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			c, err := s.svc.Assign(ctx, caller, item.GetApplicationId(), item.GetExpectedVersion(), req.GetAssignee())
			resp.Case = caseToProto(c, caller)
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchAssignResponse{DryRun: req.GetDryRun()}
	out.Succeeded, out.Failed = command.Tally(ctx, errs, s.toStatus, func(i int, st *commonv1.ItemStatus, ok bool) {
		r := &pb.AssignResult{Index: int32(i), ApplicationId: req.GetItems()[i].GetApplicationId(), Status: st}
		if ok {
			r.Case = resps[i].GetCase()
		}
		out.Results = append(out.Results, r)
	})
	return out, nil
}

func newAssignResponse() *pb.AssignCaseResponse { return &pb.AssignCaseResponse{} }

func newUnblockResponse() *pb.UnblockCaseResponse { return &pb.UnblockCaseResponse{} }

// cases answers a retried change: the request log keeps the case's id and
// version, and a retry reads the case again as the caller may see it now.
func (s *Server) cases() command.Records[*vetting.Case] {
	return command.Records[*vetting.Case]{
		Ref:  func(c *vetting.Case) idempotency.Ref { return idempotency.Ref{ID: c.ApplicationID, Version: c.Version} },
		Read: s.svc.Case,
	}
}

// unblocked answers a retried item of BatchUnblock, as cases does.
func (s *Server) unblocked() command.Records[*pb.UnblockCaseResponse] {
	return command.Records[*pb.UnblockCaseResponse]{
		Ref: func(r *pb.UnblockCaseResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetCase().GetApplicationId(), Version: r.GetCase().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.UnblockCaseResponse, error) {
			c, err := s.svc.Case(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.UnblockCaseResponse{Case: caseToProto(c, caller)}, nil
		},
	}
}

// assigned answers a retried item of BatchAssign, as cases does.
func (s *Server) assigned() command.Records[*pb.AssignCaseResponse] {
	return command.Records[*pb.AssignCaseResponse]{
		Ref: func(r *pb.AssignCaseResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetCase().GetApplicationId(), Version: r.GetCase().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.AssignCaseResponse, error) {
			c, err := s.svc.Case(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.AssignCaseResponse{Case: caseToProto(c, caller)}, nil
		},
	}
}

// ListMyCases implements pb.VettingServiceServer: the cases assigned to
// the caller's own subject, in the caller's regions.
func (s *Server) ListMyCases(ctx context.Context, req *pb.ListMyCasesRequest) (*pb.ListMyCasesResponse, error) {
	caller, err := auth.Require(ctx, "", changers...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	cases, next, err := assign.Page(ctx, caller, req.GetPageSize(), req.GetPageToken(), s.svc.Mine, func(c *vetting.Case) pagetoken.Key {
		return pagetoken.Key{At: c.StateEnteredAt, ID: c.ApplicationID}
	})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListMyCasesResponse{NextPageToken: next}
	now := s.svc.Now()
	for _, c := range cases {
		resp.Cases = append(resp.Cases, &pb.MyCase{Case: caseToProto(c, caller), DaysInStatus: int32(c.DaysInStatus(now))})
	}
	return resp, nil
}

// ListBlockedCases implements pb.VettingServiceServer.
func (s *Server) ListBlockedCases(ctx context.Context, req *pb.ListBlockedCasesRequest) (*pb.ListBlockedCasesResponse, error) {
	caller, cases, next, err := s.list(ctx, req.GetRegion(), vetting.Blocked, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &pb.ListBlockedCasesResponse{NextPageToken: next}
	now := s.svc.Now()
	for _, c := range cases {
		resp.Cases = append(resp.Cases, &pb.BlockedCase{Case: caseToProto(c, caller), DaysBlocked: int32(c.DaysBlocked(now))})
	}
	return resp, nil
}

// ListCases implements pb.VettingServiceServer.
func (s *Server) ListCases(ctx context.Context, req *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	var st vetting.Status
	if req.GetStatus() != pb.CaseStatus_CASE_STATUS_UNSPECIFIED {
		var ok bool
		if st, ok = statusFromProto[req.GetStatus()]; !ok {
			return nil, s.toStatus(ctx, validate.Field("status", "must be a known case status"))
		}
	}
	caller, cases, next, err := s.list(ctx, req.GetRegion(), st, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &pb.ListCasesResponse{NextPageToken: next}
	for _, c := range cases {
		resp.Cases = append(resp.Cases, caseToProto(c, caller))
	}
	return resp, nil
}

// list returns a page of cases and the caller they are read for.
func (s *Server) list(ctx context.Context, region string, st vetting.Status, size int32, token string) (auth.Claims, []*vetting.Case, string, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err == nil && region == "" {
		err = validate.Field("region", "is required")
	}
	if err != nil {
		return caller, nil, "", s.toStatus(ctx, err)
	}
	f := vetting.ListFilter{Status: st}
	f.Regions, err = auth.VisibleRegions(caller, region)
	if err != nil {
		return caller, nil, "", s.toStatus(ctx, err)
	}
	limit, after, err := pagetoken.PageByKey(size, token, region, string(st))
	f.After = after
	if err != nil {
		return caller, nil, "", s.toStatus(ctx, err)
	}
	f.Limit = limit + 1
	cases, err := s.svc.List(ctx, f)
	if err != nil {
		return caller, nil, "", s.toStatus(ctx, err)
	}
	cases, next := pagetoken.Next(cases, limit, func(c *vetting.Case) string {
		key := pagetoken.Key{At: c.StateEnteredAt, ID: c.ApplicationID}
		if st == vetting.Blocked {
			key.At = *c.BlockedSince
		}
		return key.String()
	}, region, string(st))
	return caller, cases, next, nil
}

// GetCase implements pb.VettingServiceServer.
func (s *Server) GetCase(ctx context.Context, req *pb.GetCaseRequest) (*pb.GetCaseResponse, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err == nil {
		err = validate.UUID("application_id", req.GetApplicationId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	c, err := s.svc.Case(ctx, caller, req.GetApplicationId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetCaseResponse{Case: caseToProto(c, caller)}, nil
}

// Export is this service's part of a subject access export
// (recruitment.privacy.v1): the record as its Get call returns it, with its
// history.
func (s *Server) Export(ctx context.Context, caller auth.Claims, applicationID string) ([]proto.Message, error) {
	c, err := s.svc.Case(ctx, caller, applicationID)
	if err != nil {
		return nil, err
	}
	return []proto.Message{caseToProto(c, caller)}, nil
}

// toStatus is the one place this service turns errors into statuses; it
// has none of its own beyond those every service shares.
func (s *Server) toStatus(ctx context.Context, err error) error {
	return apistatus.Error(ctx, s.log, err)
}
