// Package grpcserver sets up the gRPC server every service runs: one
// interceptor chain (metrics, logging, panic recovery, default and maximum
// deadline), connection limits (calls per connection, keepalive, connection
// age), the standard health service, optional reflection, and an HTTP admin
// listener for Prometheus and the platform's readiness probe. Keeping it in
// one place means every service reports, logs, limits and shuts down the
// same way.
package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
)

const (
	defaultShutdownTimeout = 10 * time.Second
	// readinessTimeout bounds one /healthz request; probes usually time out
	// at a few seconds, and a late answer is as bad as a failed one.
	readinessTimeout = 2 * time.Second
	// adminShutdownTimeout bounds draining of the admin listener, which
	// serves only short requests.
	adminShutdownTimeout = 5 * time.Second
)

// Config is the server part of a service's configuration.
type Config struct {
	// Addr is the gRPC listen address, e.g. "127.0.0.1:50051"; port 0 picks
	// a free port (tests), readable from Server.Addr.
	Addr string
	// AdminAddr is the HTTP listen address for /metrics and /healthz; empty
	// disables the admin listener.
	AdminAddr string
	// HealthAddr is a second gRPC listen address, plain text, serving only
	// grpc.health.v1 for the platform's probes: the kubelet's gRPC probe
	// speaks no TLS and has no client certificate, so it cannot reach a
	// mutual-TLS Addr. Service "" is SERVING while the server runs
	// (liveness); service "readiness" runs the readiness checks of
	// /healthz (ReadinessService). It tells a caller nothing but those
	// statuses. Empty: no such listener.
	HealthAddr string
	// Reflection registers the gRPC reflection service, so grpcurl can list
	// and call methods without the .proto files.
	Reflection bool
	// DefaultDeadline is given to unary calls that arrive without a deadline,
	// so a client that forgot one cannot hold database work open forever.
	// Zero leaves such calls without a deadline.
	DefaultDeadline time.Duration
	// MaxDeadline caps the deadline of unary calls: one arriving with a
	// longer deadline (or, with DefaultDeadline zero, none) runs under
	// MaxDeadline instead, and ends DeadlineExceeded when that passes. Zero
	// leaves client deadlines as they come. Streams are not capped: a watch
	// is meant to stay open.
	MaxDeadline time.Duration
	// MaxConcurrentStreams bounds the calls, unary or streaming, open at
	// once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a
	// gRPC client past it waits for one to end. Zero: no bound.
	MaxConcurrentStreams uint32

	// KeepaliveMinTime is the shortest interval between a client's pings
	// the server tolerates: a client pinging more often is sent GOAWAY
	// (ENHANCE_YOUR_CALM, "too_many_pings") and its connection closed.
	// Zero: gRPC's 5 minutes.
	KeepaliveMinTime time.Duration
	// KeepalivePermitWithoutStream lets clients ping (no more often than
	// KeepaliveMinTime) while they have no call open; without it such a
	// ping counts against them.
	KeepalivePermitWithoutStream bool
	// KeepaliveTime is how long a connection may be idle before the server
	// pings it, and KeepaliveTimeout how long it then waits for the answer
	// before closing the connection: a client that vanished without closing
	// (its streams, goroutines and subscriptions with it) is found within
	// their sum. Zero: gRPC's 2 hours and 20 seconds.
	KeepaliveTime, KeepaliveTimeout time.Duration
	// MaxConnectionAge is how long a connection may live (±10% jitter)
	// before the server sends GOAWAY, so clients reconnect and spread over
	// the replicas behind a load balancer; calls open then get
	// MaxConnectionAgeGrace to finish before the connection is closed. A
	// stream still open after the grace (a watch) ends Unavailable and its
	// client must reopen it; gRPC clients connect again by themselves.
	// Zero: connections live for ever.
	MaxConnectionAge, MaxConnectionAgeGrace time.Duration
	// ShutdownTimeout is how long in-flight calls get to finish once Run's
	// context is done, before they are cancelled; zero means 10s.
	ShutdownTimeout time.Duration
	// Profiling serves Go's runtime profiles (net/http/pprof) under
	// /debug/pprof/ on the admin listener.
	Profiling bool
	// TLS, if not nil, serves gRPC over TLS with this configuration (see
	// pkg/tlsconfig; with ClientAuth set, mutual TLS); nil serves plain
	// text, which config.Common.ServerTLS allows only on loopback. The
	// admin listener stays plain HTTP: it is internal (docs/security.md).
	TLS *tls.Config
}

