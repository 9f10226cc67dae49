package grpcapi_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/rebuild"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/watch"
)

// testKey signs and verifies every token in these tests.
const testKey = "reporting-grpcapi-test-key-0123456789abcdef"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serverNow is the server clock of every test: reports asked without an
// as_of are as of this instant.
var serverNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// The callers of these tests.
var (
	admin         = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	dashLondon    = auth.Claims{Subject: "dash-london", Role: auth.RoleDashboard, Regions: []string{"london"}}
	spocLondon    = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
	vettingLondon = auth.Claims{Subject: "vetting-london", Role: auth.RoleVetting, Regions: []string{"london"}}
)

const (
	watchMethod = pb.ReportingService_WatchRegion_FullMethodName
	// durable is the reporting service's consumer name (main.go: the service name).
	durable = "reporting"
)

// env is one test's reporting service: its own schema, and a real gRPC
// server on a loopback port behind the production auth interceptors.
type env struct {
	pool   *pgxpool.Pool
	schema string
	store  *store.Store
	// reports is the server's report service, told of each change e.apply
	// commits as the consumer tells it in main.go.
	reports *report.Service
	hub     *watch.Hub
	addr    string
	signer  *auth.Signer
	// watchEnded receives what each WatchRegion handler returned.
	watchEnded chan error
}

// options tune a test's server.
type options struct {
	watchInterval, watchRefresh time.Duration
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, options{})
}

func setupWith(t *testing.T, o options) *env {
	t.Helper()
	pool, schema := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, rebuild.Migrations...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// The store judges stuck crossings by the server's clock.
	e := &env{pool: pool, schema: schema, store: store.New(pool).WithClock(func() time.Time { return serverNow }), watchEnded: make(chan error, 16)}
	// observe records how each watch stream's handler ended, after the auth
	// interceptor has let it in.
	observe := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		err := handler(srv, ss)
		if info.FullMethod == watchMethod {
			e.watchEnded <- err
		}
		return err
	}
	e.reports = report.NewService(e.store)
	e.hub = watch.NewHub(pool, quiet, e.reports)
	api := grpcapi.New(e.reports, e.pool, e.hub, func() time.Time { return serverNow }, quiet)
	if o.watchInterval > 0 {
		api.WatchInterval = o.watchInterval
	}
	if o.watchRefresh > 0 {
		api.WatchRefresh = o.watchRefresh
	}
	srv := testenv.StartGRPC(t, testKey, quiet, func(s *grpc.Server) { pb.RegisterReportingServiceServer(s, api) }, observe)
	e.signer = srv.Signer
	e.addr = srv.Addr
	return e
}

