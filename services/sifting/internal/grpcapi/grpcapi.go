// Package grpcapi serves recruitment.sifting.v1: it checks the caller,
// converts between the contract and the sift rules, makes changes
// idempotent by request id, and maps errors to status codes in one place.
package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/validate"
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

// RecordSiftDecision implements pb.SiftingServiceServer.
func (s *Server) RecordSiftDecision(ctx context.Context, req *pb.RecordSiftDecisionRequest) (*pb.RecordSiftDecisionResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err == nil {
		err = validate.UUID("application_id", req.GetApplicationId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	d := decision(req.GetOutcome(), req.Score, req.GetReasonCode())
	resp := &pb.RecordSiftDecisionResponse{}
	err = idempotency.Once(ctx, s.pool, caller.Subject, "RecordSiftDecision", req, resp, func(ctx context.Context) error {
		c, err := s.svc.DecideSift(ctx, caller, req.GetApplicationId(), "", req.GetExpectedVersion(), d)
		resp.Case = caseToProto(c)
		return err
	})
	return reply(resp, s.toStatus(ctx, err))
}

// BatchRecordSiftDecisions implements pb.SiftingServiceServer; see
// command.Batch for how items, retries and dry runs behave.
func (s *Server) BatchRecordSiftDecisions(ctx context.Context, req *pb.BatchRecordSiftDecisionsRequest) (*pb.BatchRecordSiftDecisionsResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err == nil {
		err = validate.UUID("campaign_id", req.GetCampaignId())
	}
	if err == nil && (len(req.GetDecisions()) == 0 || len(req.GetDecisions()) > MaxBatch) {
		err = validate.Field("decisions", fmt.Sprintf("must hold 1-%d decisions, not %d", MaxBatch, len(req.GetDecisions())))
	}
	if err == nil && !req.GetDryRun() {
		err = validate.RequestID(req.GetRequestId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resps, errs := command.Batch(ctx, s.pool, caller, "BatchRecordSiftDecisions", req, req.GetDryRun(), "decisions", req.GetDecisions(),
		func() proto.Message { return &pb.RecordSiftDecisionResponse{} },
		func(ctx context.Context, item *pb.SiftDecision, resp proto.Message) error {
			if err := validate.UUID("application_id", item.GetApplicationId()); err != nil {
				return err
			}
			c, err := s.svc.DecideSift(ctx, caller, item.GetApplicationId(), req.GetCampaignId(), item.GetExpectedVersion(),
				decision(item.GetOutcome(), item.Score, item.GetReasonCode()))
			resp.(*pb.RecordSiftDecisionResponse).Case = caseToProto(c)
			return err
		})
	out := &pb.BatchRecordSiftDecisionsResponse{DryRun: req.GetDryRun()}
	for i, item := range req.GetDecisions() {
		r := &pb.SiftDecisionResult{Index: int32(i), ApplicationId: item.GetApplicationId(), Status: apistatus.ItemStatus(s.toStatus(ctx, errs[i]))}
		if errs[i] == nil {
			out.Succeeded++
			r.Case = resps[i].(*pb.RecordSiftDecisionResponse).GetCase()
		} else {
			out.Failed++
		}
		out.Results = append(out.Results, r)
	}
	return out, nil
}

// ScheduleInterview implements pb.SiftingServiceServer.
func (s *Server) ScheduleInterview(ctx context.Context, req *pb.ScheduleInterviewRequest) (*pb.ScheduleInterviewResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err == nil {
		err = validate.UUID("application_id", req.GetApplicationId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	var at time.Time
	if req.GetScheduledFor() != nil {
		at = req.GetScheduledFor().AsTime()
	}
	resp := &pb.ScheduleInterviewResponse{}
	err = idempotency.Once(ctx, s.pool, caller.Subject, "ScheduleInterview", req, resp, func(ctx context.Context) error {
		c, err := s.svc.ScheduleInterview(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion(), at)
		resp.Case = caseToProto(c)
		return err
	})
	return reply(resp, s.toStatus(ctx, err))
}

// RecordInterviewOutcome implements pb.SiftingServiceServer.
func (s *Server) RecordInterviewOutcome(ctx context.Context, req *pb.RecordInterviewOutcomeRequest) (*pb.RecordInterviewOutcomeResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err == nil {
		err = validate.UUID("application_id", req.GetApplicationId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	d := decision(req.GetOutcome(), nil, req.GetReasonCode())
	resp := &pb.RecordInterviewOutcomeResponse{}
	err = idempotency.Once(ctx, s.pool, caller.Subject, "RecordInterviewOutcome", req, resp, func(ctx context.Context) error {
		c, err := s.svc.RecordInterviewOutcome(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion(), d)
		resp.Case = caseToProto(c)
		return err
	})
	return reply(resp, s.toStatus(ctx, err))
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
	limit, after, err := pagetoken.Page(size, token, string(state), region, campaignID)
	if err != nil {
		return nil, "", s.toStatus(ctx, err)
	}
	f := sift.QueueFilter{State: state, Regions: regions, CampaignID: campaignID, Limit: limit + 1}
	if f.After, err = pagetoken.ParseKey(after); err != nil {
		return nil, "", s.toStatus(ctx, err)
	}
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
		entries[i] = &pb.QueueEntry{Case: caseToProto(c), DaysWaiting: int32(c.DaysWaiting(now))}
	}
	return entries, next, nil
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
	if errors.Is(err, sift.ErrUnknownCase) {
		return nil, status.Errorf(codes.NotFound, "no sift case for application %s", req.GetApplicationId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetCaseResponse{Case: caseToProto(c)}, nil
}

func reply[T any](resp *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// toStatus is the one place this service turns errors into statuses.
func (s *Server) toStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var se *sift.StateError
	switch {
	case errors.As(err, &se):
		return status.Error(codes.FailedPrecondition, se.Error())
	case errors.Is(err, sift.ErrUnknownCase):
		return status.Error(codes.FailedPrecondition, sift.ErrUnknownCase.Error())
	case errors.Is(err, sift.ErrStale):
		return status.Error(codes.Aborted, err.Error())
	}
	if st, ok := apistatus.Common(err); ok {
		return st.Err()
	}
	return apistatus.Internal(ctx, s.log, err)
}