// Options adds interceptors to the chain. They run innermost, after
// metrics, logging, recovery and the deadlines, so an auth failure is
// still counted and logged and a panic in them is still recovered.
type Options struct {
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
}

// Server is a gRPC server with health, metrics and an admin listener. Build it
// with New, register services on GRPC, then call Run once.
type Server struct {
	cfg      Config
	log      *slog.Logger
	grpc     *grpc.Server
	health   *health.Server
	metrics  *grpcprom.ServerMetrics
	registry *prometheus.Registry
	lis      net.Listener
	adminLis net.Listener
	admin    *http.Server
	// probe serves only grpc.health.v1, in plain text, on probeLis.
	probe    *grpc.Server
	probeLis net.Listener

	mu     sync.Mutex
	checks map[string]func(context.Context) error
	// warnings are stated by /healthz below its answer.
	warnings []string

	stopping atomic.Bool
	ran      atomic.Bool
	// draining is cancelled when shutdown begins; streams end with it.
	draining context.Context
	drain    context.CancelFunc
}

// New builds the server and opens its listeners, so Addr and AdminAddr are
// known before Run (tests listen on port 0). A nil log means slog.Default.
// The listeners are closed by Run; a caller that never calls Run leaks them.
func New(cfg Config, log *slog.Logger, opts Options) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new grpc server: %w", err)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = defaultShutdownTimeout
	}
	if log == nil {
		log = slog.Default()
	}

	s := &Server{
		cfg:      cfg,
		log:      log,
		health:   health.NewServer(),
		metrics:  grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram()),
		registry: prometheus.NewRegistry(),
		checks:   make(map[string]func(context.Context) error),
	}
	s.draining, s.drain = context.WithCancel(context.Background())
	if err := s.registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("new grpc server: register go collector: %w", err)
	}
	if err := s.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("new grpc server: register process collector: %w", err)
	}
	if err := s.registry.Register(s.metrics); err != nil {
		return nil, fmt.Errorf("new grpc server: register grpc metrics: %w", err)
	}

	unary, stream := s.interceptors(opts)
	s.grpc = grpc.NewServer(append(cfg.serverOptions(), grpc.StatsHandler(traceHandler()),
		grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))...)
	// Not serving until Run starts accepting calls.
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	if cfg.Reflection {
		reflection.Register(s.grpc)
	}

	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("new grpc server: listen on %s: %w", cfg.Addr, err)
	}
	s.lis = lis
	if cfg.AdminAddr != "" {
		adminLis, err := net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			_ = lis.Close()
			return nil, fmt.Errorf("new grpc server: listen for admin on %s: %w", cfg.AdminAddr, err)
		}
		s.adminLis = adminLis
		s.admin = &http.Server{
			Handler:           s.adminHandler(),
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	if cfg.HealthAddr != "" {
		probeLis, err := net.Listen("tcp", cfg.HealthAddr)
		if err != nil {
			_ = lis.Close()
			if s.adminLis != nil {
				_ = s.adminLis.Close()
			}
			return nil, fmt.Errorf("new grpc server: listen for health probes on %s: %w", cfg.HealthAddr, err)
		}
		s.probeLis = probeLis
		s.probe = grpc.NewServer(grpc.MaxConcurrentStreams(8))
		healthpb.RegisterHealthServer(s.probe, probeHealth{s: s})
	}
	return s, nil
}

// ReadinessService is the grpc.health.v1 service name that, on HealthAddr,
// answers SERVING only when every readiness check passes (as /healthz).
const ReadinessService = "readiness"

// probeHealth is the health service of the probe listener: the server's
// own statuses, and ReadinessService computed from the readiness checks on
// each call, so a readiness probe sees PostgreSQL or NATS go away.
type probeHealth struct {
	healthpb.UnimplementedHealthServer
	s *Server
}

