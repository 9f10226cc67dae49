package grpcapi_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	auditv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/audit/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// TestNotifierMayCallNothing: the notifier service's role may call only
// applications' GetCandidateContact; every RPC this service serves
// refuses it.
func TestNotifierMayCallNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	testenv.WantRoleRefused(t, e.As(t, auth.Claims{Subject: "notifier-1", Role: auth.RoleNotifier}), []protoreflect.ServiceDescriptor{
		pb.File_recruitment_vetting_v1_vetting_proto.Services().Get(0),
		privacyv1.File_recruitment_privacy_v1_privacy_proto.Services().Get(0),
		auditv1.File_recruitment_audit_v1_audit_proto.Services().Get(0),
	})
}
