package grpcapi_test

import (
	"testing"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/grpcapi"
)

// An RPC added to the contract without saying whether it reads or changes
// personal data fails here (and the service refuses to start).
func TestAuditPolicyCoversEveryRPC(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Audit.Covers(pb.File_recruitment_reporting_v1_reporting_proto.Services().Get(0)); err != nil {
		t.Fatal(err)
	}
}
