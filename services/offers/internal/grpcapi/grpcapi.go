// Package grpcapi serves recruitment.offers.v1: it checks the caller,
// converts between the contract and the offer rules, makes changes
// idempotent by request id, and maps errors to status codes in one place.
package grpcapi

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

// Server implements pb.OffersServiceServer.
type Server struct {
	pb.UnimplementedOffersServiceServer
	svc  *offer.Service
	pool *pgxpool.Pool
	log  *slog.Logger
}

// New returns a Server; pool records request ids with the changes.
func New(svc *offer.Service, pool *pgxpool.Pool, log *slog.Logger) *Server {
	return &Server{svc: svc, pool: pool, log: log}
}

// spocs make offer changes (admins always may).
var spocs = []auth.Role{auth.RoleSPOC}

// offers answers a retried change: the request log keeps the offer's id
// and version, and a retry reads the offer again as the caller may see it
// now.
func (s *Server) offers() command.Records[*offer.Offer] {
	return command.Records[*offer.Offer]{
		Ref:  func(o *offer.Offer) idempotency.Ref { return idempotency.Ref{ID: o.ApplicationID, Version: o.Version} },
		Read: s.svc.Offer,
	}
}

// AssignCase implements pb.OffersServiceServer.
func (s *Server) AssignCase(ctx context.Context, req *pb.AssignCaseRequest) (*pb.AssignCaseResponse, error) {
	resp := &pb.AssignCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("AssignCase", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.Assign(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), req.GetAssignee())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// UnassignCase implements pb.OffersServiceServer.
func (s *Server) UnassignCase(ctx context.Context, req *pb.UnassignCaseRequest) (*pb.UnassignCaseResponse, error) {
	resp := &pb.UnassignCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("UnassignCase", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.Unassign(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// MaxBatch is the most records one BatchAssign may carry.
const MaxBatch = 1000

// BatchAssign implements pb.OffersServiceServer; see command.Batch for
// how items, retries and dry runs behave. The assignee is checked once for
// the whole batch.
func (s *Server) BatchAssign(ctx context.Context, req *pb.BatchAssignRequest) (*pb.BatchAssignResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchAssign", Roles: spocs, Invalid: assign.Check("assignee", req.GetAssignee())},
		Field: "items", ItemNoun: "offer records", Max: MaxBatch, DryRun: req.GetDryRun()}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.assigned(), req, req.GetItems(), newAssignResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.AssignItem, resp *pb.AssignCaseResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			o, err := s.svc.Assign(ctx, caller, item.GetApplicationId(), item.GetExpectedVersion(), req.GetAssignee())
			resp.Offer = offerToProto(o, caller)
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchAssignResponse{DryRun: req.GetDryRun()}
	out.Succeeded, out.Failed = command.Tally(ctx, errs, s.toStatus, func(i int, st *commonv1.ItemStatus, ok bool) {
		r := &pb.AssignResult{Index: int32(i), ApplicationId: req.GetItems()[i].GetApplicationId(), Status: st}
		if ok {
			r.Offer = resps[i].GetOffer()
		}
		out.Results = append(out.Results, r)
	})
	return out, nil
}

func newAssignResponse() *pb.AssignCaseResponse { return &pb.AssignCaseResponse{} }

// assigned answers a retried item of BatchAssign, as offers does.
func (s *Server) assigned() command.Records[*pb.AssignCaseResponse] {
	return command.Records[*pb.AssignCaseResponse]{
		Ref: func(r *pb.AssignCaseResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetOffer().GetApplicationId(), Version: r.GetOffer().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.AssignCaseResponse, error) {
			o, err := s.svc.Offer(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.AssignCaseResponse{Offer: offerToProto(o, caller)}, nil
		},
	}
}

// ListMyCases implements pb.OffersServiceServer: the open records assigned
// to the caller's own subject, in the caller's regions, oldest in their
// stage first.
func (s *Server) ListMyCases(ctx context.Context, req *pb.ListMyCasesRequest) (*pb.ListMyCasesResponse, error) {
	caller, err := auth.Require(ctx, "", spocs...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	offers, next, err := assign.Page(ctx, caller, req.GetPageSize(), req.GetPageToken(), s.svc.Mine, func(o *offer.Offer) pagetoken.Key {
		return pagetoken.Key{At: o.StageEnteredAt, ID: o.ApplicationID}
	})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListMyCasesResponse{NextPageToken: next}
	now := s.svc.Now()
	for _, o := range offers {
		resp.Cases = append(resp.Cases, &pb.MyCase{
			Offer: offerToProto(o, caller), Stage: o.Stage(), StageEnteredAt: timestamppb.New(o.StageEnteredAt),
			DaysInStage: int32(record.DaysSince(o.StageEnteredAt, now)),
		})
	}
	return resp, nil
}

// MakeConditionalOffer implements pb.OffersServiceServer.
func (s *Server) MakeConditionalOffer(ctx context.Context, req *pb.MakeConditionalOfferRequest) (*pb.MakeConditionalOfferResponse, error) {
	resp := &pb.MakeConditionalOfferResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("MakeConditionalOffer", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.Make(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), req.GetSalaryBandCode(), req.GetConditions())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// AcceptOffer implements pb.OffersServiceServer.
func (s *Server) AcceptOffer(ctx context.Context, req *pb.AcceptOfferRequest) (*pb.AcceptOfferResponse, error) {
	resp := &pb.AcceptOfferResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("AcceptOffer", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.Accept(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// DeclineOffer implements pb.OffersServiceServer.
func (s *Server) DeclineOffer(ctx context.Context, req *pb.DeclineOfferRequest) (*pb.DeclineOfferResponse, error) {
	resp := &pb.DeclineOfferResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("DeclineOffer", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.Decline(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), req.GetReasonCode())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// WithdrawOffer implements pb.OffersServiceServer.
func (s *Server) WithdrawOffer(ctx context.Context, req *pb.WithdrawOfferRequest) (*pb.WithdrawOfferResponse, error) {
	resp := &pb.WithdrawOfferResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("WithdrawOffer", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.Withdraw(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), req.GetReasonCode())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// SetStartDate implements pb.OffersServiceServer.
func (s *Server) SetStartDate(ctx context.Context, req *pb.SetStartDateRequest) (*pb.SetStartDateResponse, error) {
	resp := &pb.SetStartDateResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("SetStartDate", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			plan, err := startPlanFromProto(req)
			if err != nil {
				return nil, err
			}
			return s.svc.SetStartDate(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), plan)
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// ConfirmStart implements pb.OffersServiceServer.
func (s *Server) ConfirmStart(ctx context.Context, req *pb.ConfirmStartRequest) (*pb.ConfirmStartResponse, error) {
	resp := &pb.ConfirmStartResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("ConfirmStart", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.ConfirmStart(ctx, c, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// ListOffers implements pb.OffersServiceServer.
func (s *Server) ListOffers(ctx context.Context, req *pb.ListOffersRequest) (*pb.ListOffersResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC, auth.RoleApprover)
	if err == nil && req.GetRegion() == "" {
		err = validate.Field("region", "is required")
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := auth.VisibleRegions(caller, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	f := offer.ListFilter{Regions: regions}
	if req.GetStatus() != pb.OfferStatus_OFFER_STATUS_UNSPECIFIED {
		var ok bool
		if f.Status, ok = statusFromProto[req.GetStatus()]; !ok {
			return nil, s.toStatus(ctx, validate.Field("status", "must be a known offer status"))
		}
	}
	limit, after, err := pagetoken.PageByKey(req.GetPageSize(), req.GetPageToken(), req.GetRegion(), string(f.Status))
	f.After = after
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	f.Limit = limit + 1
	offers, err := s.svc.List(ctx, f)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	offers, next := pagetoken.Next(offers, limit, func(o *offer.Offer) string {
		return pagetoken.Key{At: o.StateEnteredAt, ID: o.ApplicationID}.String()
	}, req.GetRegion(), string(f.Status))
	resp := &pb.ListOffersResponse{NextPageToken: next}
	for _, o := range offers {
		o.History = nil // lists stay light; GetOffer has the history
		resp.Offers = append(resp.Offers, offerToProto(o, caller))
	}
	return resp, nil
}

// GetOffer implements pb.OffersServiceServer.
func (s *Server) GetOffer(ctx context.Context, req *pb.GetOfferRequest) (*pb.GetOfferResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC, auth.RoleVetting, auth.RoleApprover)
	if err == nil {
		err = validate.UUID("application_id", req.GetApplicationId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	o, err := s.svc.Offer(ctx, caller, req.GetApplicationId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetOfferResponse{Offer: offerToProto(o, caller)}, nil
}

// Export is this service's part of a subject access export
// (recruitment.privacy.v1): the record as its Get call returns it, with its
// history.
func (s *Server) Export(ctx context.Context, caller auth.Claims, applicationID string) ([]proto.Message, error) {
	o, err := s.svc.Offer(ctx, caller, applicationID)
	if err != nil {
		return nil, err
	}
	return []proto.Message{offerToProto(o, caller)}, nil
}

// toStatus is the one place this service turns errors into statuses; it
// has none of its own beyond those every service shares.
func (s *Server) toStatus(ctx context.Context, err error) error {
	return apistatus.Error(ctx, s.log, err)
}
