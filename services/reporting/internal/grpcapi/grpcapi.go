// Package grpcapi serves recruitment.reporting.v1: it checks the caller and
// the region, converts between the contract and the reports, and maps
// errors to status codes in one place.
package grpcapi

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/command"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/watch"
)

// Unassigned, as the stuck list's assignee filter, keeps the candidates
// nobody is assigned (no subject id is "-").
const Unassigned = "-"

// readers may read reports, each for its own regions (admins for all).
var readers = []auth.Role{auth.RoleDashboard, auth.RoleSPOC, auth.RoleVetting}

// Server implements pb.ReportingServiceServer.
type Server struct {
	pb.UnimplementedReportingServiceServer
	reports *report.Service
	pool    *pgxpool.Pool
	hub     *watch.Hub
	now     func() time.Time
	log     *slog.Logger
	// WatchInterval is the least time between two summaries on a stream,
	// and WatchRefresh how often a quiet stream is re-checked (stuck counts
	// change with time alone).
	WatchInterval, WatchRefresh time.Duration
}

// New returns a Server; pool records request ids with the changes.
func New(reports *report.Service, pool *pgxpool.Pool, hub *watch.Hub, now func() time.Time, log *slog.Logger) *Server {
	return &Server{reports: reports, pool: pool, hub: hub, now: now, log: log,
		WatchInterval: 250 * time.Millisecond, WatchRefresh: time.Minute}
}

// region checks a required region the caller may read.
func region(ctx context.Context, r string, roles ...auth.Role) (auth.Claims, error) {
	if r == "" {
		return auth.Claims{}, validate.Field("region", "is required")
	}
	if err := validate.Region("region", r); err != nil {
		return auth.Claims{}, err
	}
	return auth.Require(ctx, r, roles...)
}

// asOf is a request's as_of (in 2000-2100), or now when it has none.
func (s *Server) asOf(ts *timestamppb.Timestamp) (time.Time, error) {
	t, err := validate.OptionalTime("as_of", ts)
	if err == nil && ts == nil {
		t = s.now().UTC()
	}
	return t, err
}

// pointInTime is a request's as_of as the reports take it: chosen when
// the request has one, else now.
func (s *Server) pointInTime(ts *timestamppb.Timestamp) (report.AsOf, error) {
	t, err := s.asOf(ts)
	return report.AsOf{At: t, Chosen: ts != nil}, err
}

