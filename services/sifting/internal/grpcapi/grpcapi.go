// Package grpcapi serves recruitment.sifting.v1: it checks the caller,
// converts between the contract and the sift rules, makes changes
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
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
)

// MaxBatch is the most decisions one batch call may carry.
const MaxBatch = 1000

// Server implements pb.SiftingServiceServer.
type Server struct {
	pb.UnimplementedSiftingServiceServer
	svc  *sift.Service
	pool *pgxpool.Pool
	log  *slog.Logger
}

// New returns a Server; pool records request ids with the changes.
func New(svc *sift.Service, pool *pgxpool.Pool, log *slog.Logger) *Server {
	return &Server{svc: svc, pool: pool, log: log}
}

// spocs make sift and interview changes (admins always may).
var spocs = []auth.Role{auth.RoleSPOC}

// RecordSiftDecision implements pb.SiftingServiceServer.
func (s *Server) RecordSiftDecision(ctx context.Context, req *pb.RecordSiftDecisionRequest) (*pb.RecordSiftDecisionResponse, error) {
	resp := &pb.RecordSiftDecisionResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("RecordSiftDecision", spocs, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*sift.Case, error) {
			return s.svc.DecideSift(ctx, caller, req.GetApplicationId(), "", req.GetExpectedVersion(),
				decision(req.GetOutcome(), req.Score, req.GetReasonCode()))
		}, func(viewer auth.Claims, c *sift.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// BatchRecordSiftDecisions implements pb.SiftingServiceServer; see
// command.Batch for how items, retries and dry runs behave.
func (s *Server) BatchRecordSiftDecisions(ctx context.Context, req *pb.BatchRecordSiftDecisionsRequest) (*pb.BatchRecordSiftDecisionsResponse, error) {
	c := command.BatchCall{
		Call:  command.Call{Method: "BatchRecordSiftDecisions", Roles: spocs, Invalid: validate.UUID("campaign_id", req.GetCampaignId())},
		Field: "decisions", ItemNoun: "decisions", Max: MaxBatch, DryRun: req.GetDryRun(),
	}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.decided(), req, req.GetDecisions(), newDecisionResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.SiftDecision, resp *pb.RecordSiftDecisionResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			c, err := s.svc.DecideSift(ctx, caller, item.GetApplicationId(), req.GetCampaignId(), item.GetExpectedVersion(),
				decision(item.GetOutcome(), item.Score, item.GetReasonCode()))
			resp.Case = caseToProto(c, caller)
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchRecordSiftDecisionsResponse{DryRun: req.GetDryRun()}
	for i, item := range req.GetDecisions() {
		r := &pb.SiftDecisionResult{Index: int32(i), ApplicationId: item.GetApplicationId(), Status: apistatus.ItemStatus(s.toStatus(ctx, errs[i]))}
		if errs[i] == nil {
			out.Succeeded++
			r.Case = resps[i].GetCase()
		} else {
			out.Failed++
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

func newDecisionResponse() *pb.RecordSiftDecisionResponse { return &pb.RecordSiftDecisionResponse{} }

// cases answers a retried change: the request log keeps the case's id and
// version, and a retry reads the case again as the caller may see it now.
func (s *Server) cases() command.Records[*sift.Case] {
	return command.Records[*sift.Case]{
		Ref:  func(c *sift.Case) idempotency.Ref { return idempotency.Ref{ID: c.ApplicationID, Version: c.Version} },
		Read: s.svc.Case,
	}
}

// decided answers a retried item of BatchRecordSiftDecisions, as cases does.
func (s *Server) decided() command.Records[*pb.RecordSiftDecisionResponse] {
	return command.Records[*pb.RecordSiftDecisionResponse]{
		Ref: func(r *pb.RecordSiftDecisionResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetCase().GetApplicationId(), Version: r.GetCase().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.RecordSiftDecisionResponse, error) {
			c, err := s.svc.Case(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.RecordSiftDecisionResponse{Case: caseToProto(c, caller)}, nil
		},
	}
}

// ScheduleInterview implements pb.SiftingServiceServer.
func (s *Server) ScheduleInterview(ctx context.Context, req *pb.ScheduleInterviewRequest) (*pb.ScheduleInterviewResponse, error) {
	call := command.OnApplication("ScheduleInterview", spocs, req.GetApplicationId())
	at, err := validate.Time("scheduled_for", req.GetScheduledFor())
	if call.Invalid == nil {
		call.Invalid = err
	}
	resp := &pb.ScheduleInterviewResponse{}
	err = command.Run(ctx, s.pool, call, s.cases(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*sift.Case, error) {
			return s.svc.ScheduleInterview(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion(), at)
		}, func(viewer auth.Claims, c *sift.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// RecordInterviewOutcome implements pb.SiftingServiceServer.
func (s *Server) RecordInterviewOutcome(ctx context.Context, req *pb.RecordInterviewOutcomeRequest) (*pb.RecordInterviewOutcomeResponse, error) {
	resp := &pb.RecordInterviewOutcomeResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("RecordInterviewOutcome", spocs, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*sift.Case, error) {
			return s.svc.RecordInterviewOutcome(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion(),
				decision(req.GetOutcome(), nil, req.GetReasonCode()))
		}, func(viewer auth.Claims, c *sift.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// BatchRecordInterviewOutcomes implements pb.SiftingServiceServer; see
// command.Batch for how items, retries and dry runs behave. Each case is
// read as the caller may see it, so a case of a region the caller does
// not hold fails alone.
func (s *Server) BatchRecordInterviewOutcomes(ctx context.Context, req *pb.BatchRecordInterviewOutcomesRequest) (*pb.BatchRecordInterviewOutcomesResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchRecordInterviewOutcomes", Roles: spocs},
		Field: "outcomes", ItemNoun: "outcomes", Max: MaxBatch, DryRun: req.GetDryRun()}
	resps, errs, err := command.Batch(ctx, s.pool, c, s.interviewed(), req, req.GetOutcomes(), newInterviewResponse,
		func(ctx context.Context, caller auth.Claims, item *pb.InterviewOutcome, resp *pb.RecordInterviewOutcomeResponse) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			c, err := s.svc.RecordInterviewOutcome(ctx, caller, item.GetApplicationId(), item.GetExpectedVersion(),
				decision(item.GetOutcome(), nil, item.GetReasonCode()))
			resp.Case = caseToProto(c, caller)
			return err
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.BatchRecordInterviewOutcomesResponse{DryRun: req.GetDryRun()}
	out.Succeeded, out.Failed = command.Tally(ctx, errs, s.toStatus, func(i int, st *commonv1.ItemStatus, ok bool) {
		r := &pb.InterviewOutcomeResult{Index: int32(i), ApplicationId: req.GetOutcomes()[i].GetApplicationId(), Status: st}
		if ok {
			r.Case = resps[i].GetCase()
		}
		out.Results = append(out.Results, r)
	})
	return out, nil
}

func newInterviewResponse() *pb.RecordInterviewOutcomeResponse {
	return &pb.RecordInterviewOutcomeResponse{}
}

// interviewed answers a retried item of BatchRecordInterviewOutcomes, as
// cases does.
func (s *Server) interviewed() command.Records[*pb.RecordInterviewOutcomeResponse] {
	return command.Records[*pb.RecordInterviewOutcomeResponse]{
		Ref: func(r *pb.RecordInterviewOutcomeResponse) idempotency.Ref {
			return idempotency.Ref{ID: r.GetCase().GetApplicationId(), Version: r.GetCase().GetVersion()}
		},
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.RecordInterviewOutcomeResponse, error) {
			c, err := s.svc.Case(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.RecordInterviewOutcomeResponse{Case: caseToProto(c, caller)}, nil
		},
	}
}

// ListSiftQueue implements pb.SiftingServiceServer.
func (s *Server) ListSiftQueue(ctx context.Context, req *pb.ListSiftQueueRequest) (*pb.ListSiftQueueResponse, error) {
	entries, next, err := s.queue(ctx, sift.AwaitingSift, req.GetRegion(), req.GetCampaignId(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &pb.ListSiftQueueResponse{Entries: entries, NextPageToken: next}, nil
}

// ListInterviewQueue implements pb.SiftingServiceServer.
func (s *Server) ListInterviewQueue(ctx context.Context, req *pb.ListInterviewQueueRequest) (*pb.ListInterviewQueueResponse, error) {
	entries, next, err := s.queue(ctx, sift.AwaitingInterview, req.GetRegion(), req.GetCampaignId(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &pb.ListInterviewQueueResponse{Entries: entries, NextPageToken: next}, nil
}

func (s *Server) queue(ctx context.Context, state sift.State, region, campaignID string, size int32, token string) ([]*pb.QueueEntry, string, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err != nil {
		return nil, "", s.toStatus(ctx, err)
	}
	if region == "" {
		return nil, "", s.toStatus(ctx, validate.Field("region", "is required"))
	}
	regions, err := auth.VisibleRegions(caller, region)
	if err == nil && campaignID != "" {
		err = validate.UUID("campaign_id", campaignID)
	}
	if err != nil {
		return nil, "", s.toStatus(ctx, err)
	}
	limit, after, err := pagetoken.PageByKey(size, token, string(state), region, campaignID)
	if err != nil {
		return nil, "", s.toStatus(ctx, err)
	}
	f := sift.QueueFilter{State: state, Regions: regions, CampaignID: campaignID, After: after, Limit: limit + 1}
	cases, err := s.svc.Queue(ctx, f)
	if err != nil {
		return nil, "", s.toStatus(ctx, err)
	}
	cases, next := pagetoken.Next(cases, limit, func(c *sift.Case) string {
		return pagetoken.Key{At: c.StateEnteredAt, ID: c.ApplicationID}.String()
	}, string(state), region, campaignID)
	now := s.svc.Now()
	entries := make([]*pb.QueueEntry, len(cases))
	for i, c := range cases {
		entries[i] = &pb.QueueEntry{Case: caseToProto(c, caller), DaysWaiting: int32(c.DaysWaiting(now))}
	}
	return entries, next, nil
}

// AssignCase implements pb.SiftingServiceServer.
func (s *Server) AssignCase(ctx context.Context, req *pb.AssignCaseRequest) (*pb.AssignCaseResponse, error) {
	resp := &pb.AssignCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("AssignCase", spocs, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*sift.Case, error) {
			return s.svc.Assign(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion(), req.GetAssignee())
		}, func(viewer auth.Claims, c *sift.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// UnassignCase implements pb.SiftingServiceServer.
func (s *Server) UnassignCase(ctx context.Context, req *pb.UnassignCaseRequest) (*pb.UnassignCaseResponse, error) {
	resp := &pb.UnassignCaseResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("UnassignCase", spocs, req.GetApplicationId()), s.cases(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*sift.Case, error) {
			return s.svc.Unassign(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion())
		}, func(viewer auth.Claims, c *sift.Case) { resp.Case = caseToProto(c, viewer) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// BatchAssign implements pb.SiftingServiceServer; see command.Batch for
// how items, retries and dry runs behave. The assignee is checked once for
// the whole batch.
func (s *Server) BatchAssign(ctx context.Context, req *pb.BatchAssignRequest) (*pb.BatchAssignResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "BatchAssign", Roles: spocs, Invalid: assign.Check("assignee", req.GetAssignee())},
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

// ListMyCases implements pb.SiftingServiceServer: the open cases assigned
// to the caller's own subject, in the caller's regions, oldest in their
// stage first.
func (s *Server) ListMyCases(ctx context.Context, req *pb.ListMyCasesRequest) (*pb.ListMyCasesResponse, error) {
	caller, err := auth.Require(ctx, "", spocs...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	cases, next, err := assign.Page(ctx, caller, req.GetPageSize(), req.GetPageToken(), s.svc.Mine, func(c *sift.Case) pagetoken.Key {
		return pagetoken.Key{At: c.StageEnteredAt(), ID: c.ApplicationID}
	})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListMyCasesResponse{NextPageToken: next}
	now := s.svc.Now()
	for _, c := range cases {
		resp.Cases = append(resp.Cases, &pb.MyCase{
			Case: caseToProto(c, caller), Stage: c.Stage(), StageEnteredAt: timestamppb.New(c.StageEnteredAt()),
			DaysInStage: int32(record.DaysSince(c.StageEnteredAt(), now)),
		})
	}
	return resp, nil
}

// GetCase implements pb.SiftingServiceServer.
func (s *Server) GetCase(ctx context.Context, req *pb.GetCaseRequest) (*pb.GetCaseResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
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
