package grpcapi

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

var statusToProto = map[offer.Status]pb.OfferStatus{
	offer.AwaitingOffer: pb.OfferStatus_OFFER_STATUS_AWAITING_OFFER,
	offer.Made:          pb.OfferStatus_OFFER_STATUS_MADE,
	offer.Accepted:      pb.OfferStatus_OFFER_STATUS_ACCEPTED,
	offer.Declined:      pb.OfferStatus_OFFER_STATUS_DECLINED,
	offer.Withdrawn:     pb.OfferStatus_OFFER_STATUS_WITHDRAWN,
	offer.Started:       pb.OfferStatus_OFFER_STATUS_STARTED,
}

var statusFromProto = func() map[pb.OfferStatus]offer.Status {
	m := map[pb.OfferStatus]offer.Status{}
	for k, v := range statusToProto {
		m[v] = k
	}
	return m
}()

func startPlanFromProto(req *pb.SetStartDateRequest) (offer.StartPlan, error) {
	date, err := validate.Date("start_date", req.GetStartDate())
	if err != nil {
		return offer.StartPlan{}, err
	}
	//lint:ignore SA1019 the deprecated field is read only to refuse it
	if req.GetApprovedBy() != "" {
		return offer.StartPlan{}, validate.Field("approved_by", "is no longer accepted: an approver approves a start before vetting clears with ApproveEarlyStart")
	}
	plan := offer.StartPlan{Date: date}
	if req.GetVettingDueBy() != nil {
		due, err := validate.Date("vetting_due_by", req.GetVettingDueBy())
		if err != nil {
			return offer.StartPlan{}, err
		}
		plan.VettingDueBy = &due
	}
	return plan, nil
}

// offerToProto converts o for viewer, the history's actors as viewer may
// see them.
func offerToProto(o *offer.Offer, viewer auth.Claims) *pb.Offer {
	if o == nil {
		return nil
	}
	p := &pb.Offer{
		ApplicationId: o.ApplicationID, CampaignId: o.CampaignID, Region: o.Region, Role: o.Role,
		Status: statusToProto[o.State], SalaryBandCode: o.SalaryBand, Conditions: o.Conditions,
		VettingCleared: o.VettingCleared, SubjectToVetting: o.SubjectToVetting, StartApprovedBy: o.ApprovedBy,
		ReasonCode: o.ReasonCode, StatusEnteredAt: timestamppb.New(o.StateEnteredAt), Version: o.Version,
		History: history.Proto(o.History, viewer.Role), Assignee: o.Assignee, StageEnteredAt: timestamppb.New(o.StageEnteredAt),
		Checks: checksToProto(o, viewer),
	}
	if o.StartDate != nil {
		p.StartDate = event.Date(*o.StartDate)
	}
	if o.VettingDueBy != nil {
		p.VettingDueBy = event.Date(*o.VettingDueBy)
	}
	if o.StartApprovedAt != nil {
		p.StartApprovedAt = timestamppb.New(*o.StartApprovedAt)
	}
	return p
}
