package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
)

// ExportCandidate returns the sift case as GetCase does, history included;
// admins only.
func TestExportCandidate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.open(t, event.NewID(), "london", e.clock.Now())
	passed := e.passSift(t, e.as(t, spocLondon), id)
	resp, err := privacyv1.NewPrivacyServiceClient(e.As(t, admin)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: id})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetService() != "sifting" || len(resp.GetRecords()) != 1 {
		t.Fatalf("export = %v", resp)
	}
	var got pb.SiftCase
	if err := resp.GetRecords()[0].UnmarshalTo(&got); err != nil {
		t.Fatal(err)
	}
	// As an admin reads it: history entries name their actors.
	asAdmin, err := pb.NewSiftingServiceClient(e.As(t, admin)).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: id})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, asAdmin.GetCase()) || len(got.GetHistory()) != 2 || got.GetHistory()[1].GetActor().GetSubject() != spocLondon.Subject || got.GetVersion() != passed.GetVersion() {
		t.Errorf("exported %v\nwant %v", &got, asAdmin.GetCase())
	}
	_, err = privacyv1.NewPrivacyServiceClient(e.As(t, spocLondon)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: id})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}
