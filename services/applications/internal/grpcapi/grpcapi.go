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
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/monitoring/handoff"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
)

// Server implements pb.ApplicationsServiceServer.
type Server struct {
	pb.UnimplementedApplicationsServiceServer
	svc  *intake.Service
	pool *pgxpool.Pool
	log  *slog.Logger
	// equalitySchema is where monitoring answers are deposited ("": they
	// are refused).
	equalitySchema string
}

// New returns a Server. pool is where request ids are recorded, in the
// same transaction as the change.
func New(svc *intake.Service, pool *pgxpool.Pool, log *slog.Logger) *Server {
	return &Server{svc: svc, pool: pool, log: log}
}

// WithEquality makes the server deposit equality monitoring answers into
// the answers table of schema, the equality service's, on which this
// service's role may INSERT and nothing else (pkg/monitoring). Without it
// answers are refused.
func (s *Server) WithEquality(schema string) *Server {
	s.equalitySchema = schema
	return s
}

// monitoringAnswers reads and checks a request's monitoring answers.
func (s *Server) monitoringAnswers(m *equalityv1.MonitoringAnswers) (monitoring.Answers, error) {
	a := handoff.AnswersFromProto(m)
	if a == nil {
		return nil, nil
	}
	if s.equalitySchema == "" {
		return nil, validate.Field("monitoring", "equality monitoring is not collected by this deployment")
	}
	return a, a.Validate("monitoring")
}

// deposit hands an application's answers to the equality service's store
// in the transaction that stores the application: both commit or neither.
// They are never kept, logged or returned here.
func (s *Server) deposit(ctx context.Context, applicationID string, a monitoring.Answers) error {
	if len(a) == 0 {
		return nil
	}
	tx, ok := pg.TxFrom(ctx)
	if !ok {
		return errors.New("deposit monitoring answers: no transaction")
	}
	if err := handoff.Deposit(ctx, tx, s.equalitySchema, applicationID, a); err != nil {
		return fmt.Errorf("deposit monitoring answers: %w", err)
	}
	return nil
}

var (
	// readers may read campaigns; only SPOCs (and admins) see applications,
	// and GetCandidateContact has readers of its own (contactReaders).
	readers = []auth.Role{auth.RoleSPOC, auth.RoleVetting, auth.RoleDashboard}
	// spocs submit and withdraw applications (admins always may).
	spocs = []auth.Role{auth.RoleSPOC}
	// contactReaders may ask for a candidate's contact; intake's
	// CandidateContact decides which applications each may read.
	contactReaders = []auth.Role{auth.RoleSPOC, auth.RoleVetting, auth.RoleNotifier}
)

