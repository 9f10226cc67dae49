// Package grpcapi serves recruitment.notifier.v1: it checks the caller,
// converts between the contract and the notifier's rules, and maps errors
// to status codes in one place.
package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
)

// Audit says that no call here reads or changes a candidate's personal
// data: preferences hold staff contact settings, dead letters only ids.
var Audit = audit.Policy{
	Service: pb.NotifierService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{
		"GetPreferences":    audit.NotPersonal("a staff member's own notification settings; no candidate data"),
		"SetPreferences":    audit.NotPersonal("a staff member's own notification settings; no candidate data"),
		"SetRoleMailbox":    audit.NotPersonal("a region's shared mailbox address; no candidate data"),
		"ListRoleMailboxes": audit.NotPersonal("regions' shared mailbox addresses; no candidate data"),
		"ListDeadLetters":   audit.NotPersonal("undelivered messages by id and event id; no content, no candidate data"),
		"RetryDeadLetter":   audit.NotPersonal("re-queues a message by id; no candidate data"),
	},
}

// Server implements pb.NotifierServiceServer.
type Server struct {
	pb.UnimplementedNotifierServiceServer
	svc *notify.Service
	log *slog.Logger
}

// New returns a Server.
func New(svc *notify.Service, log *slog.Logger) *Server {
	return &Server{svc: svc, log: log}
}

// anyone is every role a token may carry: each sets their own preferences.
var anyone = []auth.Role{auth.RoleSPOC, auth.RoleVetting, auth.RoleDashboard, auth.RoleAdmin}

// GetPreferences implements pb.NotifierServiceServer.
func (s *Server) GetPreferences(ctx context.Context, req *pb.GetPreferencesRequest) (*pb.GetPreferencesResponse, error) {
	caller, err := auth.Require(ctx, "", anyone...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	p, err := s.svc.GetPreferences(ctx, caller, req.GetSubject())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.GetPreferencesResponse{Preferences: prefsToProto(p)}, nil
}

// SetPreferences implements pb.NotifierServiceServer.
func (s *Server) SetPreferences(ctx context.Context, req *pb.SetPreferencesRequest) (*pb.SetPreferencesResponse, error) {
	caller, err := auth.Require(ctx, "", anyone...)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	mode, err := modeFromProto(req.GetMode())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	in := notify.PreferencesInput{
		Subject: req.GetSubject(), Email: req.GetEmail(), Mode: mode, QuietStart: req.GetQuietStart(), QuietEnd: req.GetQuietEnd(),
		TimeZone: req.GetTimeZone(), WebhookURL: req.GetWebhookUrl(), WebhookSecret: req.GetWebhookSecret(),
		Role: roleFromProto(req.GetRole()), Regions: req.GetRegions(),
	}
	in.GivenRoleAndRegions(req.GetRole() != commonv1.CallerRole_CALLER_ROLE_UNSPECIFIED, len(req.GetRegions()) > 0)
	p, err := s.svc.SetPreferences(ctx, caller, in)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.SetPreferencesResponse{Preferences: prefsToProto(p)}, nil
}

// SetRoleMailbox implements pb.NotifierServiceServer.
func (s *Server) SetRoleMailbox(ctx context.Context, req *pb.SetRoleMailboxRequest) (*pb.SetRoleMailboxResponse, error) {
	caller, err := auth.Require(ctx, "")
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	m, set, err := s.svc.SetMailbox(ctx, caller, req.GetRegion(), mailboxRoleFromProto(req.GetRole()), req.GetEmail())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.SetRoleMailboxResponse{}
	if set {
		resp.Mailbox = mailboxToProto(m)
	}
	return resp, nil
}

// ListRoleMailboxes implements pb.NotifierServiceServer.
func (s *Server) ListRoleMailboxes(ctx context.Context, req *pb.ListRoleMailboxesRequest) (*pb.ListRoleMailboxesResponse, error) {
	ms, err := s.svc.Mailboxes(ctx, req.GetRegion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListRoleMailboxesResponse{}
	for _, m := range ms {
		resp.Mailboxes = append(resp.Mailboxes, mailboxToProto(m))
	}
	return resp, nil
}

// ListDeadLetters implements pb.NotifierServiceServer. The page token is
// the last id of the page before.
func (s *Server) ListDeadLetters(ctx context.Context, req *pb.ListDeadLettersRequest) (*pb.ListDeadLettersResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size == 0:
		size = 50
	case size < 1 || size > 500:
		return nil, s.toStatus(ctx, validate.Field("page_size", "must be 1-500"))
	}
	var after int64
	if t := req.GetPageToken(); t != "" {
		var err error
		if after, err = strconv.ParseInt(t, 10, 64); err != nil || after <= 0 {
			return nil, s.toStatus(ctx, validate.Field("page_token", "is not valid for this request; start again without it"))
		}
	}
	ms, err := s.svc.DeadLetters(ctx, after, size+1)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &pb.ListDeadLettersResponse{}
	if len(ms) > size {
		ms = ms[:size]
		resp.NextPageToken = strconv.FormatInt(ms[size-1].ID, 10)
	}
	for _, m := range ms {
		resp.DeadLetters = append(resp.DeadLetters, &pb.DeadLetter{
			Id: m.ID, Channel: channelToProto(m.Channel), Recipient: m.Recipient, EventIds: m.EventIDs, Attempts: int32(m.Attempts),
			LastError: m.LastError, FailedAt: timestamppb.New(m.FinishedAt), Kind: m.Kind,
		})
	}
	return resp, nil
}

// RetryDeadLetter implements pb.NotifierServiceServer.
func (s *Server) RetryDeadLetter(ctx context.Context, req *pb.RetryDeadLetterRequest) (*pb.RetryDeadLetterResponse, error) {
	if err := s.svc.RetryDeadLetter(ctx, req.GetId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &pb.RetryDeadLetterResponse{}, nil
}

// toStatus is the service's one mapping of errors to status codes.
func (s *Server) toStatus(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, notify.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, notify.ErrNotDead):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return apistatus.Error(ctx, s.log, err)
}
