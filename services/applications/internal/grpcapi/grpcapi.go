// Package grpcapi serves recruitment.applications.v1 over gRPC: it checks
// the caller, converts between the contract and the intake rules, makes
// mutating calls idempotent, and maps errors to status codes in one place.
package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
)

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// Server implements pb.ApplicationsServiceServer.
type Server struct {
	pb.UnimplementedApplicationsServiceServer
	svc  *intake.Service
	pool *pgxpool.Pool
	log  *slog.Logger
}

// New returns a Server. pool is where request ids are recorded, in the
// same transaction as the change.
func New(svc *intake.Service, pool *pgxpool.Pool, log *slog.Logger) *Server {
	return &Server{svc: svc, pool: pool, log: log}
}

// readers may read campaigns; only SPOCs (and admins) see candidates.
var readers = []auth.Role{auth.RoleSPOC, auth.RoleVetting, auth.RoleDashboard}

// CreateCampaign implements pb.ApplicationsServiceServer.
func (s *Server) CreateCampaign(ctx context.Context, req *pb.CreateCampaignRequest) (*pb.CreateCampaignResponse, error) {
	caller, err := auth.Require(ctx, "")
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	nc, err := newCampaignFromProto(req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.CreateCampaignResponse{}
	err = s.once(ctx, caller, "CreateCampaign", req, resp, func(ctx context.Context) error {
		c, err := s.svc.CreateCampaign(ctx, caller, nc)
		resp.Campaign = campaignToProto(c)
		return err
	})
	return reply(resp, s.toStatus(ctx, err))
}

// UpdateCampaign implements pb.ApplicationsServiceServer.
func (s *Server) UpdateCampaign(ctx context.Context, req *pb.UpdateCampaignRequest) (*pb.UpdateCampaignResponse, error) {
	caller, err := auth.Require(ctx, "")
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validate.UUID("campaign_id", req.GetCampaignId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	d, err := detailsFromProto(req.GetTitle(), req.GetPosts(), req.GetOpensOn(), req.GetClosesOn())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.UpdateCampaignResponse{}
	err = s.once(ctx, caller, "UpdateCampaign", req, resp, func(ctx context.Context) error {
		c, err := s.svc.UpdateCampaign(ctx, caller, req.GetCampaignId(), req.GetExpectedVersion(), d)
		resp.Campaign = campaignToProto(c)
		return err
	})
	return reply(resp, s.toStatus(ctx, err))
}

// GetCampaign implements pb.ApplicationsServiceServer.
func (s *Server) GetCampaign(ctx context.Context, req *pb.GetCampaignRequest) (*pb.GetCampaignResponse, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validate.UUID("campaign_id", req.GetCampaignId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	c, err := s.svc.Campaign(ctx, caller, req.GetCampaignId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetCampaignResponse{Campaign: campaignToProto(c)}, nil
}

// ListCampaigns implements pb.ApplicationsServiceServer.
func (s *Server) ListCampaigns(ctx context.Context, req *pb.ListCampaignsRequest) (*pb.ListCampaignsResponse, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := visibleRegions(caller, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	limit, after, err := page(req.GetPageSize(), req.GetPageToken(), req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	cs, err := s.svc.Campaigns(ctx, intake.CampaignFilter{Regions: regions, After: after, Limit: limit + 1})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	cs, next := pagetoken.Next(cs, limit, func(c *intake.Campaign) string { return c.ID }, req.GetRegion())
	resp := &pb.ListCampaignsResponse{NextPageToken: next}
	for _, c := range cs {
		resp.Campaigns = append(resp.Campaigns, campaignToProto(c))
	}
	return resp, nil
}

// SubmitApplication implements pb.ApplicationsServiceServer.
func (s *Server) SubmitApplication(ctx context.Context, req *pb.SubmitApplicationRequest) (*pb.SubmitApplicationResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validate.UUID("campaign_id", req.GetCampaignId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.SubmitApplicationResponse{}
	err = s.once(ctx, caller, "SubmitApplication", req, resp, func(ctx context.Context) error {
		a, err := s.svc.Submit(ctx, caller, req.GetCampaignId(), candidateFromProto(req.GetCandidate()))
		resp.Application = applicationToProto(a)
		return err
	})
	return reply(resp, s.toStatus(ctx, err))
}

// GetApplication implements pb.ApplicationsServiceServer.
func (s *Server) GetApplication(ctx context.Context, req *pb.GetApplicationRequest) (*pb.GetApplicationResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validate.UUID("application_id", req.GetApplicationId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	a, err := s.svc.Application(ctx, caller, req.GetApplicationId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetApplicationResponse{Application: applicationToProto(a)}, nil
}

// ListApplications implements pb.ApplicationsServiceServer.
func (s *Server) ListApplications(ctx context.Context, req *pb.ListApplicationsRequest) (*pb.ListApplicationsResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := visibleRegions(caller, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	f := intake.ApplicationFilter{Regions: regions, CampaignID: req.GetCampaignId()}
	if f.CampaignID != "" {
		if err := validate.UUID("campaign_id", f.CampaignID); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	if req.GetStage() != 0 {
		if f.Stage, err = stageFromProto(req.GetStage()); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	f.Limit, f.After, err = page(req.GetPageSize(), req.GetPageToken(), req.GetRegion(), f.CampaignID, string(f.Stage))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	limit := f.Limit
	f.Limit++
	as, err := s.svc.Applications(ctx, f)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	as, next := pagetoken.Next(as, limit, func(a *intake.Application) string { return a.ID }, req.GetRegion(), f.CampaignID, string(f.Stage))
	resp := &pb.ListApplicationsResponse{NextPageToken: next}
	for _, a := range as {
		resp.Applications = append(resp.Applications, applicationToProto(a))
	}
	return resp, nil
}

// WithdrawApplication implements pb.ApplicationsServiceServer.
func (s *Server) WithdrawApplication(ctx context.Context, req *pb.WithdrawApplicationRequest) (*pb.WithdrawApplicationResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validate.UUID("application_id", req.GetApplicationId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.WithdrawApplicationResponse{}
	err = s.once(ctx, caller, "WithdrawApplication", req, resp, func(ctx context.Context) error {
		a, err := s.svc.Withdraw(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion(), req.GetReasonCode())
		resp.Application = applicationToProto(a)
		return err
	})
	return reply(resp, s.toStatus(ctx, err))
}

// MaxImportRows is the most rows one ImportApplications call may carry.
const MaxImportRows = 500

// ImportApplications implements pb.ApplicationsServiceServer; see
// command.Batch for how rows, retries and dry runs behave.
func (s *Server) ImportApplications(ctx context.Context, req *pb.ImportApplicationsRequest) (*pb.ImportApplicationsResponse, error) {
	caller, err := auth.Require(ctx, "")
	if err == nil && (len(req.GetRows()) == 0 || len(req.GetRows()) > MaxImportRows) {
		err = validate.Field("rows", fmt.Sprintf("must hold 1-%d rows, not %d", MaxImportRows, len(req.GetRows())))
	}
	if err == nil && !req.GetDryRun() {
		err = validate.RequestID(req.GetRequestId())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resps, errs := command.Batch(ctx, s.pool, caller, "ImportApplications", req, req.GetDryRun(), "rows", req.GetRows(),
		func() proto.Message { return &pb.ImportResult{} },
		func(ctx context.Context, r *pb.ImportRow, resp proto.Message) error {
			row, err := importRowFromProto(r)
			if err != nil {
				return err
			}
			a, err := s.svc.Import(ctx, caller, row)
			if a != nil {
				resp.(*pb.ImportResult).ApplicationId = a.ID
			}
			return err
		})
	out := &pb.ImportApplicationsResponse{DryRun: req.GetDryRun()}
	for i, r := range req.GetRows() {
		res := &pb.ImportResult{Index: int32(i), Reference: r.GetReference(), Status: apistatus.ItemStatus(s.toStatus(ctx, errs[i])),
			ApplicationId: resps[i].(*pb.ImportResult).GetApplicationId()}
		switch {
		case errs[i] == nil:
			out.Imported++
		case errors.Is(errs[i], intake.ErrAlreadyImported):
			out.AlreadyImported++
		default:
			out.Failed++
		}
		out.Results = append(out.Results, res)
	}
	return out, nil
}

type idempotent interface {
	proto.Message
	GetRequestId() string
}

// once applies fn at most once per caller and request id.
func (s *Server) once(ctx context.Context, caller auth.Claims, method string, req idempotent, resp proto.Message, fn func(context.Context) error) error {
	if err := validate.RequestID(req.GetRequestId()); err != nil {
		return err
	}
	k := idempotency.Key{Caller: caller.Subject, RequestID: req.GetRequestId(), Method: method}
	return idempotency.Do(ctx, s.pool, k, req, resp, fn)
}

func reply[T any](resp *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// visibleRegions is the requested region, checked, or every region the
// caller may see.
func visibleRegions(caller auth.Claims, requested string) ([]string, error) {
	if requested != "" {
		if err := validate.Region("region", requested); err != nil {
			return nil, err
		}
		if !caller.CanAccessRegion(requested) {
			return nil, auth.ErrPermissionDenied
		}
		return []string{requested}, nil
	}
	if caller.Role == auth.RoleAdmin {
		return region.All, nil
	}
	return caller.Regions, nil
}

func page(size int32, token string, filters ...string) (limit int, after string, err error) {
	if limit, err = pagetokenSize(size); err != nil {
		return 0, "", err
	}
	if after, err = pagetoken.Decode(token, filters...); err != nil {
		return 0, "", err
	}
	after, err = pagetoken.ParseID(after)
	return limit, after, err
}

func pagetokenSize(size int32) (int, error) {
	n, err := pagetoken.Size(size, defaultPageSize, maxPageSize)
	if err != nil {
		return 0, validate.Field("page_size", "must not be negative")
	}
	return n, nil
}

// toStatus is the one place this service turns errors into statuses.
func (s *Server) toStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var se *intake.StageError
	switch {
	case errors.As(err, &se):
		return status.Error(codes.FailedPrecondition, se.Error())
	case errors.Is(err, intake.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, intake.ErrStale):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, intake.ErrDuplicate), errors.Is(err, intake.ErrAlreadyImported):
		return status.Error(codes.AlreadyExists, err.Error())
	}
	if st, ok := apistatus.Common(err); ok {
		return st.Err()
	}
	return apistatus.Internal(ctx, s.log, err)
}
