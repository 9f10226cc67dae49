// Package service wires what every service runs: its PostgreSQL schema
// and migrations, the NATS connection and stream, the gRPC server with
// authentication, the outbox relay and its event consumers, and runs them
// together until shutdown.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/tracing"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Runtime is a started service's connections and server.
type Runtime struct {
	Name   string
	Config config.Common
	Log    *slog.Logger
	Pool   *pgxpool.Pool
	NATS   *nats.Conn
	JS     jetstream.JetStream
	Server *grpcserver.Server
	// Audit records the calls that read or change personal data; declare
	// each served service's policy on it (audit.Register for a service
	// holding personal data, Audit.Declare otherwise) before Run.
	Audit *audit.Recorder

	runners []func(context.Context) error
	// stopTracing flushes the spans not yet exported.
	stopTracing func(context.Context) error
	// streamUp is closed once the stream is ensured: the relay and the
	// consumers wait for it.
	streamUp chan struct{}
}

// Start sets up tracing (pkg/tracing: exported over OTLP when the OTEL_*
// variables name an endpoint), connects to PostgreSQL (the schema
// cfg.DBSchema, migrated with the shared outbox, inbox and request-log
// tables and then migrations) and to NATS (creating or updating the
// stream), and builds the gRPC server with
// cfg's limits, bearer-token authentication (streams capped per caller and
// ended when their token expires), the outbox relay, and the hourly prune
// of request log rows older than cfg.RequestLogRetention. Register gRPC
// services on r.Server.GRPC() and consumers with Consume, then call Run.
func Start(ctx context.Context, name string, cfg config.Common, migrations ...pg.Migrations) (_ *Runtime, err error) {
	log := cfg.Logger(name)
	// Packages without a logger of their own log the same way.
	slog.SetDefault(log)
	log.Info("starting", "config", cfg)
	if err := cfg.CheckProfiling(); err != nil {
		return nil, err
	}
	authCfg, devKey, err := cfg.Auth()
	if err != nil {
		return nil, err
	}
	srvCfg := cfg.Server()
	if srvCfg.TLS, err = cfg.ServerTLS(); err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(authCfg)
	if err != nil {
		return nil, err
	}
	r := &Runtime{Name: name, Config: cfg, Log: log}
	// Close what was opened if a later step fails.
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	// Before the server and the relay: they take the global tracer
	// provider (tracing.Setup).
	if r.stopTracing, err = tracing.Setup(ctx, name, log); err != nil {
		return nil, err
	}

	if r.Pool, err = pg.Connect(ctx, cfg.DatabaseURL, cfg.DBSchema); err != nil {
		return nil, err
	}
	if err := pg.Migrate(ctx, r.Pool, Migrations(migrations...)...); err != nil {
		return nil, err
	}
	natsCreds, err := cfg.NATSCredentials(name)
	if err != nil {
		return nil, err
	}
	// Without NATS the service still serves from PostgreSQL (its events
	// wait in the outbox); its relay and consumers start once NATS is up.
	if r.NATS, r.JS, err = stream.ConnectOrRetry(cfg.NATSURL, name, natsCreds, log); err != nil {
		return nil, err
	}
	r.streamUp = make(chan struct{})
	ensure := r.ensureStream(cfg.Stream())
	if r.NATS.IsConnected() {
		// Connected: a stream that cannot be had is a misconfiguration,
		// and fails the start.
		if err := ensure(ctx); err != nil {
			return nil, err
		}
	}
	perCaller := grpcauth.MaxStreamsPerSubject(cfg.MaxStreamsPerSubject)
	r.Audit = audit.New(r.Pool, log)
	// The audit interceptors run after authentication: they record who.
	if r.Server, err = grpcserver.New(srvCfg, log, grpcserver.Options{
		Unary: []grpc.UnaryServerInterceptor{
			grpcauth.UnaryServerInterceptor(verifier, grpcauth.DefaultSkip), r.Audit.UnaryServerInterceptor()},
		Stream: []grpc.StreamServerInterceptor{
			grpcauth.StreamServerInterceptor(verifier, grpcauth.DefaultSkip, perCaller), r.Audit.StreamServerInterceptor()},
	}); err != nil {
		return nil, err
	}
	r.Server.Registry().MustRegister(r.Audit)
	devKeyInUse := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "auth_dev_key", Help: "1 while the service accepts tokens signed with the public development key.",
	})
	r.Server.Registry().MustRegister(devKeyInUse)
	if devKey {
		devKeyInUse.Set(1)
		log.Warn("AUTH_ALLOW_DEV_KEY=true: accepting tokens signed with the public development key; never use this with real data")
		r.Server.Warn("the public development key is in use (AUTH_ALLOW_DEV_KEY): not fit for real data")
	}
	if srvCfg.TLS == nil {
		log.Warn("GRPC_INSECURE=true: serving gRPC in plain text on loopback; bearer tokens cross it unencrypted")
		r.Server.Warn("gRPC is served in plain text (GRPC_INSECURE): loopback only, not fit for a network")
	}
	r.Server.AddReadinessCheck("postgres", r.Pool.Ping)
	r.Server.AddReadinessCheck("nats", stream.Ready(r.NATS))
	r.Server.AddReadinessCheck("stream", r.streamReady)

	pruner, err := idempotency.NewPruner(r.Pool, cfg.RequestLogRetention, time.Hour, log)
	if err != nil {
		return nil, fmt.Errorf("REQUEST_LOG_RETENTION: %w", err)
	}
	relay := outbox.NewRelay(r.Pool, r.JS, outbox.RelayConfig{
		Stream: cfg.NATSStream, SubjectPrefix: cfg.NATSSubjectPrefix, Registerer: r.Server.Registry(),
	}, log)
	r.runners = append(r.runners, r.Server.Run, r.afterStream(relay.Run), pruner.Run, r.Audit.Pruner(cfg.AuditRetention, 0))
	if !r.NATS.IsConnected() {
		r.runners = append(r.runners, r.awaitStream(ensure))
	}
	return r, nil
}

