package grpcapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// caseOwners are the roles that own cases, and may list their own (an
// admin anyone's).
var caseOwners = []auth.Role{auth.RoleSPOC, auth.RoleVetting}

// ListMyCases implements pb.ReportingServiceServer.
func (s *Server) ListMyCases(ctx context.Context, req *pb.ListMyCasesRequest) (*pb.ListMyCasesResponse, error) {
	caller, err := auth.Require(ctx, "", caseOwners...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	assignee := req.GetAssignee()
	if assignee == "" {
		assignee = caller.Subject
	}
	switch {
	case !auth.WellFormedSubject(assignee):
		err = validate.Field("assignee", "must be a staff subject id as the sign-in token carries it")
	case assignee != caller.Subject && caller.Role != auth.RoleAdmin:
		err = fmt.Errorf("%w: only an admin may list another person's cases", auth.ErrPermissionDenied)
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	regions, err := auth.VisibleRegions(caller, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	asOf, err := s.asOf(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	// The order does not depend on as_of (oldest in stage first); a token
	// still keeps the one asked for, so later pages say what is due as of
	// the same time.
	requestedAsOf := ""
	if req.GetAsOf() != nil {
		requestedAsOf = asOf.Format(time.RFC3339Nano)
	}
	filters := []string{assignee, strings.Join(regions, ","), requestedAsOf}
	limit, cursor, err := pagetoken.Page(req.GetPageSize(), req.GetPageToken(), filters...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	after, err := report.ParseCaseCursor(cursor)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rows, err := s.reports.OpenCases(ctx, report.CaseQuery{Regions: regions, Assignee: assignee, After: after, Limit: limit + 1})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rows, next := pagetoken.Next(rows, limit, report.CaseRow.Cursor, filters...)
	campaigns := make([]string, len(rows))
	for i, r := range rows {
		campaigns[i] = r.CampaignID
	}
	titles, err := s.reports.CampaignTitles(ctx, campaigns)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListMyCasesResponse{NextPageToken: next, Assignee: assignee}
	for _, r := range rows {
		c := caseToProto(r, asOf.Truncate(time.Microsecond))
		c.CampaignTitle = titles[r.CampaignID]
		resp.Cases = append(resp.Cases, c)
	}
	return resp, nil
}

// GetWorkload implements pb.ReportingServiceServer.
func (s *Server) GetWorkload(ctx context.Context, req *pb.GetWorkloadRequest) (*pb.GetWorkloadResponse, error) {
	if _, err := region(ctx, req.GetRegion(), readers...); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	asOf, err := s.asOf(req.GetAsOf())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rows, err := s.reports.Workload(ctx, req.GetRegion(), asOf.Truncate(time.Microsecond))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.GetWorkloadResponse{AsOf: timestamppb.New(asOf)}
	for _, w := range rows {
		resp.Rows = append(resp.Rows, &pb.Workload{Assignee: w.Assignee, Actor: pb.NextActor(w.Actor), Open: int32(w.Open),
			Warning: int32(w.Warning), Breach: int32(w.Breach), OldestSince: timestamppb.New(w.OldestSince)})
	}
	return resp, nil
}

func caseToProto(r report.CaseRow, asOf time.Time) *pb.MyCase {
	c := &pb.MyCase{ApplicationId: r.ApplicationID, CampaignId: r.CampaignID, Region: r.Region, Role: r.Role, Stage: r.Stage,
		Record: pb.CaseRecord(r.Record), Since: timestamppb.New(r.Since)}
	due := projection.DueOf(r.Clocks, asOf)
	if due.Clock == nil {
		return c
	}
	c.Kind, c.BlockedReason, c.DaysOverdue = pb.StuckKind(due.Clock.Kind), due.Clock.BlockedReason, int32(due.DaysOverdue)
	switch {
	case due.Breach:
		c.Severity = pb.Severity_SEVERITY_BREACH
	case due.Warning:
		c.Severity = pb.Severity_SEVERITY_WARNING
	}
	if !due.Next.IsZero() {
		c.NextThreshold, c.NextThresholdAt = pb.Severity_SEVERITY_WARNING, timestamppb.New(due.Next)
		if due.NextIsBreach {
			c.NextThreshold = pb.Severity_SEVERITY_BREACH
		}
	}
	return c
}
