package grpcapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
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
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/store"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start is where each test's clock begins.
var start = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// The callers of these tests.
var (
	admin         = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	vettingLondon = auth.Claims{Subject: "vetting-london", Role: auth.RoleVetting, Regions: []string{"london"}}
	vettingWales  = auth.Claims{Subject: "vetting-wales", Role: auth.RoleVetting, Regions: []string{"wales"}}
	spocLondon    = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
	spocWales     = auth.Claims{Subject: "spoc-wales", Role: auth.RoleSPOC, Regions: []string{"wales"}}
	dashboard     = auth.Claims{Subject: "dash-london", Role: auth.RoleDashboard, Regions: []string{"london"}}

	offerSPOC = &commonv1.Actor{Subject: "spoc-offers", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
)

// env is one test's vetting service: its own schema, and a real gRPC
// server on a loopback port with the production authentication
// interceptor.
type env struct {
	*servicetest.Service
	svc   *vetting.Service
	clock *testenv.Clock
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, vetting.DefaultLevels())
}

func setupWith(t *testing.T, levels vetting.Levels) *env {
	t.Helper()
	return setupFull(t, levels, nil)
}

// setupFull is setup with levels and default assignees (nil: none).
func setupFull(t *testing.T, levels vetting.Levels, defaults *assign.Defaults) *env {
	t.Helper()
	e := &env{clock: testenv.NewClock(start)}
	e.Service = servicetest.Start(t, quiet, store.Migrations, func(s *grpc.Server, pool *pgxpool.Pool) {
		e.svc = vetting.NewService(store.New(pool), e.clock.Now, levels, defaults)
		api := grpcapi.New(e.svc, pool, quiet)
		pb.RegisterVettingServiceServer(s, api)
		privacy.Register(s, "vetting", api.Export, quiet)
	}, grpcapi.Audit, privacy.Policy)
	return e
}

// dial returns a client sending token as its bearer token; "" sends none.
func (e *env) dial(t *testing.T, token string) pb.VettingServiceClient {
	return pb.NewVettingServiceClient(testenv.Dial(t, e.Addr, token))
}

// as returns a client calling as c.
func (e *env) as(t *testing.T, c auth.Claims) pb.VettingServiceClient {
	return pb.NewVettingServiceClient(e.As(t, c))
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

func (r record) offerAccepted(at time.Time) *eventsv1.Event {
	ev := r.event("offers", offerSPOC, at, 3)
	ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	return ev
}

func (r record) offerWithdrawn(at time.Time, reason string) *eventsv1.Event {
	ev := r.event("offers", offerSPOC, at, 4)
	ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: reason}}
	return ev
}

func (r record) applicationWithdrawn(at time.Time) *eventsv1.Event {
	ev := r.event("applications", &commonv1.Actor{Subject: "spoc-intake", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}, at, 2)
	ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{
		ReasonCode: "candidate_request", Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT,
	}}
	return ev
}

func (r record) applicationErased(at time.Time) *eventsv1.Event {
	ev := r.event("applications", &commonv1.Actor{Subject: "admin-dpo", Role: commonv1.CallerRole_CALLER_ROLE_ADMIN}, at, 3)
	ev.Payload = &eventsv1.Event_ApplicationErased{ApplicationErased: &eventsv1.ApplicationErased{ReasonCode: "right_to_erasure"}}
	return ev
}

// handle applies ev as the consumer does.
func (e *env) handle(t *testing.T, ev *eventsv1.Event) {
	t.Helper()
	e.Handle(t, e.svc.HandleEvent, ev)
}

// open opens a case in region through offer.accepted at the clock's time.
func (e *env) open(t *testing.T, region string) record {
	t.Helper()
	r := newRecord(region)
	e.handle(t, r.offerAccepted(e.clock.Now()))
	return r
}

// formsIn records the forms of a case at version 1.
func (e *env) formsIn(t *testing.T, c pb.VettingServiceClient, r record) *pb.VettingCase {
	t.Helper()
	resp, err := c.RecordFormsReceived(t.Context(), &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
	if err != nil {
		t.Fatalf("forms of %s: %v", r.id, err)
	}
	return resp.GetCase()
}

// block blocks the case at version v with a note.
func (e *env) block(t *testing.T, c pb.VettingServiceClient, r record, v int64, reason commonv1.BlockReason) *pb.VettingCase {
	t.Helper()
	resp, err := c.BlockCase(t.Context(), &pb.BlockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v, Reason: reason, Note: note})
	if err != nil {
		t.Fatalf("block %s: %v", r.id, err)
	}
	return resp.GetCase()
}

// note is free text about a person, kept in this service only.
const note = "Candidate's passport (no. 123456789) expired; mother says it is with the Home Office"

// get reads a case as admin through the service.
func (e *env) get(t *testing.T, id string) *vetting.Case {
	t.Helper()
	c, err := e.svc.Case(context.Background(), admin, id)
	if err != nil {
		t.Fatalf("read case %s: %v", id, err)
	}
	return c
}

// noNoteInOutbox fails if any outbox row holds any part of the note.
func (e *env) noNoteInOutbox(t *testing.T) {
	t.Helper()
	rows := testenv.OutboxEvents(t, e.Pool, "")
	if len(rows) == 0 {
		t.Fatal("the outbox is empty: nothing to check")
	}
	for _, row := range rows {
		for _, part := range []string{note, "passport", "123456789", "Home Office"} {
			if bytes.Contains(row.Payload, []byte(part)) || strings.Contains(row.Subject, part) {
				t.Errorf("outbox %s (%s) holds %q from the block note", row.Name, row.Subject, part)
			}
		}
	}
}

// count returns the rows of table.
func (e *env) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