// runHub starts the watch hub on the test's pool and returns once its
// LISTEN connection is up, so no notification is missed.
func (e *env) runHub(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.hub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch hub: %v", err)
		}
	})
	listen := `LISTEN "` + e.schema + `_regions"`
	testenv.Eventually(t, "the watch hub listens", func() (bool, string) {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE query = $1`, listen).Scan(&n)
		return err == nil && n == 1, "listening connections: " + strconv.Itoa(n)
	})
}

// dial returns a client sending token as its bearer token; "" sends none.
func (e *env) dial(t *testing.T, token string) pb.ReportingServiceClient {
	t.Helper()
	return pb.NewReportingServiceClient(testenv.Dial(t, e.addr, token))
}

// as returns a client calling as c.
func (e *env) as(t *testing.T, c auth.Claims) pb.ReportingServiceClient {
	t.Helper()
	return e.dial(t, testenv.Token(t, e.signer, c))
}

// apply folds evs into the projection in one transaction, as one batch of
// the consumer would.
func (e *env) apply(t *testing.T, evs ...*eventsv1.Event) {
	t.Helper()
	ctx := context.Background()
	if err := pg.InTx(ctx, e.pool, func(tx pgx.Tx) error { return e.store.Apply(ctx, tx, evs) }); err != nil {
		t.Fatalf("apply %d events: %v", len(evs), err)
	}
	e.reports.Changed()
}

// pipeline is the live path: an in-process JetStream, the stream, and the
// batch consumer wired as main.go wires it, applying into the env's schema.
type pipeline struct {
	e  *env
	js jetstream.JetStream

	mu  sync.Mutex
	ids map[string]bool // distinct events published
}

func (e *env) startPipeline(t *testing.T) *pipeline {
	t.Helper()
	// The test publishes as the administrator; the consumer runs as
	// reporting, under its NATS permissions.
	url := testenv.NATS(t)
	_, js := testenv.Connect(t, url)
	_, asReporting := testenv.ConnectAs(t, url, "reporting")
	if _, err := stream.Ensure(t.Context(), asReporting, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	cons, err := consumer.NewBatch(e.pool, asReporting, consumer.Config{Durable: durable, OnCommit: e.reports.Changed}, e.store.Apply, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
	return &pipeline{e: e, js: js, ids: map[string]bool{}}
}

// publish puts evs on the stream as the producers' outbox relays do.
func (p *pipeline) publish(t *testing.T, evs ...*eventsv1.Event) {
	t.Helper()
	for _, ev := range evs {
		b, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		suffix, err := event.SubjectSuffix(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.js.Publish(t.Context(), event.DefaultSubjectPrefix+"."+suffix, b, jetstream.WithMsgID(ev.GetEventId())); err != nil {
			t.Fatalf("publish: %v", err)
		}
		p.mu.Lock()
		p.ids[ev.GetEventId()] = true
		p.mu.Unlock()
	}
}

// waitApplied waits until the consumer has applied every event published.
func (p *pipeline) waitApplied(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	want := len(p.ids)
	p.mu.Unlock()
	testenv.Eventually(t, "the consumer applies every event", func() (bool, string) {
		var n int
		err := p.e.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox WHERE consumer = $1`, durable).Scan(&n)
		return err == nil && n == want, "applied " + strconv.Itoa(n) + " of " + strconv.Itoa(want)
	})
}

// wantProto fails unless got equals want.
func wantProto(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, prototext.Format(got), prototext.Format(want))
	}
}

// tables is the projection as rows of text per table: apps, campaigns,
// the non-zero counters and histogram rows, and the stuck clocks. Two
// projections of the same events must give equal tables.
func tables(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"apps":      `SELECT t::text FROM apps t ORDER BY 1`,
		"campaigns": `SELECT t::text FROM campaigns t ORDER BY 1`,
		"counts":    `SELECT t::text FROM counts t WHERE n <> 0 ORDER BY 1`,
		"durations": `SELECT t::text FROM durations t WHERE n <> 0 ORDER BY 1`,
		"stuck":     `SELECT t::text FROM stuck t ORDER BY 1`,
	}
	out := map[string][]string{}
	for name, q := range queries {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		out[name], err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
	}
	return out
}

// wantSameTables fails unless both projections hold the same rows.
func wantSameTables(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for name, w := range want {
		g := got[name]
		if len(w) == 0 {
			t.Errorf("table %s is empty: the comparison would prove nothing", name)
		}
		if strings.Join(g, "\n") == strings.Join(w, "\n") {
			continue
		}
		t.Errorf("table %s differs: %d rows, want %d", name, len(g), len(w))
		in := map[string]bool{}
		for _, r := range w {
			in[r] = true
		}
		shown := 0
		for _, r := range g {
			if !in[r] && shown < 5 {
				t.Errorf("  unexpected %s row: %s", name, r)
				shown++
			}
		}
		in = map[string]bool{}
		for _, r := range g {
			in[r] = true
		}
		shown = 0
		for _, r := range w {
			if !in[r] && shown < 5 {
				t.Errorf("  missing %s row: %s", name, r)
				shown++
			}
		}
	}
}