func (p probeHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.GetService() != ReadinessService {
		return p.s.health.Check(ctx, req)
	}
	if p.s.stopping.Load() || len(p.s.runChecks(ctx)) > 0 {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// HealthAddr returns the probe listener's address, or nil when it is disabled.
func (s *Server) HealthAddr() net.Addr {
	if s.probeLis == nil {
		return nil
	}
	return s.probeLis.Addr()
}

func (c Config) validate() error {
	if c.Addr == "" {
		return errors.New("Addr: required")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"DefaultDeadline", c.DefaultDeadline}, {"MaxDeadline", c.MaxDeadline}, {"ShutdownTimeout", c.ShutdownTimeout},
		{"KeepaliveMinTime", c.KeepaliveMinTime}, {"KeepaliveTime", c.KeepaliveTime}, {"KeepaliveTimeout", c.KeepaliveTimeout},
		{"MaxConnectionAge", c.MaxConnectionAge}, {"MaxConnectionAgeGrace", c.MaxConnectionAgeGrace},
	} {
		if d.d < 0 {
			return fmt.Errorf("%s: must not be negative, got %s", d.name, d.d)
		}
	}
	if c.MaxDeadline > 0 && c.DefaultDeadline > c.MaxDeadline {
		return fmt.Errorf("DefaultDeadline: must not exceed MaxDeadline (%s), got %s", c.MaxDeadline, c.DefaultDeadline)
	}
	return nil
}

// serverOptions are the connection limits of cfg; a zero field leaves
// gRPC's default.
func (c Config) serverOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: c.KeepaliveMinTime, PermitWithoutStream: c.KeepalivePermitWithoutStream,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: c.KeepaliveTime, Timeout: c.KeepaliveTimeout,
			MaxConnectionAge: c.MaxConnectionAge, MaxConnectionAgeGrace: c.MaxConnectionAgeGrace,
		}),
	}
	if c.MaxConcurrentStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(c.MaxConcurrentStreams))
	}
	if c.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.TLS)))
	}
	return opts
}

// traceHandler starts a server span for each call, the child of the span
// whose W3C traceparent the call's metadata carries, with the global
// tracer provider (pkg/tracing.Setup; a no-op one unless spans are
// exported). Health checks are left out: a probe every few seconds is
// noise in every trace store.
func traceHandler() stats.Handler {
	return otelgrpc.NewServerHandler(
		otelgrpc.WithPropagators(propagation.TraceContext{}),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
			return !strings.HasPrefix(info.FullMethodName, "/"+healthpb.Health_ServiceDesc.ServiceName+"/")
		}))
}

// GRPC returns the underlying server, to register services on before Run.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Registry returns the server's own Prometheus registry, served on /metrics.
// Services register their metrics here rather than on the global registry,
// so tests can build many servers in one process.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Addr returns the gRPC listener's address.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// AdminAddr returns the admin listener's address, or nil when it is disabled.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLis == nil {
		return nil
	}
	return s.adminLis.Addr()
}

// SetServingStatus sets the grpc.health.v1 status of one service, for a
// service that wants to report a dependency outage to gRPC health clients.
// Updates after shutdown has begun are ignored, so nothing can report
// SERVING again once the server is draining.
func (s *Server) SetServingStatus(service string, serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus(service, st)
}

// Warn adds a warning that /healthz states below its answer for as long as
// the server runs, such as that the development key is in use.
func (s *Server) Warn(warning string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warnings = append(s.warnings, warning)
}

// AddReadinessCheck adds a check that /healthz runs on every probe, such as
// a database ping. Checks get a context that expires after about two seconds;
// a check that has not returned by then counts as failed. Adding a check under
// an existing name replaces it.
func (s *Server) AddReadinessCheck(name string, check func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = check
}

