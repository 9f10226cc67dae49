package grpcapi_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/servicetest"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
	"github.com/probation-recruitment/pipeline/services/offers/internal/store"
)

// duePeriod is the configured vetting due period of the test service:
// not the production default, so a test can tell it was used.
const duePeriod = 30 * 24 * time.Hour

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start is where each test's clock begins: 10:00 in London on 23 November.
var start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// today is start's date; tomorrow the next.
var (
	today    = &commonv1.Date{Year: 2026, Month: 11, Day: 23}
	tomorrow = &commonv1.Date{Year: 2026, Month: 11, Day: 24}
)

// The callers of these tests.
var (
	admin         = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	spocLondon    = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
	spocWales     = auth.Claims{Subject: "spoc-wales", Role: auth.RoleSPOC, Regions: []string{"wales"}}
	vettingLondon = auth.Claims{Subject: "vetting-london", Role: auth.RoleVetting, Regions: []string{"london"}}
	vettingWales  = auth.Claims{Subject: "vetting-wales", Role: auth.RoleVetting, Regions: []string{"wales"}}
	dashboard     = auth.Claims{Subject: "dash-london", Role: auth.RoleDashboard, Regions: []string{"london"}}

	interviewer = &commonv1.Actor{Subject: "spoc-interview", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
	vetter      = &commonv1.Actor{Subject: "vetting-london", Role: commonv1.CallerRole_CALLER_ROLE_VETTING}
)

// env is one test's offers service: its own schema, and a real gRPC
// server on a loopback port with the production authentication
// interceptor.
type env struct {
	*servicetest.Service
	svc   *offer.Service
	clock *testenv.Clock
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with default assignees (nil: none).
func setupWith(t *testing.T, defaults *assign.Defaults) *env {
	t.Helper()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: testenv.NewClock(start)}
	e.Service = servicetest.Start(t, quiet, store.Migrations, func(s *grpc.Server, pool *pgxpool.Pool) {
		e.svc = offer.NewService(store.New(pool), e.clock.Now, london, duePeriod, defaults)
		api := grpcapi.New(e.svc, pool, quiet)
		pb.RegisterOffersServiceServer(s, api)
		privacy.Register(s, "offers", api.Export, quiet)
	}, grpcapi.Audit, privacy.Policy)
	return e
}

// dial returns a client sending token as its bearer token; "" sends none.
func (e *env) dial(t *testing.T, token string) pb.OffersServiceClient {
	return pb.NewOffersServiceClient(testenv.Dial(t, e.Addr, token))
}

// as returns a client calling as c.
func (e *env) as(t *testing.T, c auth.Claims) pb.OffersServiceClient {
	return pb.NewOffersServiceClient(e.As(t, c))
}

func reqID() string { return testenv.Name("req-") }

// record names an application as events carry it.
type record struct {
	id, campaign, region string
	role                 commonv1.JobRole
}

func newRecord(region string) record {
	return record{id: event.NewID(), campaign: event.NewID(), region: region, role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER}
}

func (r record) event(producer string, actor *commonv1.Actor, at time.Time, version int64) *eventsv1.Event {
	return event.New(producer, actor, at, event.Record{ApplicationID: r.id, CampaignID: r.campaign, Region: r.region, Role: r.role, Version: version})
}

func (r record) interviewPassed(at time.Time) *eventsv1.Event {
	ev := r.event("sifting", interviewer, at, 5)
	ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
	return ev
}

func (r record) applicationWithdrawn(at time.Time) *eventsv1.Event {
	ev := r.event("applications", &commonv1.Actor{Subject: "spoc-intake", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}, at, 2)
	ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{
		ReasonCode: "candidate_request", Stage: commonv1.Stage_STAGE_OFFER,
	}}
	return ev
}

func (r record) vettingCleared(at time.Time) *eventsv1.Event {
	ev := r.event("vetting", vetter, at, 3)
	ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	return ev
}

func (r record) vettingFailed(at time.Time) *eventsv1.Event {
	ev := r.event("vetting", vetter, at, 4)
	ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: "criminal_record"}}
	return ev
}

// handle applies ev as the consumer does.
func (e *env) handle(t *testing.T, ev *eventsv1.Event) {
	t.Helper()
	e.Handle(t, e.svc.HandleEvent, ev)
}

// open opens an offer record in region through interview.passed at the
// clock's time and returns it.
func (e *env) open(t *testing.T, region string) record {
	t.Helper()
	r := newRecord(region)
	e.handle(t, r.interviewPassed(e.clock.Now()))
	return r
}

// The steps of the offer, each at the version the record is at after
// the steps before it.
func (e *env) makeOffer(t *testing.T, c pb.OffersServiceClient, r record) *pb.Offer {
	t.Helper()
	resp, err := c.MakeConditionalOffer(t.Context(), &pb.MakeConditionalOfferRequest{
		RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, SalaryBandCode: "band_3",
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_REFERENCES},
	})
	if err != nil {
		t.Fatalf("make offer %s: %v", r.id, err)
	}
	return resp.GetOffer()
}

func (e *env) accept(t *testing.T, c pb.OffersServiceClient, r record) *pb.Offer {
	t.Helper()
	e.makeOffer(t, c, r)
	resp, err := c.AcceptOffer(t.Context(), &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2})
	if err != nil {
		t.Fatalf("accept %s: %v", r.id, err)
	}
	return resp.GetOffer()
}

// startToday accepts the offer, sets the start for today, has the
// region's approver approve it before vetting clears (early starts on in
// the region), and confirms it.
func (e *env) startToday(t *testing.T, c pb.OffersServiceClient, r record) *pb.Offer {
	t.Helper()
	e.accept(t, c, r)
	if _, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{
		RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3, StartDate: today,
	}); err != nil {
		t.Fatalf("set start date of %s: %v", r.id, err)
	}
	e.allowEarlyStarts(t, r.region, 1000)
	v := e.approve(t, r, e.rightToWorkMet(t, c, r, 4)).GetVersion()
	resp, err := c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v})
	if err != nil {
		t.Fatalf("confirm start of %s: %v", r.id, err)
	}
	return resp.GetOffer()
}

// get reads an offer as admin through the service.
func (e *env) get(t *testing.T, id string) *offer.Offer {
	t.Helper()
	o, err := e.svc.Offer(context.Background(), admin, id)
	if err != nil {
		t.Fatalf("read offer %s: %v", id, err)
	}
	return o
}

// rightToWorkMet records the right to work check met on the offer at
// version v, which a start needs, and returns the version after.
func (e *env) rightToWorkMet(t *testing.T, c pb.OffersServiceClient, r record, v int64) int64 {
	t.Helper()
	resp, err := c.RecordCheck(t.Context(), &pb.RecordCheckRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v,
		Check: commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK, Status: commonv1.CheckStatus_CHECK_STATUS_MET})
	if err != nil {
		t.Fatalf("right to work met on %s: %v", r.id, err)
	}
	return resp.GetOffer().GetVersion()
}
