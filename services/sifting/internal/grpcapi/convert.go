package grpcapi

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/history"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
)

var outcomes = map[commonv1.Outcome]sift.Outcome{
	commonv1.Outcome_OUTCOME_PASS: sift.Pass,
	commonv1.Outcome_OUTCOME_FAIL: sift.Fail,
}

// decision converts a request's decision; an unknown outcome stays empty
// and the rules reject it naming the field.
func decision(o commonv1.Outcome, score *int32, reason string) sift.Decision {
	d := sift.Decision{Outcome: outcomes[o], ReasonCode: reason}
	if score != nil {
		n := int(*score)
		d.Score = &n
	}
	return d
}

var states = map[sift.State]pb.CaseState{
	sift.AwaitingSift:      pb.CaseState_CASE_STATE_AWAITING_SIFT,
	sift.SiftFailed:        pb.CaseState_CASE_STATE_SIFT_FAILED,
	sift.AwaitingInterview: pb.CaseState_CASE_STATE_AWAITING_INTERVIEW,
	sift.InterviewPassed:   pb.CaseState_CASE_STATE_INTERVIEW_PASSED,
	sift.InterviewFailed:   pb.CaseState_CASE_STATE_INTERVIEW_FAILED,
	sift.Withdrawn:         pb.CaseState_CASE_STATE_WITHDRAWN,
}

// caseToProto converts c for viewer, the history's actors as viewer may
// see them.
func caseToProto(c *sift.Case, viewer auth.Claims) *pb.SiftCase {
	if c == nil {
		return nil
	}
	p := &pb.SiftCase{
		ApplicationId: c.ApplicationID, CampaignId: c.CampaignID, Region: c.Region, Role: c.Role,
		State: states[c.State], SubmittedAt: timestamppb.New(c.SubmittedAt), StateEnteredAt: timestamppb.New(c.StateEnteredAt),
		ReasonCode: c.ReasonCode, Version: c.Version, Assignee: c.Assignee,
	}
	if c.InterviewAt != nil {
		p.InterviewAt = timestamppb.New(*c.InterviewAt)
	}
	if c.Score != nil {
		n := int32(*c.Score)
		p.SiftScore = &n
	}
	p.History = history.Proto(c.History, viewer.Role)
	return p
}
