package grpcapi_test

import (
	"testing"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/grpcapi"
)

// An RPC added to the contract without saying whether it reads or changes
// personal data fails here (and the service refuses to start).
func TestAuditPolicyCoversEveryRPC(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Audit.Covers(pb.File_recruitment_sifting_v1_sifting_proto.Services().Get(0)); err != nil {
		t.Fatal(err)
	}
}