// Run serves gRPC and the admin listener until ctx is done, then shuts down:
// health goes NOT_SERVING and /healthz answers 503 first, so the platform
// stops routing new calls, streams are told to end (their context is
// cancelled; they end Unavailable), in-flight unary calls get
// ShutdownTimeout to finish before they are cancelled, then the admin
// listener closes.
//
// Run returns nil after a clean shutdown, the serve error when a listener
// fails, or an error saying calls were cut off when ShutdownTimeout ran out.
// It may be called only once.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("run grpc server: Run called twice")
	}
	// Metrics exist at zero for every method from the start, so rate() and
	// alerts work before a method's first call.
	s.metrics.InitializeMetrics(s.grpc)

	errc := make(chan error, 3)
	go func() {
		// Serve returns nil only after GracefulStop or Stop.
		if err := s.grpc.Serve(s.lis); err != nil {
			errc <- fmt.Errorf("serve grpc: %w", err)
		}
	}()
	if s.admin != nil {
		go func() {
			if err := s.admin.Serve(s.adminLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve admin http: %w", err)
			}
		}()
	}
	if s.probe != nil {
		go func() {
			if err := s.probe.Serve(s.probeLis); err != nil {
				errc <- fmt.Errorf("serve health probes: %w", err)
			}
		}()
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.InfoContext(ctx, "grpc server started", "addr", s.Addr().String(), "admin_addr", addrString(s.AdminAddr()),
		"health_addr", addrString(s.HealthAddr()),
		"tls", s.cfg.TLS != nil, "client_certificates", s.cfg.TLS != nil && s.cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		s.log.ErrorContext(ctx, "grpc server failed; shutting down", "error", serveErr)
	}
	return errors.Join(serveErr, s.shutdown())
}

func (s *Server) shutdown() error {
	s.stopping.Store(true)
	// Shutdown marks every service NOT_SERVING and ignores later updates.
	s.health.Shutdown()
	s.log.Info("grpc server shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	s.drain()

	var errs []error
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		// A call that ignores cancellation (a long stream, a stuck query)
		// must not keep the process alive past the platform's kill timeout.
		s.grpc.Stop()
		<-stopped
		errs = append(errs, fmt.Errorf("stop grpc: in-flight calls cancelled after %s", s.cfg.ShutdownTimeout))
	}

	if s.probe != nil {
		// Probes are short; the platform has seen NOT_SERVING by now.
		s.probe.Stop()
	}
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
		defer cancel()
		if err := s.admin.Shutdown(ctx); err != nil {
			_ = s.admin.Close()
			errs = append(errs, fmt.Errorf("stop admin http: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.log.Info("grpc server stopped")
	return nil
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	mux.HandleFunc("GET /healthz", s.healthz)
	if s.cfg.Profiling {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// healthz answers the platform's readiness probe: 200 "ok" when every
// readiness check passes, 503 naming the failed checks otherwise, and 503 as
// soon as shutdown begins so traffic drains before the listener closes.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.stopping.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "shutting down\n")
		return
	}
	if failed := s.runChecks(r.Context()); len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		// Names only: the errors go to the log, not to whoever can reach the
		// admin port.
		_, _ = io.WriteString(w, "not ready: "+strings.Join(failed, ", ")+"\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, warning := range s.warnings {
		_, _ = io.WriteString(w, "warning: "+warning+"\n")
	}
}

// runChecks runs every readiness check concurrently under one timeout and
// returns the sorted names of those that failed or did not answer in time.
func (s *Server) runChecks(ctx context.Context) []string {
	s.mu.Lock()
	checks := maps.Clone(s.checks)
	s.mu.Unlock()
	if len(checks) == 0 {
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	// Buffered so a check that answers after the timeout does not block
	// forever on a channel nobody reads.
	results := make(chan result, len(checks))
	for name, check := range checks {
		go func() { results <- result{name: name, err: check(ctx)} }()
	}

	var failed []string
wait:
	for len(checks) > 0 {
		select {
		case r := <-results:
			delete(checks, r.name)
			if r.err != nil {
				s.log.WarnContext(ctx, "readiness check failed", "check", r.name, "error", r.err)
				failed = append(failed, r.name)
			}
		case <-ctx.Done():
			for name := range checks {
				s.log.WarnContext(ctx, "readiness check did not answer in time", "check", name, "timeout", readinessTimeout.String())
				failed = append(failed, name)
			}
			break wait
		}
	}
	slices.Sort(failed)
	return failed
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
