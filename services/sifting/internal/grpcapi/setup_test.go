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
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start is where each test's clock begins.
var start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// The callers of these tests.
var (
	admin      = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	spocLondon = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
	spocWales  = auth.Claims{Subject: "spoc-wales", Role: auth.RoleSPOC, Regions: []string{"wales"}}
	dashboard  = auth.Claims{Subject: "dash-london", Role: auth.RoleDashboard, Regions: []string{"london"}}
	// applicant is who submitted, as the applications service records it.
	applicant = &commonv1.Actor{Subject: "spoc-intake", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
)

// env is one test's service: its own schema, and a real gRPC server on a
// loopback port with the production authentication interceptor.
type env struct {
	*servicetest.Service
	svc      *sift.Service
	clock    *testenv.Clock
	defaults *assign.Defaults
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with default assignees (nil: none).
func setupWith(t *testing.T, defaults *assign.Defaults) *env {
	t.Helper()
	e := &env{clock: testenv.NewClock(start), defaults: defaults}
	e.Service = servicetest.Start(t, quiet, store.Migrations, func(s *grpc.Server, pool *pgxpool.Pool) {
		e.svc = sift.NewService(store.New(pool), e.clock.Now, e.defaults)
		api := grpcapi.New(e.svc, pool, quiet)
		pb.RegisterSiftingServiceServer(s, api)
		privacy.Register(s, "sifting", api.Export, quiet)
	}, grpcapi.Audit, privacy.Policy)
	return e
}

// dial returns a client sending token as its bearer token; "" sends none.
func (e *env) dial(t *testing.T, token string) pb.SiftingServiceClient {
	return pb.NewSiftingServiceClient(testenv.Dial(t, e.Addr, token))
}

// as returns a client calling as c.
func (e *env) as(t *testing.T, c auth.Claims) pb.SiftingServiceClient {
	return pb.NewSiftingServiceClient(e.As(t, c))
}

func reqID() string { return testenv.Name("req-") }

// appEvent is an event of the applications service about an application.
func appEvent(appID, campaignID, region string, at time.Time, version int64) *eventsv1.Event {
	return event.New("applications", applicant, at, event.Record{
		ApplicationID: appID, CampaignID: campaignID, Region: region,
		Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Version: version,
	})
}

func submitted(appID, campaignID, region string, at time.Time) *eventsv1.Event {
	ev := appEvent(appID, campaignID, region, at, 1)
	ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	return ev
}

func withdrawn(appID, campaignID, region string, at time.Time) *eventsv1.Event {
	ev := appEvent(appID, campaignID, region, at, 2)
	ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{
		ReasonCode: "candidate_request", Stage: commonv1.Stage_STAGE_SIFT,
	}}
	return ev
}

// open opens a case for a new application submitted at, as the consumer
// would, and returns the application id.
func (e *env) open(t *testing.T, campaignID, region string, at time.Time) string {
	t.Helper()
	id := event.NewID()
	if err := e.svc.HandleEvent(t.Context(), submitted(id, campaignID, region, at)); err != nil {
		t.Fatalf("open case: %v", err)
	}
	return id
}

// passSift records a sift pass at version 1 as caller.
func (e *env) passSift(t *testing.T, c pb.SiftingServiceClient, id string) *pb.SiftCase {
	t.Helper()
	resp, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
		RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS,
	})
	if err != nil {
		t.Fatalf("pass sift of %s: %v", id, err)
	}
	return resp.GetCase()
}

// snapshot is everything a sift call may write.
type snapshot struct {
	counts map[string]int
	cases  map[string]string // application id → state and version
}

func (e *env) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{counts: map[string]int{}, cases: map[string]string{}}
	for _, table := range []string{"cases", "history", "outbox", "request_log", "inbox"} {
		var n int
		if err := e.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		s.counts[table] = n
	}
	rows, err := e.Pool.Query(ctx, `SELECT application_id::text, state || ' v' || version || ' ' || state_entered_at::text FROM cases`)
	if err != nil {
		t.Fatalf("read cases: %v", err)
	}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatalf("read cases: %v", err)
		}
		s.cases[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read cases: %v", err)
	}
	return s
}

func (e *env) wantSnapshot(t *testing.T, want snapshot) {
	t.Helper()
	got := e.snapshot(t)
	for table, n := range want.counts {
		if got.counts[table] != n {
			t.Errorf("%s holds %d rows, want %d", table, got.counts[table], n)
		}
	}
	for id, v := range want.cases {
		if got.cases[id] != v {
			t.Errorf("case %s is %q, want %q", id, got.cases[id], v)
		}
	}
}
