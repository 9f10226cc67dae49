package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

// approvers approve early starts; a SPOC, who asks for the start, may not.
var approvers = []auth.Role{auth.RoleApprover}

// ApproveEarlyStart implements pb.OffersServiceServer: an approver of the
// offer's region (or an admin) approves the start before vetting clears,
// recorded as the caller's subject.
func (s *Server) ApproveEarlyStart(ctx context.Context, req *pb.ApproveEarlyStartRequest) (*pb.ApproveEarlyStartResponse, error) {
	resp := &pb.ApproveEarlyStartResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("ApproveEarlyStart", approvers, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.ApproveEarlyStart(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// policies answers a retried SetEarlyStartPolicy: the request log keeps
// the region and the policy's version.
func (s *Server) policies() command.Records[offer.Policy] {
	return command.Records[offer.Policy]{
		Ref: func(p offer.Policy) idempotency.Ref { return idempotency.Ref{ID: p.Region, Version: p.Version} },
		Read: func(ctx context.Context, _ auth.Claims, region string) (offer.Policy, error) {
			p, _, err := s.svc.EarlyStartPolicy(ctx, region)
			return p, err
		},
	}
}

// SetEarlyStartPolicy implements pb.OffersServiceServer (admins only).
func (s *Server) SetEarlyStartPolicy(ctx context.Context, req *pb.SetEarlyStartPolicyRequest) (*pb.SetEarlyStartPolicyResponse, error) {
	resp := &pb.SetEarlyStartPolicyResponse{}
	err := command.Run(ctx, s.pool, command.Call{Method: "SetEarlyStartPolicy"}, s.policies(), req, resp,
		func(ctx context.Context, c auth.Claims) (offer.Policy, error) {
			return s.svc.SetEarlyStartPolicy(ctx, c, req.GetRegion(), req.GetExpectedVersion(), req.GetEnabled(), int(req.GetCap()))
		}, func(_ auth.Claims, p offer.Policy) { resp.Policy = policyToProto(p) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// GetEarlyStartPolicy implements pb.OffersServiceServer: the region's
// SPOCs, vetting contact points and approvers read it.
func (s *Server) GetEarlyStartPolicy(ctx context.Context, req *pb.GetEarlyStartPolicyRequest) (*pb.GetEarlyStartPolicyResponse, error) {
	if req.GetRegion() == "" {
		return nil, s.toStatus(ctx, validate.Field("region", "is required"))
	}
	if _, err := auth.Require(ctx, req.GetRegion(), auth.RoleSPOC, auth.RoleVetting, auth.RoleApprover); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	p, n, err := s.svc.EarlyStartPolicy(ctx, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetEarlyStartPolicyResponse{Policy: policyToProto(p), StartedSubjectToVetting: int32(n)}, nil
}

func policyToProto(p offer.Policy) *pb.EarlyStartPolicy {
	if p.Region == "" {
		return nil
	}
	out := &pb.EarlyStartPolicy{Region: p.Region, Enabled: p.Enabled, Cap: int32(p.Cap), Version: p.Version}
	if p.Version > 0 {
		out.UpdatedAt = timestamppb.New(p.UpdatedAt)
	}
	return out
}
