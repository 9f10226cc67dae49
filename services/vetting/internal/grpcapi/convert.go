package grpcapi

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/history"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

var statusToProto = map[vetting.Status]pb.CaseStatus{
	vetting.Open:          pb.CaseStatus_CASE_STATUS_OPEN,
	vetting.FormsReceived: pb.CaseStatus_CASE_STATUS_FORMS_RECEIVED,
	vetting.Blocked:       pb.CaseStatus_CASE_STATUS_BLOCKED,
	vetting.Cleared:       pb.CaseStatus_CASE_STATUS_CLEARED,
	vetting.Failed:        pb.CaseStatus_CASE_STATUS_FAILED,
	vetting.Closed:        pb.CaseStatus_CASE_STATUS_CLOSED,
}

var statusFromProto = func() map[pb.CaseStatus]vetting.Status {
	m := map[pb.CaseStatus]vetting.Status{}
	for k, v := range statusToProto {
		m[v] = k
	}
	return m
}()

// caseToProto converts c for viewer: the block's note only if viewer may
// read it, the history's actors as viewer may see them.
func caseToProto(c *vetting.Case, viewer auth.Claims) *pb.VettingCase {
	if c == nil {
		return nil
	}
	note := c.BlockNote
	if !vetting.MayReadNote(viewer.Role) {
		note = ""
	}
	p := &pb.VettingCase{
		ApplicationId: c.ApplicationID, CampaignId: c.CampaignID, Region: c.Region, Role: c.Role, Level: c.Level,
		Status: statusToProto[c.State], OpenedAt: timestamppb.New(c.OpenedAt), StatusEnteredAt: timestamppb.New(c.StateEnteredAt),
		BlockReason: c.BlockReason, BlockNote: note, ReasonCode: c.ReasonCode, Version: c.Version,
		History: history.Proto(c.History, viewer.Role),
	}
	if c.BlockedSince != nil {
		p.BlockedSince = timestamppb.New(*c.BlockedSince)
	}
	return p
}
