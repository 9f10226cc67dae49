package grpcserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// testService lets each test decide what the handlers do.
type testService struct {
	testpb.UnimplementedTestServiceServer
	unary  func(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error)
	stream func(*testpb.StreamingOutputCallRequest, grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.unary == nil {
		return &testpb.SimpleResponse{}, nil
	}
	return s.unary(ctx, req)
}

func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if s.stream == nil {
		return ss.Send(&testpb.StreamingOutputCallResponse{})
	}
	return s.stream(req, ss)
}

// logBuffer collects JSON log lines from the server under test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// find returns the first record with msg whose fields include all of match.
func (b *logBuffer) find(t *testing.T, msg string, match map[string]string) (map[string]any, bool) {
	t.Helper()
	for _, rec := range b.records(t) {
		if rec["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range match {
			if s, _ := rec[k].(string); s != v {
				ok = false
			}
		}
		if ok {
			return rec, true
		}
	}
	return nil, false
}

type harness struct {
	srv    *grpcserver.Server
	conn   *grpc.ClientConn
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, set before done closes
}

// start builds a server on loopback with svc registered, runs it, and
// connects a client. Cleanup stops it.
func start(t *testing.T, cfg grpcserver.Config, svc *testService, opts grpcserver.Options) *harness {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := grpcserver.New(cfg, log, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if svc == nil {
		svc = &testService{}
	}
	testpb.RegisterTestServiceServer(srv.GRPC(), svc)

	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{srv: srv, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		h.err = srv.Run(ctx)
		close(h.done)
	}()
	t.Cleanup(func() { _ = h.stop(t) })

	conn, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	h.conn = conn

	// Run goes SERVING after it has initialised metrics and started serving;
	// waiting for it keeps tests from racing Run's start-up.
	hc := healthpb.NewHealthClient(conn)
	testenv.Eventually(t, "server to report SERVING", func() (bool, string) {
		resp, err := hc.Check(callCtx(t), &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING, fmt.Sprint(resp.GetStatus(), err)
	})
	return h
}

// stop cancels Run's context and returns Run's result; it may be called more
// than once.
func (h *harness) stop(t *testing.T) error {
	t.Helper()
	h.cancel()
	return h.wait(t)
}

func (h *harness) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-h.done:
		return h.err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func (h *harness) client() testpb.TestServiceClient { return testpb.NewTestServiceClient(h.conn) }

func (h *harness) admin(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + h.srv.AdminAddr().String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	const secret = "boom: password=hunter2"
	svc := &testService{
		unary: func(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) { panic(secret) },
		stream: func(*testpb.StreamingOutputCallRequest, grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
			panic(secret)
		},
	}
	h := start(t, grpcserver.Config{}, svc, grpcserver.Options{})

	tests := []struct {
		name   string
		method string
		call   func(context.Context) error
	}{
		{name: "unary", method: "UnaryCall", call: func(ctx context.Context) error {
			_, err := h.client().UnaryCall(ctx, &testpb.SimpleRequest{})
			return err
		}},
		{name: "stream", method: "StreamingOutputCall", call: func(ctx context.Context) error {
			s, err := h.client().StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := status.Convert(tt.call(callCtx(t)))
			if st.Code() != codes.Internal || st.Message() != "internal error" {
				t.Fatalf("status = %v %q, want Internal %q", st.Code(), st.Message(), "internal error")
			}

			rec, ok := h.logs.find(t, "grpc handler panicked", map[string]string{"grpc.method": tt.method})
			if !ok {
				t.Fatalf("no panic log for %s; logs: %v", tt.method, h.logs.records(t))
			}
			if rec["level"] != "ERROR" || rec["panic"] != secret {
				t.Errorf("panic log level=%v panic=%v, want ERROR and the panic value", rec["level"], rec["panic"])
			}
			if stack, _ := rec["stack"].(string); !strings.Contains(stack, "server_test.go") {
				t.Errorf("panic log stack does not reach the panicking handler: %q", stack)
			}
			if _, ok := h.logs.find(t, "finished call", map[string]string{"grpc.method": tt.method, "grpc.code": "Internal", "level": "ERROR"}); !ok {
				t.Errorf("no ERROR finished-call log with code Internal for %s", tt.method)
			}
		})
	}
}

func TestCallLogging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantCode  string
		wantLevel string
	}{
		{name: "ok", err: nil, wantCode: "OK", wantLevel: "INFO"},
		{name: "client error", err: status.Error(codes.NotFound, "no such application"), wantCode: "NotFound", wantLevel: "WARN"},
		{name: "permission denied", err: status.Error(codes.PermissionDenied, "other region"), wantCode: "PermissionDenied", wantLevel: "WARN"},
		{name: "internal", err: status.Error(codes.Internal, "internal error"), wantCode: "Internal", wantLevel: "ERROR"},
		{name: "data loss", err: status.Error(codes.DataLoss, "lost"), wantCode: "DataLoss", wantLevel: "ERROR"},
		{name: "plain error is unknown", err: errors.New("oops"), wantCode: "Unknown", wantLevel: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := &testService{unary: func(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &testpb.SimpleResponse{}, nil
			}}
			h := start(t, grpcserver.Config{}, svc, grpcserver.Options{})
			_, err := h.client().UnaryCall(callCtx(t), &testpb.SimpleRequest{})
			if got := status.Code(err).String(); got != tt.wantCode {
				t.Fatalf("code = %s, want %s", got, tt.wantCode)
			}
			rec, ok := h.logs.find(t, "finished call", map[string]string{"grpc.method": "UnaryCall"})
			if !ok {
				t.Fatalf("no finished-call log; logs: %v", h.logs.records(t))
			}
			if rec["level"] != tt.wantLevel || rec["grpc.code"] != tt.wantCode {
				t.Errorf("log level=%v code=%v, want %s %s", rec["level"], rec["grpc.code"], tt.wantLevel, tt.wantCode)
			}
			if rec["grpc.service"] != "grpc.testing.TestService" {
				t.Errorf("log grpc.service = %v", rec["grpc.service"])
			}
			if _, ok := rec["grpc.time_ms"]; !ok {
				t.Errorf("log has no duration: %v", rec)
			}
			if peer, _ := rec["peer.address"].(string); !strings.HasPrefix(peer, "127.0.0.1:") {
				t.Errorf("log peer.address = %q, want a loopback address", peer)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{}, nil, grpcserver.Options{})
	hc := healthpb.NewHealthClient(h.conn)

	resp, err := hc.Check(callCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("status while running = %v, want SERVING", resp.GetStatus())
	}

	// A Watch stream stays open through shutdown, so it sees the change
	// that new calls, refused once GracefulStop begins, could not.
	watchCtx, stopWatch := context.WithCancel(callCtx(t))
	defer stopWatch()
	watch, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	first, err := watch.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch update = %v, %v; want SERVING", first.GetStatus(), err)
	}

	h.cancel()
	next, err := watch.Recv()
	if err != nil {
		t.Fatalf("Watch after cancel: %v", err)
	}
	if next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("status after cancel = %v, want NOT_SERVING", next.GetStatus())
	}
	select {
	case <-h.done:
		t.Fatal("Run returned while a Watch call was still in flight")
	default:
	}

	stopWatch()
	if err := h.wait(t); err != nil {
		t.Fatalf("Run = %v, want nil after clean shutdown", err)
	}
}

