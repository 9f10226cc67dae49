package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

// RecordCheck implements pb.OffersServiceServer: a SPOC of the offer's
// region (or an admin) records a pre-employment check; who recorded it is
// the caller's subject.
func (s *Server) RecordCheck(ctx context.Context, req *pb.RecordCheckRequest) (*pb.RecordCheckResponse, error) {
	resp := &pb.RecordCheckResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("RecordCheck", spocs, req.GetApplicationId()), s.offers(), req, resp,
		func(ctx context.Context, c auth.Claims) (*offer.Offer, error) {
			return s.svc.RecordCheck(ctx, c, req.GetApplicationId(), req.GetExpectedVersion(), offer.CheckRecord{
				Condition: req.GetCheck(), Status: offer.CheckStatusFromProto(req.GetStatus()), WaiveReason: req.GetWaiveReason(),
			})
		}, func(viewer auth.Claims, o *offer.Offer) { resp.Offer = offerToProto(o, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// checksToProto converts o's checks for viewer: as with the history
// (pkg/history), only an admin sees who recorded each one.
func checksToProto(o *offer.Offer, viewer auth.Claims) []*pb.Check {
	var out []*pb.Check
	for _, c := range o.CheckList() {
		p := &pb.Check{Check: c.Condition, Status: offer.CheckStatusToProto[c.Status], WaiveReason: c.WaiveReason}
		if viewer.Role == auth.RoleAdmin {
			p.RecordedBy = c.RecordedBy
		}
		if !c.RecordedAt.IsZero() {
			p.RecordedAt = timestamppb.New(c.RecordedAt)
		}
		out = append(out, p)
	}
	return out
}
