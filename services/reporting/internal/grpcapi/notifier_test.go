package grpcapi_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestNotifierMayCallNothing: the notifier service's role may call only
// applications' GetCandidateContact; every report refuses it, the watch
// stream included.
func TestNotifierMayCallNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tok := testenv.Token(t, e.signer, auth.Claims{Subject: "notifier-1", Role: auth.RoleNotifier})
	testenv.WantRoleRefused(t, testenv.Dial(t, e.addr, tok), []protoreflect.ServiceDescriptor{
		pb.File_recruitment_reporting_v1_reporting_proto.Services().Get(0),
	})
}