// CreateCampaign implements pb.ApplicationsServiceServer.
func (s *Server) CreateCampaign(ctx context.Context, req *pb.CreateCampaignRequest) (*pb.CreateCampaignResponse, error) {
	// The regions the request names are checked before it is validated
	// (docs/security.md, "request"): a SPOC naming a region not theirs is
	// refused whatever else the request holds.
	caller, err := auth.Require(ctx, "", spocs...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	for _, r := range campaignRegionCodes(req) {
		if err := caller.RequireRegion(r); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	nc, invalid := newCampaignFromProto(req)
	resp := &pb.CreateCampaignResponse{}
	// A SPOC may create a campaign in regions it holds (intake checks each).
	err = command.Run(ctx, s.pool, command.Call{Method: "CreateCampaign", Roles: spocs, Invalid: invalid}, s.campaigns(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*intake.Campaign, error) {
			return s.svc.CreateCampaign(ctx, caller, nc)
		},
		func(_ auth.Claims, c *intake.Campaign) { resp.Campaign = campaignToProto(c) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// UpdateCampaign implements pb.ApplicationsServiceServer.
func (s *Server) UpdateCampaign(ctx context.Context, req *pb.UpdateCampaignRequest) (*pb.UpdateCampaignResponse, error) {
	invalid := validate.UUID("campaign_id", req.GetCampaignId())
	d, err := detailsFromProto(req.GetTitle(), req.GetPosts(), req.GetOpensOn(), req.GetClosesOn())
	if invalid == nil {
		invalid = err
	}
	if len(req.GetRegions()) > 0 {
		d.Regions = regionPostsFromProto(req.GetRegions())
		if invalid == nil && req.GetPosts() != 0 {
			invalid = validate.Field("regions", "give either posts (a campaign in one region) or regions, not both")
		}
	}
	resp := &pb.UpdateCampaignResponse{}
	// A SPOC holding every region of the campaign may change it (intake).
	err = command.Run(ctx, s.pool, command.Call{Method: "UpdateCampaign", Roles: spocs, Invalid: invalid}, s.campaigns(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*intake.Campaign, error) {
			return s.svc.UpdateCampaign(ctx, caller, req.GetCampaignId(), req.GetExpectedVersion(), d)
		}, func(_ auth.Claims, c *intake.Campaign) { resp.Campaign = campaignToProto(c) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// SetCampaignStatus implements pb.ApplicationsServiceServer.
func (s *Server) SetCampaignStatus(ctx context.Context, req *pb.SetCampaignStatusRequest) (*pb.SetCampaignStatusResponse, error) {
	invalid := validate.UUID("campaign_id", req.GetCampaignId())
	to, ok := intake.CampaignStatusFromProto(req.GetStatus())
	if invalid == nil && !ok {
		invalid = validate.Field("status", "must be OPEN, CLOSED or CANCELLED")
	}
	resp := &pb.SetCampaignStatusResponse{}
	err := command.Run(ctx, s.pool, command.Call{Method: "SetCampaignStatus", Roles: spocs, Invalid: invalid}, s.campaigns(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*intake.Campaign, error) {
			return s.svc.SetCampaignStatus(ctx, caller, req.GetCampaignId(), req.GetExpectedVersion(), to, req.GetReasonCode())
		}, func(_ auth.Claims, c *intake.Campaign) { resp.Campaign = campaignToProto(c) })
	return command.Reply(resp, s.toStatus(ctx, err))
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
	regions, err := auth.VisibleRegions(caller, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	limit, after, err := pagetoken.PageByID(req.GetPageSize(), req.GetPageToken(), req.GetRegion())
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
	resp := &pb.SubmitApplicationResponse{}
	answers, invalid := s.monitoringAnswers(req.GetMonitoring())
	if invalid == nil {
		invalid = validate.UUID("campaign_id", req.GetCampaignId())
	}
	call := command.Call{Method: "SubmitApplication", Roles: spocs, Invalid: invalid}
	err := command.Run(ctx, s.pool, call, s.applications(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*intake.Application, error) {
			a, err := s.svc.Submit(ctx, caller, req.GetCampaignId(), req.GetApplicationRegion(), candidateFromProto(req.GetCandidate()), req.GetSource())
			if err != nil {
				return nil, err
			}
			return a, s.deposit(ctx, a.ID, answers)
		}, func(_ auth.Claims, a *intake.Application) { resp.Application = applicationToProto(a) })
	return command.Reply(resp, s.toStatus(ctx, err))
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

// GetCandidateContact implements pb.ApplicationsServiceServer: who the
// candidate is and how to reach them, for the people who act (see
// intake.Service.CandidateContact). Audited as a read of personal data,
// allowed or refused (Audit).
func (s *Server) GetCandidateContact(ctx context.Context, req *pb.GetCandidateContactRequest) (*pb.GetCandidateContactResponse, error) {
	caller, err := auth.Require(ctx, "", contactReaders...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validate.UUID("application_id", req.GetApplicationId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	a, err := s.svc.CandidateContact(ctx, caller, req.GetApplicationId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return contactToProto(a), nil
}

// ListApplications implements pb.ApplicationsServiceServer.
func (s *Server) ListApplications(ctx context.Context, req *pb.ListApplicationsRequest) (*pb.ListApplicationsResponse, error) {
	caller, err := auth.Require(ctx, "", auth.RoleSPOC)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := auth.VisibleRegions(caller, req.GetRegion())
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
	f.Limit, f.After, err = pagetoken.PageByID(req.GetPageSize(), req.GetPageToken(), req.GetRegion(), f.CampaignID, string(f.Stage))
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
	resp := &pb.WithdrawApplicationResponse{}
	err := command.Run(ctx, s.pool, command.OnApplication("WithdrawApplication", spocs, req.GetApplicationId()), s.applications(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*intake.Application, error) {
			return s.svc.Withdraw(ctx, caller, req.GetApplicationId(), req.GetExpectedVersion(), req.GetReasonCode())
		}, func(_ auth.Claims, a *intake.Application) { resp.Application = applicationToProto(a) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// EraseCandidate implements pb.ApplicationsServiceServer. Admin only.
func (s *Server) EraseCandidate(ctx context.Context, req *pb.EraseCandidateRequest) (*pb.EraseCandidateResponse, error) {
	resp := &pb.EraseCandidateResponse{}
	// The audit trail records the call (Audit: a change) in its
	// transaction: who, the application id and the outcome, never the
	// erased values.
	err := command.Run(ctx, s.pool, command.OnApplication("EraseCandidate", nil, req.GetApplicationId()), s.applications(), req, resp,
		func(ctx context.Context, caller auth.Claims) (*intake.Application, error) {
			return s.svc.Erase(ctx, caller, req.GetApplicationId(), req.GetReasonCode())
		}, func(_ auth.Claims, a *intake.Application) { resp.Application = applicationToProto(a) })
	return command.Reply(resp, s.toStatus(ctx, err))
}

// Export is this service's part of a subject access export
// (recruitment.privacy.v1): the application as GetApplication returns it.
func (s *Server) Export(ctx context.Context, caller auth.Claims, applicationID string) ([]proto.Message, error) {
	a, err := s.svc.Application(ctx, caller, applicationID)
	if err != nil {
		return nil, err
	}
	return []proto.Message{applicationToProto(a)}, nil
}

// MaxImportRows is the most rows one ImportApplications call may carry.
const MaxImportRows = 500

// ImportApplications implements pb.ApplicationsServiceServer; see
// command.BatchAll for how rows, retries and dry runs behave: the rows of
// a call go in together (intake.Service.ImportAll), in one transaction.
func (s *Server) ImportApplications(ctx context.Context, req *pb.ImportApplicationsRequest) (*pb.ImportApplicationsResponse, error) {
	c := command.BatchCall{Call: command.Call{Method: "ImportApplications"}, Field: "rows", ItemNoun: "rows", Max: MaxImportRows, DryRun: req.GetDryRun()}
	resps, errs, err := command.BatchAll(ctx, s.pool, c, s.imported(), req, req.GetRows(), newImportResult,
		func(ctx context.Context, caller auth.Claims, rs []*pb.ImportRow, out []*pb.ImportResult) ([]error, error) {
			errs := make([]error, len(rs))
			var rows []intake.ImportRow
			var at []int
			answers := make([]monitoring.Answers, len(rs))
			for k, r := range rs {
				row, err := importRowFromProto(r)
				if err == nil {
					answers[k], err = s.monitoringAnswers(r.GetMonitoring())
				}
				if errs[k] = err; err == nil {
					rows, at = append(rows, row), append(at, k)
				}
			}
			apps, rowErrs, err := s.svc.ImportAll(ctx, caller, rows)
			if err != nil {
				return nil, err
			}
			for j, k := range at {
				if apps[j] != nil {
					out[k].ApplicationId = apps[j].ID
				}
				if errs[k] = rowErrs[j]; errs[k] == nil && apps[j] != nil {
					if err := s.deposit(ctx, apps[j].ID, answers[k]); err != nil {
						return nil, err
					}
				}
			}
			return errs, nil
		})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &pb.ImportApplicationsResponse{DryRun: req.GetDryRun()}
	for i, r := range req.GetRows() {
		res := &pb.ImportResult{Index: int32(i), Reference: r.GetReference(), Status: apistatus.ItemStatus(s.toStatus(ctx, errs[i])),
			ApplicationId: resps[i].GetApplicationId()}
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

func newImportResult() *pb.ImportResult { return &pb.ImportResult{} }

// campaigns answers a retried change of a campaign: the request log keeps
// the campaign's id and version, and a retry reads it again as the caller
// may see it now.
func (s *Server) campaigns() command.Records[*intake.Campaign] {
	return command.Records[*intake.Campaign]{
		Ref:  func(c *intake.Campaign) idempotency.Ref { return idempotency.Ref{ID: c.ID, Version: c.Version} },
		Read: s.svc.Campaign,
	}
}

// applications answers a retried submission or withdrawal: the request
// log keeps the application's id and version, never the candidate's
// details, and a retry reads the application again as the caller may see
// it now (its region checked again).
func (s *Server) applications() command.Records[*intake.Application] {
	return command.Records[*intake.Application]{
		Ref:  func(a *intake.Application) idempotency.Ref { return idempotency.Ref{ID: a.ID, Version: a.Version} },
		Read: s.svc.Application,
	}
}

// imported answers a retried row of ImportApplications: the application
// it created, read again.
func (s *Server) imported() command.Records[*pb.ImportResult] {
	return command.Records[*pb.ImportResult]{
		Ref: func(r *pb.ImportResult) idempotency.Ref { return idempotency.Ref{ID: r.GetApplicationId()} },
		Read: func(ctx context.Context, caller auth.Claims, id string) (*pb.ImportResult, error) {
			a, err := s.svc.Application(ctx, caller, id)
			if err != nil {
				return nil, err
			}
			return &pb.ImportResult{ApplicationId: a.ID}, nil
		},
	}
}

// toStatus is the one place this service turns errors into statuses.
func (s *Server) toStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, intake.ErrDuplicate) || errors.Is(err, intake.ErrAlreadyImported) {
		return status.Error(codes.AlreadyExists, err.Error())
	}
	return apistatus.Error(ctx, s.log, err)
}