// ensureStream returns what makes sure the stream exists as configured,
// once; it marks the stream up.
func (r *Runtime) ensureStream(c stream.Config) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := stream.Ensure(ctx, r.JS, c); err != nil {
			return err
		}
		close(r.streamUp)
		r.Log.Info("stream ready", "stream", c.Name)
		return nil
	}
}

// awaitStream runs ensure once NATS is connected, trying again while the
// connection is not up; a refusal from a connected server stops the
// service, as it would have at the start.
func (r *Runtime) awaitStream(ensure func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for {
			if r.NATS.IsConnected() {
				err := ensure(ctx)
				if err == nil || (r.NATS.IsConnected() && ctx.Err() == nil) {
					return err
				}
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// afterStream runs run once the stream is up.
func (r *Runtime) afterStream(run func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return nil
		case <-r.streamUp:
		}
		return run(ctx)
	}
}

// streamReady is the readiness check of the stream: not ready until the
// relay and consumers can start.
func (r *Runtime) streamReady(context.Context) error {
	select {
	case <-r.streamUp:
		return nil
	default:
		return errors.New("waiting for NATS to ensure the stream; the relay and consumers have not started")
	}
}

// Migrations is what a service's schema needs: the runtime's tables
// (outbox, inbox, request log, audit trail), then the service's own sets.
func Migrations(own ...pg.Migrations) []pg.Migrations {
	return append([]pg.Migrations{outbox.Migrations, consumer.Migrations, idempotency.Migrations, audit.Migrations}, own...)
}

// Consume adds the service's durable consumer of the events whose subject
// matches filter (after the prefix, e.g. "*.application.>"; "" for all)
// and, if names are given, whose event name is one of them. handle runs
// inside the consumer's transaction, which ctx carries (pg.WithTx), so the
// handler's writes and outbox events commit with the inbox row.
//
// Events that have arrived together are applied together, in order, in
// one transaction (consumer.NewBatch): an import's burst of events costs a
// commit per batch, not per event, and a quiet system still applies each
// event as it comes. A batch that fails — one event's handler, or a
// deadlock with another replica's batch locking the same records in
// another order — is rolled back and applied again one event per
// transaction, so each event's outcome is what it would be alone.
func (r *Runtime) Consume(filter string, names []string, handle func(ctx context.Context, ev *eventsv1.Event) error) error {
	subject := r.Config.NATSSubjectPrefix + ".>"
	if filter != "" {
		subject = r.Config.NATSSubjectPrefix + "." + filter
	}
	c, err := consumer.NewBatch(r.Pool, r.JS, consumer.Config{
		Stream: r.Config.NATSStream, Durable: r.Name, FilterSubject: subject, SubjectPrefix: r.Config.NATSSubjectPrefix,
		Registerer: r.Server.Registry(), Wants: consumer.Named(names),
	}, func(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
		ctx = pg.WithTx(ctx, tx)
		for _, ev := range evs {
			if err := handle(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	}, r.Log)
	if err != nil {
		return err
	}
	r.runners = append(r.runners, r.afterStream(c.Run))
	return nil
}

// ConsumeBatches adds the service's durable consumer of every event,
// applied in batches (see consumer.NewBatch). onCommit, if not nil, is
// called after each batch that applied an event commits, before the ack
// (consumer.Config.OnCommit).
func (r *Runtime) ConsumeBatches(batch int, handle consumer.BatchHandler, onCommit func()) error {
	cfg := r.consumerConfig(batch)
	cfg.OnCommit = onCommit
	c, err := consumer.NewBatch(r.Pool, r.JS, cfg, handle, r.Log)
	if err != nil {
		return err
	}
	r.runners = append(r.runners, r.afterStream(c.Run))
	return nil
}

// ConsumerConfig is the configuration of the service's durable consumer of
// every event.
func (r *Runtime) consumerConfig(batch int) consumer.Config {
	return consumer.Config{Stream: r.Config.NATSStream, Durable: r.Name, FilterSubject: r.Config.NATSSubjectPrefix + ".>",
		SubjectPrefix: r.Config.NATSSubjectPrefix, Batch: batch, Registerer: r.Server.Registry()}
}

// Go adds a part that runs with the service and stops with it.
func (r *Runtime) Go(run func(context.Context) error) {
	r.runners = append(r.runners, run)
}

// Run serves until ctx is done (SIGTERM), or until a part fails, then stops
// everything and closes the connections. A clean shutdown returns nil. It
// refuses to serve a method that no audit policy declares (audit.Check).
func (r *Runtime) Run(ctx context.Context) error {
	defer r.close()
	// A method nobody has said touches personal data or not is not served.
	if err := r.Audit.Check(r.Server.GRPC().GetServiceInfo()); err != nil {
		return fmt.Errorf("%s: %w", r.Name, err)
	}
	r.Log.Info("serving", "grpc", r.Server.Addr().String(), "admin", r.Config.AdminAddr)
	g, ctx := errgroup.WithContext(ctx)
	for _, run := range r.runners {
		g.Go(func() error { return run(ctx) })
	}
	err := g.Wait()
	r.Log.Info("stopped")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.Name, err)
	}
	return nil
}

func (r *Runtime) close() {
	if r.NATS != nil {
		r.NATS.Close()
	}
	if r.Pool != nil {
		r.Pool.Close()
	}
	if r.stopTracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := r.stopTracing(ctx); err != nil {
			r.Log.Warn("tracing: flushing spans at shutdown", "err", err)
		}
	}
}

// tracingFlushTimeout bounds the export of the last spans at shutdown: a
// collector that is down must not hold the process.
const tracingFlushTimeout = 5 * time.Second