// ListStuckCandidates implements pb.ReportingServiceServer.
func (s *Server) ListStuckCandidates(ctx context.Context, req *pb.ListStuckCandidatesRequest) (*pb.ListStuckCandidatesResponse, error) {
	if _, err := region(ctx, req.GetRegion(), readers...); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	f, err := stuckFilter(req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	asOf, err := s.asOf(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	// A token carries the as_of of its first page, so later pages list the same set.
	requestedAsOf := ""
	if req.GetAsOf() != nil {
		requestedAsOf = asOf.Format(time.RFC3339Nano)
	}
	filters := []string{req.GetRegion(), req.GetStage().String(), req.GetSeverity().String(), requestedAsOf,
		req.GetRole().String(), req.GetCampaignId(), req.GetKind().String(), req.GetBlockedReason().String(), req.GetAssignee()}
	limit, after, err := pagetoken.Page(req.GetPageSize(), req.GetPageToken(), filters...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	f.AsOf, f.Chosen, f.Limit = asOf, req.GetAsOf() != nil, limit+1
	if err := f.Resume(after); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rows, warnings, breaches, err := s.reports.Stuck(ctx, f)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rows, next := pagetoken.Next(rows, limit, func(r report.StuckRow) string { return r.Cursor(f.AsOf) }, filters...)
	campaigns := make([]string, len(rows))
	for i, r := range rows {
		campaigns[i] = r.CampaignID
	}
	titles, err := s.reports.CampaignTitles(ctx, campaigns)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListStuckCandidatesResponse{NextPageToken: next, WarningCount: int32(warnings), BreachCount: int32(breaches)}
	for _, r := range rows {
		c := stuckToProto(r, req.GetRegion(), f.AsOf)
		c.CampaignTitle = titles[r.CampaignID]
		resp.Candidates = append(resp.Candidates, c)
	}
	return resp, nil
}

// stuckFilter checks a stuck list request's filters (all but paging and
// as_of) and returns them as a report filter.
func stuckFilter(req *pb.ListStuckCandidatesRequest) (report.StuckFilter, error) {
	// Stored ids are lower case; validate.UUID accepts either.
	f := report.StuckFilter{Region: req.GetRegion(), Stage: req.GetStage(), Role: req.GetRole(), CampaignID: strings.ToLower(req.GetCampaignId()),
		Kind: projection.StuckKind(req.GetKind()), BlockedReason: req.GetBlockedReason()}
	if f.Stage != 0 && !projection.StuckStages[f.Stage] {
		return f, validate.Field("stage", "must be a stage a candidate can be stuck in: SIFT, INTERVIEW, OFFER, PRE_EMPLOYMENT or HIRED")
	}
	if _, known := commonv1.JobRole_name[int32(f.Role)]; !known {
		return f, validate.Field("role", "must be a job role")
	}
	if f.CampaignID != "" {
		if err := validate.UUID("campaign_id", f.CampaignID); err != nil {
			return f, err
		}
	}
	if _, known := pb.StuckKind_name[int32(req.GetKind())]; !known {
		return f, validate.Field("kind", "must be a stuck rule: STAGE, VETTING_BLOCKED or VETTING_OVERDUE")
	}
	if _, known := commonv1.BlockReason_name[int32(f.BlockedReason)]; !known {
		return f, validate.Field("blocked_reason", "must be a block reason")
	}
	switch a := req.GetAssignee(); {
	case a == Unassigned:
		f.Unassigned = true
	case a != "" && !auth.WellFormedSubject(a):
		return f, validate.Field("assignee", `must be a staff subject id, or "-" for the candidates nobody is assigned`)
	default:
		f.Assignee = a
	}
	switch req.GetSeverity() {
	case pb.Severity_SEVERITY_WARNING:
		f.Breach = new(bool)
	case pb.Severity_SEVERITY_BREACH:
		f.Breach = proto.Bool(true)
	}
	return f, nil
}

// GetTimeToHire implements pb.ReportingServiceServer.
func (s *Server) GetTimeToHire(ctx context.Context, req *pb.GetTimeToHireRequest) (*pb.GetTimeToHireResponse, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := auth.VisibleRegions(caller, req.GetRegion())
	if err == nil && req.GetCampaignId() != "" {
		err = validate.UUID("campaign_id", req.GetCampaignId())
	}
	if err == nil {
		err = checkSource(req.GetSource())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	w, err := window(req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	at, err := s.pointInTime(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if req.GetSource() != "" {
		// One source's measures, from its applications' records
		// (report/breakdown.go).
		ans, err := s.reports.TimeToHireOf(ctx, report.AppQuery{Regions: regions, CampaignID: req.GetCampaignId(), Role: req.GetRole(),
			Source: req.GetSource()}, w, at)
		if err != nil {
			return nil, s.toStatus(ctx, err)
		}
		return timeToHireToProto(ans).(*pb.GetTimeToHireResponse), nil
	}
	ans, err := s.reports.TimeToHire(ctx, report.TimeToHireQuery{Regions: regions, CampaignID: req.GetCampaignId(), Role: req.GetRole(), Window: w, AsOf: at})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	// Shared by every caller of the same answer; gRPC only reads it.
	return ans.Rendered(timeToHireToProto).(*pb.GetTimeToHireResponse), nil
}

// window turns a request's from/to (each in 2000-2100) into London dates.
func window(from, to *timestamppb.Timestamp) (report.Window, error) {
	var w report.Window
	fromAt, err := validate.OptionalTime("from", from)
	if err != nil {
		return w, err
	}
	toAt, err := validate.OptionalTime("to", to)
	if err != nil {
		return w, err
	}
	if from != nil {
		w.From = projection.Day(fromAt)
	}
	if to != nil {
		w.To = projection.Day(toAt)
	}
	if from != nil && to != nil && w.To.Before(w.From) {
		return w, validate.Field("to", "must not be before from")
	}
	return w, nil
}

// GetFunnel implements pb.ReportingServiceServer: without a region, over
// every region the caller may see.
func (s *Server) GetFunnel(ctx context.Context, req *pb.GetFunnelRequest) (*pb.GetFunnelResponse, error) {
	regions, err := s.regionsOf(ctx, req.GetRegion(), req.GetCampaignId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := checkSource(req.GetSource()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	at, err := s.pointInTime(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	var stages []report.FunnelStage
	if req.GetSource() != "" {
		// One source's funnel, from its applications' records
		// (report/breakdown.go).
		stages, err = s.reports.FunnelOf(ctx, report.AppQuery{Regions: regions, CampaignID: req.GetCampaignId(),
			Source: req.GetSource()}, at)
	} else {
		stages, err = s.reports.Funnel(ctx, regions, req.GetCampaignId(), at)
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetFunnelResponse{Stages: funnelToProto(stages)}, nil
}

// regionsOf checks a report's caller, region and campaign: the regions
// the report covers are the one asked for, or without one every region
// the caller may see (an admin's: all of them).
func (s *Server) regionsOf(ctx context.Context, region, campaignID string) ([]string, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err != nil {
		return nil, err
	}
	regions, err := auth.VisibleRegions(caller, region)
	if err == nil && campaignID != "" {
		err = validate.UUID("campaign_id", campaignID)
	}
	return regions, err
}

// durationsQuery reads the filters GetStageDurations and
// GetVettingDurations share.
func (s *Server) durationsQuery(ctx context.Context, region, campaignID string, role commonv1.JobRole, from, to *timestamppb.Timestamp) (report.DurationsQuery, error) {
	q := report.DurationsQuery{CampaignID: campaignID, Role: role}
	var err error
	if q.Regions, err = s.regionsOf(ctx, region, campaignID); err != nil {
		return q, err
	}
	if _, ok := commonv1.JobRole_name[int32(role)]; !ok {
		return q, validate.Field("role", "must be a known job role")
	}
	q.Window, err = window(from, to)
	return q, err
}

// GetStageDurations implements pb.ReportingServiceServer: without a
// region, over every region the caller may see.
func (s *Server) GetStageDurations(ctx context.Context, req *pb.GetStageDurationsRequest) (*pb.GetStageDurationsResponse, error) {
	q, err := s.durationsQuery(ctx, req.GetRegion(), req.GetCampaignId(), req.GetRole(), req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if q.AsOf, err = s.pointInTime(req.GetAsOf()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	stages, err := s.reports.StageDurations(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.GetStageDurationsResponse{}
	for _, d := range stages {
		resp.Stages = append(resp.Stages, &pb.StageDuration{Stage: d.Stage, Days: statsToProto(d.Days), Current: int32(d.Current)})
	}
	checks, err := s.reports.CheckDurations(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp.Checks = checkDurationsToProto(checks)
	return resp, nil
}

// vettingSteps names report.VettingSteps in the contract, in order.
var vettingSteps = []pb.VettingStep{pb.VettingStep_VETTING_STEP_OPENED_TO_FORMS_RECEIVED,
	pb.VettingStep_VETTING_STEP_FORMS_RECEIVED_TO_CLEARED, pb.VettingStep_VETTING_STEP_OPENED_TO_CLEARED}

// GetVettingDurations implements pb.ReportingServiceServer: without a
// region, over every region the caller may see.
func (s *Server) GetVettingDurations(ctx context.Context, req *pb.GetVettingDurationsRequest) (*pb.GetVettingDurationsResponse, error) {
	q, err := s.durationsQuery(ctx, req.GetRegion(), req.GetCampaignId(), req.GetRole(), req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	steps, blocked, err := s.reports.VettingDurations(ctx, q)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.GetVettingDurationsResponse{}
	for i, st := range steps {
		resp.Steps = append(resp.Steps, &pb.VettingStepDuration{Step: vettingSteps[i], Days: statsToProto(st)})
	}
	for i, b := range blocked {
		resp.Blocked = append(resp.Blocked, &pb.BlockedDuration{Reason: commonv1.BlockReason(i + 1), Days: statsToProto(b)})
	}
	return resp, nil
}

// GetRegionSummary implements pb.ReportingServiceServer.
func (s *Server) GetRegionSummary(ctx context.Context, req *pb.GetRegionSummaryRequest) (*pb.GetRegionSummaryResponse, error) {
	if _, err := region(ctx, req.GetRegion(), readers...); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	at, err := s.pointInTime(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sum, err := s.reports.Summary(ctx, req.GetRegion(), at)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetRegionSummaryResponse{Summary: summaryToProto(sum)}, nil
}

// ListRegionSummaries implements pb.ReportingServiceServer.
func (s *Server) ListRegionSummaries(ctx context.Context, req *pb.ListRegionSummariesRequest) (*pb.ListRegionSummariesResponse, error) {
	caller, err := auth.Require(ctx, "", readers...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := auth.VisibleRegions(caller, "")
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	at, err := s.pointInTime(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sums, err := s.reports.Summaries(ctx, regions, at)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListRegionSummariesResponse{}
	for _, sum := range sums {
		resp.Summaries = append(resp.Summaries, summaryToProto(sum))
	}
	return resp, nil
}

// WatchRegion implements pb.ReportingServiceServer: the summary at once,
// then again whenever it changes, at most once per WatchInterval.
func (s *Server) WatchRegion(req *pb.WatchRegionRequest, stream pb.ReportingService_WatchRegionServer) error {
	ctx := stream.Context()
	if _, err := region(ctx, req.GetRegion(), readers...); err != nil {
		return s.toStatus(ctx, err)
	}
	changed, stop := s.hub.Subscribe(req.GetRegion())
	defer stop()
	refresh := time.NewTicker(s.WatchRefresh)
	defer refresh.Stop()
	var last *pb.RegionSummary
	for {
		sum, err := s.reports.Summary(ctx, req.GetRegion(), report.Live(s.now().UTC()))
		if err != nil {
			return s.toStatus(ctx, err)
		}
		p := summaryToProto(sum)
		if last == nil || !sameSummary(last, p) {
			if err := stream.Send(&pb.WatchRegionResponse{Summary: p}); err != nil {
				return err
			}
			last = p
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-refresh.C:
		}
		// Coalesce a burst of changes into one summary.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.WatchInterval):
		}
	}
}

// sameSummary compares summaries but for their as_of.
func sameSummary(a, b *pb.RegionSummary) bool {
	a, b = proto.CloneOf(a), proto.CloneOf(b)
	a.AsOf, b.AsOf = nil, nil
	return proto.Equal(a, b)
}

// GetThresholds implements pb.ReportingServiceServer.
func (s *Server) GetThresholds(ctx context.Context, req *pb.GetThresholdsRequest) (*pb.GetThresholdsResponse, error) {
	if _, err := region(ctx, req.GetRegion(), readers...); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	th, err := s.reports.Thresholds(ctx, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetThresholdsResponse{Thresholds: thresholdsToProto(req.GetRegion(), th)}, nil
}

// SetThresholds implements pb.ReportingServiceServer. Admin only.
func (s *Server) SetThresholds(ctx context.Context, req *pb.SetThresholdsRequest) (*pb.SetThresholdsResponse, error) {
	r := req.GetThresholds().GetRegion()
	invalid := validate.Region("region", r)
	if r == "" {
		invalid = validate.Field("region", "is required")
	}
	th, err := thresholdsFromProto(req.GetThresholds())
	if invalid == nil {
		invalid = err
	}
	resp := &pb.SetThresholdsResponse{}
	// The report service writes the thresholds inside the transaction that
	// records the request id (command.Run's), and marks the change once
	// that has committed.
	err = s.reports.SetThresholds(ctx, r, req.GetExpectedVersion(), th,
		func(ctx context.Context, write func(context.Context) (projection.Thresholds, error)) error {
			return command.Run(ctx, s.pool, command.Call{Method: "SetThresholds", Invalid: invalid}, s.thresholds(r), req, resp,
				func(ctx context.Context, _ auth.Claims) (projection.Thresholds, error) { return write(ctx) },
				func(_ auth.Claims, saved projection.Thresholds) { resp.Thresholds = thresholdsToProto(r, saved) })
		})
	return command.Reply(resp, s.toStatus(ctx, err))
}

// thresholds answers a retried SetThresholds: the request log keeps the
// region and the thresholds' version, and a retry reads the region's
// thresholds again.
func (s *Server) thresholds(region string) command.Records[projection.Thresholds] {
	return command.Records[projection.Thresholds]{
		Ref: func(th projection.Thresholds) idempotency.Ref {
			return idempotency.Ref{ID: region, Version: th.Version}
		},
		Read: func(ctx context.Context, _ auth.Claims, region string) (projection.Thresholds, error) {
			return s.reports.Thresholds(ctx, region)
		},
	}
}

// toStatus is the one place this service turns errors into statuses; it
// has none of its own beyond those every service shares.
func (s *Server) toStatus(ctx context.Context, err error) error {
	return apistatus.Error(ctx, s.log, err)
}
