package service_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Start wires a working service: migrated schema, stream, gRPC with health,
// admin /healthz, and a consumer whose handler writes in its transaction.
func TestStartConsumeRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, schema := testenv.Schema(t)
	// As sifting, under its NATS permissions.
	creds := testenv.NATSCredentials("sifting")
	cfg := config.Common{
		DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: testenv.NATS(t),
		NATSStream: "RECRUITMENT", NATSSubjectPrefix: "recruitment", NATSReplicas: 1,
		NATSUser: creds.User, NATSPassword: creds.Password,
		GRPCAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, AuthAllowDevKey: true, GRPCInsecure: true,
	}
	rt, err := service.Start(ctx, "sifting", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Pool.Exec(ctx, `CREATE TABLE seen (event_id uuid)`); err != nil {
		t.Fatal(err)
	}
	err = rt.Consume("*.application.>", []string{"application.submitted"}, func(ctx context.Context, ev *eventsv1.Event) error {
		_, err := pg.Q(ctx, rt.Pool).Exec(ctx, `INSERT INTO seen VALUES ($1)`, ev.GetEventId())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()

	conn, err := grpc.NewClient(rt.Server.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	testenv.Eventually(t, "the server to report SERVING", func() (bool, string) {
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING, fmt.Sprint(r.GetStatus(), err)
	})
	// The development key is in use: /healthz and a metric say so.
	body := get(t, rt, "/healthz", http.StatusOK)
	if !strings.Contains(body, "warning: the public development key is in use") {
		t.Errorf("/healthz = %q, want it to warn of the development key", body)
	}
	if !strings.Contains(body, "warning: gRPC is served in plain text") {
		t.Errorf("/healthz = %q, want it to warn of plain-text gRPC", body)
	}
	if body := get(t, rt, "/metrics", http.StatusOK); !strings.Contains(body, "\nauth_dev_key 1\n") {
		t.Error("/metrics has no auth_dev_key 1")
	}

	nc, _ := testenv.Connect(t, cfg.NATSURL)
	submitted := newEvent(&eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}})
	withdrawn := newEvent(&eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "x"}})
	for _, ev := range []*eventsv1.Event{withdrawn, submitted} {
		b, _ := event.Marshal(ev)
		subject, _ := event.SubjectSuffix(ev)
		if err := nc.Publish("recruitment."+subject, b); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, "application.submitted to be handled", func() (bool, string) {
		var n int
		err := rt.Pool.QueryRow(ctx, `SELECT count(*) FROM seen WHERE event_id = $1`, submitted.GetEventId()).Scan(&n)
		return n == 1, fmt.Sprintf("seen %d times, %v", n, err)
	})
	var total int
	if err := rt.Pool.QueryRow(ctx, `SELECT count(*) FROM seen`).Scan(&total); err != nil || total != 1 {
		t.Errorf("handled %d events, %v; want only the wanted application.submitted", total, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func get(t *testing.T, rt *service.Runtime, path string, want int) string {
	t.Helper()
	resp, err := http.Get("http://" + rt.Server.AdminAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s = %d %s, want %d", path, resp.StatusCode, b, want)
	}
	return string(b)
}

func TestStartFailsClearly(t *testing.T) {
	t.Parallel()
	cfg := config.Common{DatabaseURL: "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", DBSchema: "x", GRPCAddr: "127.0.0.1:0", AuthAllowDevKey: true, GRPCInsecure: true}
	if _, err := service.Start(context.Background(), "svc", cfg); err == nil {
		t.Error("Start with an unreachable database: want an error")
	}
}

// TestStartFailsClosed: a service with no way to verify tokens, or with the
// development key on a network address, does not start.
func TestStartFailsClosed(t *testing.T) {
	t.Parallel()
	_, schema := testenv.Schema(t)
	for _, tt := range []struct {
		name string
		cfg  config.Common
		want string
	}{
		{"no key", config.Common{GRPCAddr: "127.0.0.1:0"}, "no token verification configured"},
		{"dev key on every interface", config.Common{GRPCAddr: ":0", AuthAllowDevKey: true}, "loopback"},
		{"no certificate", config.Common{GRPCAddr: "127.0.0.1:0", AuthEd25519PublicKey: devPublicKey(t)}, "TLS_CERT_FILE and TLS_KEY_FILE are required"},
		{"plain text on every interface", config.Common{GRPCAddr: ":0", GRPCInsecure: true, AuthEd25519PublicKey: devPublicKey(t)},
			`GRPC_INSECURE: plain-text gRPC is allowed only on a loopback address; GRPC_ADDR is ":0"`},
		{"request ids forgotten within minutes", config.Common{GRPCAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", AuthAllowDevKey: true, GRPCInsecure: true,
			RequestLogRetention: 30 * time.Minute}, "REQUEST_LOG_RETENTION"},
	} {
		tt.cfg.DatabaseURL, tt.cfg.DBSchema, tt.cfg.NATSURL = testenv.DatabaseURL(), schema, testenv.SystemNATSURL()
		if _, err := service.Start(context.Background(), "svc", tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Start = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func devPublicKey(t *testing.T) string {
	t.Helper()
	k, err := auth.KeyConfig{Ed25519PrivateKey: config.DevEd25519Seed}.Public()
	if err != nil {
		t.Fatal(err)
	}
	return k.Ed25519PublicKey
}

func newEvent(payload any) *eventsv1.Event {
	ev := event.New("applications", &commonv1.Actor{Subject: "t"}, time.Now(), event.Record{
		ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london",
	})
	switch p := payload.(type) {
	case *eventsv1.Event_ApplicationSubmitted:
		ev.Payload = p
	case *eventsv1.Event_ApplicationWithdrawn:
		ev.Payload = p
	}
	return ev
}

// TestRunPrunesRequestLog: the runtime deletes request log rows older than
// REQUEST_LOG_RETENTION, and only those, as soon as it runs.
func TestRunPrunesRequestLog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, schema := testenv.Schema(t)
	// As sifting, under its NATS permissions.
	creds := testenv.NATSCredentials("sifting")
	cfg := config.Common{
		DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: testenv.NATS(t),
		NATSStream: "RECRUITMENT", NATSSubjectPrefix: "recruitment", NATSReplicas: 1,
		NATSUser: creds.User, NATSPassword: creds.Password,
		GRPCAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, AuthAllowDevKey: true, GRPCInsecure: true,
		RequestLogRetention: 48 * time.Hour,
	}
	rt, err := service.Start(ctx, "sifting", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Pool.Exec(ctx, `INSERT INTO request_log (caller, request_id, method, fingerprint, answerable, created_at)
		VALUES ('c', 'old', 'M', '\x00', true, now() - interval '49 hours'),
		       ('c', 'kept', 'M', '\x00', true, now() - interval '47 hours')`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	testenv.Eventually(t, "the request log row older than 48h pruned", func() (bool, string) {
		var ids []string
		rows, err := rt.Pool.Query(ctx, `SELECT request_id FROM request_log ORDER BY request_id`)
		if err == nil {
			for rows.Next() {
				var id string
				_ = rows.Scan(&id)
				ids = append(ids, id)
			}
			err = rows.Err()
		}
		return err == nil && fmt.Sprint(ids) == "[kept]", fmt.Sprint(ids, err)
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v", err)
	}
}

// TestRunRefusesUndeclaredMethods: a service serving a method that no
// audit policy declares — read, change or not personal — does not start.
func TestRunRefusesUndeclaredMethods(t *testing.T) {
	t.Parallel()
	_, schema := testenv.Schema(t)
	creds := testenv.NATSCredentials("sifting")
	cfg := config.Common{
		DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: testenv.NATS(t),
		NATSStream: "RECRUITMENT", NATSSubjectPrefix: "recruitment", NATSReplicas: 1,
		NATSUser: creds.User, NATSPassword: creds.Password,
		GRPCAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, AuthAllowDevKey: true, GRPCInsecure: true,
	}
	rt, err := service.Start(context.Background(), "sifting", cfg)
	if err != nil {
		t.Fatal(err)
	}
	testpb.RegisterTestServiceServer(rt.Server.GRPC(), testpb.UnimplementedTestServiceServer{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = rt.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "grpc.testing.TestService/UnaryCall: not declared") {
		t.Fatalf("Run = %v, want a refusal naming the undeclared method", err)
	}
}

// TestStartNeedsItsNATSUser: on a server with users, a service without
// credentials, or with a wrong password, does not start.
func TestStartNeedsItsNATSUser(t *testing.T) {
	t.Parallel()
	_, schema := testenv.Schema(t)
	url := testenv.NATS(t)
	for _, tt := range []struct{ name, user, password string }{
		{"no credentials", "", ""},
		{"wrong password", "sifting", "guess"},
	} {
		cfg := config.Common{
			DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: url, NATSUser: tt.user, NATSPassword: tt.password,
			GRPCAddr: "127.0.0.1:0", AuthAllowDevKey: true, GRPCInsecure: true,
		}
		if _, err := service.Start(context.Background(), "sifting", cfg); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Errorf("%s: Start = %v, want an authorization violation", tt.name, err)
		}
	}
}

// frozenNATS listens where NATS should be and accepts connections but
// never speaks, as a stopped (SIGSTOP) server does; close it to free the
// port.
func frozenNATS(t *testing.T) (port int, closeIt func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	return lis.Addr().(*net.TCPAddr).Port, func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}
}

// A service starts and serves while NATS is unresponsive, says on /healthz
// that it is not ready for want of NATS, and once NATS is back connects,
// starts its consumer and handles what is published.
func TestStartsWithoutNATSAndConnectsWhenItComes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, schema := testenv.Schema(t)
	port, unfreeze := frozenNATS(t)
	creds := testenv.NATSCredentials("sifting")
	cfg := config.Common{
		DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: fmt.Sprintf("nats://127.0.0.1:%d", port),
		NATSStream: "RECRUITMENT", NATSSubjectPrefix: "recruitment", NATSReplicas: 1,
		NATSUser: creds.User, NATSPassword: creds.Password,
		GRPCAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, AuthAllowDevKey: true, GRPCInsecure: true,
	}
	rt, err := service.Start(ctx, "sifting", cfg)
	if err != nil {
		t.Fatalf("Start with NATS frozen: %v; want it to start and serve", err)
	}
	if _, err := rt.Pool.Exec(ctx, `CREATE TABLE seen (event_id uuid)`); err != nil {
		t.Fatal(err)
	}
	err = rt.Consume("*.application.>", []string{"application.submitted"}, func(ctx context.Context, ev *eventsv1.Event) error {
		_, err := pg.Q(ctx, rt.Pool).Exec(ctx, `INSERT INTO seen VALUES ($1)`, ev.GetEventId())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()

	conn, err := grpc.NewClient(rt.Server.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	testenv.Eventually(t, "gRPC to answer while NATS is frozen", func() (bool, string) {
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil, fmt.Sprint(err)
	})
	if body := get(t, rt, "/healthz", http.StatusServiceUnavailable); !strings.Contains(body, "nats") || !strings.Contains(body, "stream") {
		t.Errorf("/healthz while NATS is frozen = %q; want it to name nats and the stream", body)
	}

	unfreeze()
	url := testenv.NATSOn(t, port)
	testenv.Eventually(t, "/healthz to be ready once NATS is back", func() (bool, string) {
		resp, err := http.Get("http://" + rt.Server.AdminAddr().String() + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, string(b)
	})
	nc, _ := testenv.Connect(t, url)
	submitted := newEvent(&eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}})
	b, _ := event.Marshal(submitted)
	subject, _ := event.SubjectSuffix(submitted)
	if err := nc.Publish("recruitment."+subject, b); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the consumer, started once NATS came, to handle the event", func() (bool, string) {
		var n int
		err := rt.Pool.QueryRow(ctx, `SELECT count(*) FROM seen WHERE event_id = $1`, submitted.GetEventId()).Scan(&n)
		return n == 1, fmt.Sprintf("seen %d times, %v", n, err)
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}

// TestConsumeAppliesWaitingEventsTogether: events that are waiting when
// the consumer comes for them are applied in one transaction, and one
// event its handler refuses fails only itself (its batch is applied again
// one event at a time).
func TestConsumeAppliesWaitingEventsTogether(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, schema := testenv.Schema(t)
	creds := testenv.NATSCredentials("sifting")
	cfg := config.Common{
		DatabaseURL: testenv.DatabaseURL(), DBSchema: schema, NATSURL: testenv.NATS(t),
		NATSStream: "RECRUITMENT", NATSSubjectPrefix: "recruitment", NATSReplicas: 1,
		NATSUser: creds.User, NATSPassword: creds.Password,
		GRPCAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, AuthAllowDevKey: true, GRPCInsecure: true,
	}
	rt, err := service.Start(ctx, "sifting", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Pool.Exec(ctx, `CREATE TABLE seen (event_id uuid, tx bigint)`); err != nil {
		t.Fatal(err)
	}
	submitted := func(n int) []*eventsv1.Event {
		var evs []*eventsv1.Event
		for range n {
			evs = append(evs, newEvent(&eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}))
		}
		return evs
	}
	burst, more := submitted(12), submitted(5)
	// The first event's handler waits until the burst is published, so
	// the rest of it is waiting together when the consumer next comes.
	published := make(chan struct{})
	refused := more[2].GetEventId()
	err = rt.Consume("*.application.>", []string{"application.submitted"}, func(ctx context.Context, ev *eventsv1.Event) error {
		if ev.GetEventId() == burst[0].GetEventId() {
			<-published
		}
		if ev.GetEventId() == refused {
			return fmt.Errorf("%w: refused by the test", consumer.ErrPermanent)
		}
		_, err := pg.Q(ctx, rt.Pool).Exec(ctx, `INSERT INTO seen VALUES ($1, txid_current())`, ev.GetEventId())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	testenv.Eventually(t, "/healthz to be ready", func() (bool, string) {
		resp, err := http.Get("http://" + rt.Server.AdminAddr().String() + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	nc, _ := testenv.Connect(t, cfg.NATSURL)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(evs []*eventsv1.Event) {
		for _, ev := range evs {
			b, _ := event.Marshal(ev)
			subject, _ := event.SubjectSuffix(ev)
			if _, err := js.Publish(ctx, "recruitment."+subject, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	applied := func(want int) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("%d events applied", want), func() (bool, string) {
			var n int
			err := rt.Pool.QueryRow(ctx, `SELECT count(*) FROM seen`).Scan(&n)
			return n == want, fmt.Sprintf("%d applied, %v", n, err)
		})
	}
	publish(burst)
	close(published)
	applied(len(burst))
	var txs int
	if err := rt.Pool.QueryRow(ctx, `SELECT count(DISTINCT tx) FROM seen`).Scan(&txs); err != nil || txs > 2 {
		t.Errorf("%d events applied in %d transactions, %v; want the first alone and the rest together (2)", len(burst), txs, err)
	}
	publish(more)
	applied(len(burst) + len(more) - 1)
	var events int
	var refusedSeen bool
	if err := rt.Pool.QueryRow(ctx, `SELECT count(DISTINCT event_id), coalesce(bool_or(event_id = $1), false) FROM seen`, refused).
		Scan(&events, &refusedSeen); err != nil {
		t.Fatal(err)
	}
	if events != len(burst)+len(more)-1 || refusedSeen {
		t.Errorf("%d distinct events applied (the refused one: %v); want every other event once", events, refusedSeen)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}
