package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
)

// ExportCandidate returns the offer as GetOffer does, history included;
// admins only.
func TestExportCandidate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.open(t, "london")
	made := e.makeOffer(t, e.as(t, spocLondon), r)
	resp, err := privacyv1.NewPrivacyServiceClient(e.As(t, admin)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: r.id})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetService() != "offers" || len(resp.GetRecords()) != 1 {
		t.Fatalf("export = %v", resp)
	}
	var got pb.Offer
	if err := resp.GetRecords()[0].UnmarshalTo(&got); err != nil {
		t.Fatal(err)
	}
	// As an admin reads it: history entries name their actors.
	asAdmin, err := pb.NewOffersServiceClient(e.As(t, admin)).GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, asAdmin.GetOffer()) || len(got.GetHistory()) != 2 || got.GetHistory()[1].GetActor().GetSubject() != spocLondon.Subject || got.GetVersion() != made.GetVersion() {
		t.Errorf("exported %v\nwant %v", &got, asAdmin.GetOffer())
	}
	_, err = privacyv1.NewPrivacyServiceClient(e.As(t, spocLondon)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: r.id})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}
