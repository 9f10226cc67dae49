package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

// TestAnotherRegionsRecordIsNotFound makes every change of an offer, ready
// for it, as Wales's SPOC, on a London offer and on an id that exists
// nowhere, and reads both as Wales's SPOC and vetting contact point: the
// answers are identical (the FailedPrecondition of an offer not there yet
// for a change, NotFound for a read), so a caller cannot learn that an id
// exists in a region it may not see; and the offer does not change.
func TestAnotherRegionsRecordIsNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	spoc, wales := e.as(t, spocLondon), e.as(t, spocWales)
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			r := e.open(t, "london")
			v := ch.ready(t, e, spoc, r)
			before := len(testenv.OutboxEvents(t, e.Pool, r.id))
			_, other := ch.call(t.Context(), wales, r.id, v)
			_, missing := ch.call(t.Context(), wales, event.NewID(), v)
			testenv.WantSameAsMissing(t, other, missing, codes.FailedPrecondition)
			if got := e.get(t, r.id); got.Version != v || len(testenv.OutboxEvents(t, e.Pool, r.id)) != before {
				t.Errorf("the offer moved to v%d", got.Version)
			}
		})
	}
	r := e.open(t, "london")
	for _, caller := range []auth.Claims{spocWales, vettingWales} {
		c := e.as(t, caller)
		_, other := c.GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
		_, missing := c.GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: event.NewID()})
		testenv.WantSameAsMissing(t, other, missing, codes.NotFound)
	}
}