func TestSetServingStatus(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{}, nil, grpcserver.Options{})
	hc := healthpb.NewHealthClient(h.conn)
	const svc = "grpc.testing.TestService"

	for _, serving := range []bool{true, false, true} {
		h.srv.SetServingStatus(svc, serving)
		resp, err := hc.Check(callCtx(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		want := healthpb.HealthCheckResponse_NOT_SERVING
		if serving {
			want = healthpb.HealthCheckResponse_SERVING
		}
		if resp.GetStatus() != want {
			t.Errorf("after SetServingStatus(%v) status = %v, want %v", serving, resp.GetStatus(), want)
		}
	}
}

func TestDefaultDeadline(t *testing.T) {
	t.Parallel()
	const def = 3 * time.Second
	tests := []struct {
		name         string
		cfgDeadline  time.Duration
		clientWait   time.Duration // 0: the client sets no deadline
		wantDeadline bool
		wantMin      time.Duration // remaining time the handler must see at least
		wantMax      time.Duration // and at most
	}{
		{name: "no client deadline gets the default", cfgDeadline: def, wantDeadline: true, wantMin: def - time.Second, wantMax: def},
		{name: "client deadline is kept", cfgDeadline: def, clientWait: time.Minute, wantDeadline: true, wantMin: 50 * time.Second, wantMax: time.Minute},
		{name: "shorter client deadline is kept", cfgDeadline: def, clientWait: 2 * time.Second, wantDeadline: true, wantMin: time.Second, wantMax: 2 * time.Second},
		{name: "zero default leaves none", cfgDeadline: 0, wantDeadline: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type seen struct {
				ok        bool
				remaining time.Duration
			}
			got := make(chan seen, 1)
			svc := &testService{unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
				d, ok := ctx.Deadline()
				got <- seen{ok: ok, remaining: time.Until(d)}
				return &testpb.SimpleResponse{}, nil
			}}
			h := start(t, grpcserver.Config{DefaultDeadline: tt.cfgDeadline}, svc, grpcserver.Options{})

			ctx := context.Background()
			if tt.clientWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.clientWait)
				defer cancel()
			}
			if _, err := h.client().UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
				t.Fatalf("UnaryCall: %v", err)
			}
			s := <-got
			if s.ok != tt.wantDeadline {
				t.Fatalf("handler has deadline = %v, want %v", s.ok, tt.wantDeadline)
			}
			if s.ok && (s.remaining < tt.wantMin || s.remaining > tt.wantMax) {
				t.Errorf("handler deadline in %v, want within [%v, %v]", s.remaining, tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestDefaultDeadlineExpiry(t *testing.T) {
	t.Parallel()
	svc := &testService{unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err() // a handler passing the bare context error up
	}}
	h := start(t, grpcserver.Config{DefaultDeadline: 50 * time.Millisecond}, svc, grpcserver.Options{})
	_, err := h.client().UnaryCall(context.Background(), &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("UnaryCall = %v, want DeadlineExceeded", err)
	}
}

func TestExtraInterceptorsRunInnermost(t *testing.T) {
	t.Parallel()
	sawDeadline := make(chan bool, 1)
	opts := grpcserver.Options{
		Unary: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if info.FullMethod != testpb.TestService_UnaryCall_FullMethodName {
				return handler(ctx, req)
			}
			_, ok := ctx.Deadline()
			sawDeadline <- ok
			panic("extra interceptor panicked")
		}},
		Stream: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if info.FullMethod != testpb.TestService_StreamingOutputCall_FullMethodName {
				return handler(srv, ss)
			}
			return status.Error(codes.Unauthenticated, "no token")
		}},
	}
	h := start(t, grpcserver.Config{DefaultDeadline: time.Minute}, nil, opts)

	_, err := h.client().UnaryCall(callCtx(t), &testpb.SimpleRequest{})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Fatalf("UnaryCall = %v, want recovered Internal", err)
	}
	if !<-sawDeadline {
		t.Error("extra unary interceptor ran before the default deadline was set")
	}

	s, err := h.client().StreamingOutputCall(context.Background(), &testpb.StreamingOutputCallRequest{})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("stream = %v, want Unauthenticated from the extra interceptor", err)
	}
	// Extras are inside metrics and logging, so their refusals are counted.
	if got := counterValue(t, h.srv.Registry(), "grpc_server_handled_total", map[string]string{"grpc_method": "StreamingOutputCall", "grpc_code": "Unauthenticated"}); got != 1 {
		t.Errorf("handled_total for the refused stream = %v, want 1", got)
	}
}

