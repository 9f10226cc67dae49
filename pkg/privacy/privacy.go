// Package privacy serves recruitment.privacy.v1.PrivacyService, the
// subject access export, the same way in every service that holds records
// about applications: each gives only a function that reads its records
// about one application.
package privacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
)

// Export returns a service's records about one application (read for
// caller, an admin), each as the
// message its own API returns; a read of a record that is not there is an
// error matching record.ErrNotFound, which exports nothing.
type Export func(ctx context.Context, caller auth.Claims, applicationID string) ([]proto.Message, error)

// Server implements privacyv1.PrivacyServiceServer for one service.
type Server struct {
	privacyv1.UnimplementedPrivacyServiceServer
	service string
	export  Export
	log     *slog.Logger
}

// Policy declares the export to the audit trail (pkg/audit): a read of
// everything held about the application, recorded by every service that
// serves it, never with the records themselves.
var Policy = audit.Policy{
	Service: privacyv1.PrivacyService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{"ExportCandidate": audit.Read(audit.Request("application_id"))},
}

// Register serves the export of service (its name, e.g. "vetting") on s.
func Register(s *grpc.Server, service string, export Export, log *slog.Logger) {
	privacyv1.RegisterPrivacyServiceServer(s, &Server{service: service, export: export, log: log})
}

// ExportCandidate implements privacyv1.PrivacyServiceServer. Admin only.
func (s *Server) ExportCandidate(ctx context.Context, req *privacyv1.ExportCandidateRequest) (*privacyv1.ExportCandidateResponse, error) {
	caller, err := auth.Require(ctx, "")
	if err != nil {
		return nil, apistatus.Error(ctx, s.log, err)
	}
	if err := validate.UUID("application_id", req.GetApplicationId()); err != nil {
		return nil, apistatus.Error(ctx, s.log, err)
	}
	msgs, err := s.export(ctx, caller, req.GetApplicationId())
	if err != nil && !errors.Is(err, record.ErrNotFound) {
		return nil, apistatus.Error(ctx, s.log, err)
	}
	resp := &privacyv1.ExportCandidateResponse{Service: s.service}
	for _, m := range msgs {
		a, err := anypb.New(m)
		if err != nil {
			return nil, apistatus.Error(ctx, s.log, fmt.Errorf("export %T: %w", m, err))
		}
		resp.Records = append(resp.Records, a)
	}
	return resp, nil
}
