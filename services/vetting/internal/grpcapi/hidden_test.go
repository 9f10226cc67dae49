package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// TestAnotherRegionsRecordIsNotFound makes every change of a vetting case,
// ready for it, as Wales's vetting contact point, on a London case and on
// an id that exists nowhere, and reads both as Wales's vetting contact
// point and SPOC: the answers are identical (the FailedPrecondition of a
// case not opened yet for a change, NotFound for a read), so a caller
// cannot learn that an id exists in a region it may not see; and the case
// does not change.
func TestAnotherRegionsRecordIsNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	vetter, wales := e.as(t, vettingLondon), e.as(t, vettingWales)
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			r := e.open(t, "london")
			v := ch.ready(t, e, vetter, r)
			before := len(testenv.OutboxEvents(t, e.Pool, r.id))
			_, other := ch.call(t.Context(), wales, r.id, v)
			_, missing := ch.call(t.Context(), wales, event.NewID(), v)
			testenv.WantSameAsMissing(t, other, missing, codes.FailedPrecondition)
			if got := e.get(t, r.id); got.Version != v || len(testenv.OutboxEvents(t, e.Pool, r.id)) != before {
				t.Errorf("the case moved to v%d", got.Version)
			}
		})
	}
	r := e.open(t, "london")
	blocked := e.block(t, vetter, r, 1, thirdParty)
	t.Run("BatchUnblock", func(t *testing.T) {
		status := func(id string) *pb.UnblockResult {
			resp, err := wales.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: reqID(),
				Items: []*pb.UnblockItem{{ApplicationId: id, ExpectedVersion: blocked.GetVersion()}}})
			if err != nil {
				t.Fatal(err)
			}
			return resp.GetResults()[0]
		}
		other, missing := status(r.id).GetStatus(), status(event.NewID()).GetStatus()
		if other.GetCode() != "FAILED_PRECONDITION" || other.GetCode() != missing.GetCode() || other.GetMessage() != missing.GetMessage() {
			t.Errorf("another region's case: %v; a missing one: %v; want the same FAILED_PRECONDITION", other, missing)
		}
	})
	for _, caller := range []auth.Claims{vettingWales, spocWales} {
		c := e.as(t, caller)
		_, other := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
		_, missing := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: event.NewID()})
		testenv.WantSameAsMissing(t, other, missing, codes.NotFound)
	}
}