// counterValue returns the value of the counter name with labels, or -1.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{AdminAddr: "127.0.0.1:0"}, nil, grpcserver.Options{})
	custom := prometheus.NewCounter(prometheus.CounterOpts{Name: "pipeline_test_events_total", Help: "Test counter."})
	h.srv.Registry().MustRegister(custom)
	custom.Inc()

	labels := map[string]string{"grpc_service": "grpc.testing.TestService", "grpc_method": "UnaryCall", "grpc_code": "OK"}
	// Initialised at Run: present at zero before any call.
	if got := counterValue(t, h.srv.Registry(), "grpc_server_handled_total", labels); got != 0 {
		t.Fatalf("handled_total before any call = %v, want 0", got)
	}
	if _, err := h.client().UnaryCall(callCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	if got := counterValue(t, h.srv.Registry(), "grpc_server_handled_total", labels); got != 1 {
		t.Fatalf("handled_total after one call = %v, want 1", got)
	}

	code, body := h.admin(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics status %d", code)
	}
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="UnaryCall",grpc_service="grpc.testing.TestService",grpc_type="unary"} 1`,
		`grpc_server_handling_seconds_count{grpc_method="UnaryCall",grpc_service="grpc.testing.TestService",grpc_type="unary"} 1`,
		"go_goroutines ",
		"process_start_time_seconds ",
		"pipeline_test_events_total 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		checks   map[string]func(context.Context) error
		wantCode int
		wantBody string
	}{
		{name: "no checks", wantCode: http.StatusOK, wantBody: "ok\n"},
		{name: "passing checks", checks: map[string]func(context.Context) error{
			"postgres": func(context.Context) error { return nil },
			"nats":     func(context.Context) error { return nil },
		}, wantCode: http.StatusOK, wantBody: "ok\n"},
		{name: "one failing", checks: map[string]func(context.Context) error{
			"postgres": func(context.Context) error { return errors.New("connection refused") },
			"nats":     func(context.Context) error { return nil },
		}, wantCode: http.StatusServiceUnavailable, wantBody: "not ready: postgres\n"},
		{name: "two failing, sorted", checks: map[string]func(context.Context) error{
			"postgres": func(context.Context) error { return errors.New("down") },
			"nats":     func(context.Context) error { return errors.New("down") },
		}, wantCode: http.StatusServiceUnavailable, wantBody: "not ready: nats, postgres\n"},
		{name: "hanging check times out", checks: map[string]func(context.Context) error{
			"slow": func(ctx context.Context) error { <-ctx.Done(); time.Sleep(100 * time.Millisecond); return nil },
		}, wantCode: http.StatusServiceUnavailable, wantBody: "not ready: slow\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, grpcserver.Config{AdminAddr: "127.0.0.1:0"}, nil, grpcserver.Options{})
			for name, check := range tt.checks {
				h.srv.AddReadinessCheck(name, check)
			}
			code, body := h.admin(t, "/healthz")
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("/healthz = %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
			if strings.Contains(body, "connection refused") {
				t.Error("/healthz leaks the check's error")
			}
		})
	}
}

func TestHealthzRecovers(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{AdminAddr: "127.0.0.1:0"}, nil, grpcserver.Options{})
	var mu sync.Mutex
	var dbErr error
	h.srv.AddReadinessCheck("postgres", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return dbErr
	})
	setErr := func(err error) { mu.Lock(); dbErr = err; mu.Unlock() }

	for _, step := range []struct {
		err  error
		want int
	}{{nil, 200}, {errors.New("down"), 503}, {nil, 200}} {
		setErr(step.err)
		if code, body := h.admin(t, "/healthz"); code != step.want {
			t.Fatalf("/healthz with check error %v = %d %q, want %d", step.err, code, body, step.want)
		}
	}
}

func TestShutdownDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	svc := &testService{stream: func(_ *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
		close(entered)
		<-release
		return ss.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte("done")}})
	}}
	h := start(t, grpcserver.Config{AdminAddr: "127.0.0.1:0"}, svc, grpcserver.Options{})

	stream, err := h.client().StreamingOutputCall(callCtx(t), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	<-entered
	h.cancel()

	testenv.Eventually(t, "/healthz to report shutting down", func() (bool, string) {
		code, body := h.admin(t, "/healthz")
		return code == http.StatusServiceUnavailable && body == "shutting down\n", fmt.Sprintf("%d %q", code, body)
	})
	select {
	case <-h.done:
		t.Fatal("Run returned with a call in flight")
	default:
	}

	close(release)
	msg, err := stream.Recv()
	if err != nil || string(msg.GetPayload().GetBody()) != "done" {
		t.Fatalf("in-flight call after shutdown began = %v, %v; want it to finish", msg, err)
	}
	if err := h.wait(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", h.srv.AdminAddr().String(), time.Second); err == nil {
		t.Error("admin listener still accepts connections after Run returned")
	}
}

// TestShutdownEndsStreams: a stream that waits on its context (a watch)
// ends Unavailable as soon as shutdown begins, not after the timeout.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	svc := &testService{stream: func(_ *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
		close(entered)
		<-ss.Context().Done()
		return ss.Context().Err()
	}}
	h := start(t, grpcserver.Config{ShutdownTimeout: time.Minute}, svc, grpcserver.Options{})
	stream, err := h.client().StreamingOutputCall(context.Background(), &testpb.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	<-entered
	began := time.Now()
	if err := h.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if took := time.Since(began); took > 30*time.Second {
		t.Errorf("shutdown took %v with a stream open, want it not to wait for the timeout", took)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("stream after shutdown = %v, want Unavailable", err)
	}
}

func TestShutdownTimeoutCancelsCalls(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	// A unary call still running when the timeout runs out is cancelled.
	svc := &testService{unary: func(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	h := start(t, grpcserver.Config{ShutdownTimeout: 100 * time.Millisecond}, svc, grpcserver.Options{})

	callErr := make(chan error, 1)
	go func() {
		_, err := h.client().UnaryCall(context.Background(), &testpb.SimpleRequest{})
		callErr <- err
	}()
	<-entered
	runErr := h.stop(t)
	if runErr == nil || !strings.Contains(runErr.Error(), "in-flight calls cancelled after 100ms") {
		t.Fatalf("Run = %v, want the forced-stop error", runErr)
	}
	if err := <-callErr; status.Code(err) == codes.OK {
		t.Fatalf("call after forced stop = %v, want an error", err)
	}
}

func TestRunReturnsNilAfterCancel(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{AdminAddr: "127.0.0.1:0"}, nil, grpcserver.Options{})
	if _, err := h.client().UnaryCall(callCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	if err := h.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if err := h.srv.Run(context.Background()); err == nil {
		t.Error("second Run succeeded, want an error")
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		on   bool
	}{{"on", true}, {"off", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, grpcserver.Config{Reflection: tt.on}, nil, grpcserver.Options{})
			stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(callCtx(t))
			if err != nil {
				t.Fatalf("open reflection stream: %v", err)
			}
			err = stream.Send(&reflectionpb.ServerReflectionRequest{
				MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
			})
			// Send reports io.EOF once the server has ended the stream; the
			// status it ended with comes from Recv.
			var resp *reflectionpb.ServerReflectionResponse
			if err == nil || errors.Is(err, io.EOF) {
				resp, err = stream.Recv()
			}
			if !tt.on {
				if status.Code(err) != codes.Unimplemented {
					t.Fatalf("reflection with Reflection off = %v, want Unimplemented", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("list services: %v", err)
			}
			var names []string
			for _, s := range resp.GetListServicesResponse().GetService() {
				names = append(names, s.GetName())
			}
			for _, want := range []string{"grpc.testing.TestService", "grpc.health.v1.Health"} {
				if !strings.Contains(strings.Join(names, " "), want) {
					t.Errorf("reflection lists %v, missing %s", names, want)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = taken.Close() })

	tests := []struct {
		name    string
		cfg     grpcserver.Config
		wantErr string
	}{
		{name: "no addr", cfg: grpcserver.Config{}, wantErr: "Addr: required"},
		{name: "negative deadline", cfg: grpcserver.Config{Addr: "127.0.0.1:0", DefaultDeadline: -time.Second}, wantErr: "DefaultDeadline: must not be negative"},
		{name: "negative shutdown timeout", cfg: grpcserver.Config{Addr: "127.0.0.1:0", ShutdownTimeout: -time.Second}, wantErr: "ShutdownTimeout: must not be negative"},
		{name: "negative max deadline", cfg: grpcserver.Config{Addr: "127.0.0.1:0", MaxDeadline: -time.Second}, wantErr: "MaxDeadline: must not be negative"},
		{name: "default deadline past the cap", cfg: grpcserver.Config{Addr: "127.0.0.1:0", DefaultDeadline: time.Minute, MaxDeadline: time.Second}, wantErr: "DefaultDeadline: must not exceed MaxDeadline (1s)"},
		{name: "negative keepalive", cfg: grpcserver.Config{Addr: "127.0.0.1:0", KeepaliveTime: -time.Second}, wantErr: "KeepaliveTime: must not be negative"},
		{name: "negative connection age", cfg: grpcserver.Config{Addr: "127.0.0.1:0", MaxConnectionAge: -time.Second}, wantErr: "MaxConnectionAge: must not be negative"},
		{name: "grpc addr in use", cfg: grpcserver.Config{Addr: taken.Addr().String()}, wantErr: "listen on " + taken.Addr().String()},
		{name: "admin addr in use", cfg: grpcserver.Config{Addr: "127.0.0.1:0", AdminAddr: taken.Addr().String()}, wantErr: "listen for admin on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := grpcserver.New(tt.cfg, slog.New(slog.DiscardHandler), grpcserver.Options{})
			if err == nil {
				t.Fatalf("New succeeded with addr %v, want error %q", srv.Addr(), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestAdminDisabled(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{}, nil, grpcserver.Options{})
	if a := h.srv.AdminAddr(); a != nil {
		t.Fatalf("AdminAddr = %v with AdminAddr unset, want nil", a)
	}
	if _, err := h.client().UnaryCall(callCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
}

// Profiles are served on the admin listener only when asked for.
func TestProfiling(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		h := start(t, grpcserver.Config{AdminAddr: "127.0.0.1:0", Profiling: on}, nil, grpcserver.Options{})
		code, body := h.admin(t, "/debug/pprof/goroutine?debug=1")
		switch {
		case on && (code != http.StatusOK || !strings.Contains(body, "goroutine profile:")):
			t.Errorf("with Profiling: /debug/pprof/goroutine = %d %.80q, want the profile", code, body)
		case !on && code != http.StatusNotFound:
			t.Errorf("without Profiling: /debug/pprof/goroutine = %d, want 404", code)
		}
	}
}

// TestHealthProbeListener: HealthAddr serves grpc.health.v1 alone in plain
// text, for the kubelet's gRPC probes: liveness while the server runs,
// readiness from the readiness checks, and nothing else — a call of the
// service's own API there is refused.
func TestHealthProbeListener(t *testing.T) {
	t.Parallel()
	h := start(t, grpcserver.Config{HealthAddr: "127.0.0.1:0", Reflection: true}, nil, grpcserver.Options{})
	var mu sync.Mutex
	var natsErr error
	h.srv.AddReadinessCheck("nats", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return natsErr
	})
	conn, err := grpc.NewClient(h.srv.HealthAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	probe := healthpb.NewHealthClient(conn)
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		resp, err := probe.Check(callCtx(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q) on the probe listener: %v", service, err)
		}
		return resp.GetStatus()
	}

	if got := check(""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("liveness = %v, want SERVING", got)
	}
	if got := check(grpcserver.ReadinessService); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("readiness with every check passing = %v, want SERVING", got)
	}
	mu.Lock()
	natsErr = errors.New("nats: no servers available")
	mu.Unlock()
	if got := check(grpcserver.ReadinessService); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("readiness with NATS down = %v, want NOT_SERVING", got)
	}
	if got := check(""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("liveness with NATS down = %v, want SERVING (a restart would not bring NATS back)", got)
	}

	// The probe port is plain text: nothing but health answers there.
	_, err = testpb.NewTestServiceClient(conn).UnaryCall(callCtx(t), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("the service's own method on the probe listener: %v, want Unimplemented", err)
	}
	if _, err := h.client().UnaryCall(callCtx(t), &testpb.SimpleRequest{}); err != nil {
		t.Errorf("the same method on the gRPC listener: %v", err)
	}

	if err := h.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := probe.Check(callCtx(t), &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("the probe listener still answers after shutdown")
	}
}
