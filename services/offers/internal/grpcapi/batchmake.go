package grpcapi

import (
	"context"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

// BatchMakeConditionalOffers implements pb.OffersServiceServer; see
// command.Batch for how items, retries and dry runs behave. Each item is
// MakeConditionalOffer's change, its record read as the caller may see it,
// so an offer of a region the caller does not hold fails alone.
func (s *Server) BatchMakeConditionalOffers(ctx context.Context, req *pb.BatchMakeConditionalOffersRequest) (*pb.BatchMakeConditionalOffersResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchMakeConditionalOffers", Roles: spocs},
		Field: "items", ItemNoun: "offers", Max: MaxBatch, DryRun: req.GetDryRun()}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.made(), req, req.GetItems(), newMakeResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.OfferItem, resp *pb.MakeConditionalOfferResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			o, err := s.svc.Make(ctx, caller, item.GetApplicationId(), item.GetExpectedVersion(), item.GetSalaryBandCode(), item.GetConditions())
			resp.Offer = offerToProto(o, caller)
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchMakeConditionalOffersResponse{DryRun: req.GetDryRun()}
	out.Succeeded, out.Failed = command.Tally(ctx, errs, s.toStatus, func(i int, st *commonv1.ItemStatus, ok bool) {
		r := &pb.OfferResult{Index: int32(i), ApplicationId: req.GetItems()[i].GetApplicationId(), Status: st}
		if ok {
			r.Offer = resps[i].GetOffer()
		}
		out.Results = append(out.Results, r)
	})
	return out, nil
}

func newMakeResponse() *pb.MakeConditionalOfferResponse { return &pb.MakeConditionalOfferResponse{} }

// made answers a retried item of BatchMakeConditionalOffers, as offers does.
func (s *Server) made() command.Records[*pb.MakeConditionalOfferResponse] {
	return command.Records[*pb.MakeConditionalOfferResponse]{
		Ref: func(r *pb.MakeConditionalOfferResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetOffer().GetApplicationId(), Version: r.GetOffer().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.MakeConditionalOfferResponse, error) {
			o, err := s.svc.Offer(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.MakeConditionalOfferResponse{Offer: offerToProto(o, caller)}, nil
		},
	}
}
