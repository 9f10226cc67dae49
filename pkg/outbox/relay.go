package outbox

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
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/probation-recruitment/pipeline/pkg/tracing"
)

// Relay publishes committed outbox rows to JetStream, oldest first, and
// marks them published.
//
// Failure modes, and what prevents each:
//   - Crash after publishing and before marking: the rows stay unpublished
//     and are published again. JetStream drops the repeat within the
//     stream's duplicate window (Nats-Msg-Id = event id); past it, every
//     consumer's inbox skips an event id it has processed.
//   - Sequence gaps: identity values are taken at insert but become visible
//     at commit, so a transaction that started first can commit after a
//     later one. A relay that remembered "published up to id N" would skip
//     it forever. This relay never keeps a cursor: each batch reads the
//     rows still unpublished, whatever their id.
//   - Order: per record, events are in commit order, because a service
//     changes the record (taking its row lock) before appending the event,
//     so the next change's event gets a later id. Across records, a late
//     commit is published after later ids; consumers order per record by
//     aggregate_version, never across records.
//   - Several replicas: each batch runs under a transaction-scoped advisory
//     lock, so one relay publishes at a time, and the lock passes to another
//     replica as soon as its holder dies or its connection drops. The batch
//     locks its rows too (FOR UPDATE), so that a relay taking the lock just
//     after another committed does not read, in a snapshot older than that
//     commit, the rows just published as still to publish.
//   - NATS down: the batch rolls back; rows wait in PostgreSQL and the relay
//     retries with backoff.
//
// Tracing: each row is published under a span of its own ("publish
// <subject>", a child of the span that appended it, whose traceparent the
// row keeps), and the message carries that span's traceparent in its
// headers for the consumers to continue the trace. A row without one
// (written untraced) is published without, unless this process traces.
type Relay struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	cfg     RelayConfig
	log     *slog.Logger
	metrics *relayMetrics
	tracer  trace.Tracer

	// afterPublish, when set by a test, runs after a batch is acknowledged
	// by JetStream and before it is marked; an error abandons the batch, as
	// a crash there would.
	afterPublish func() error
}

// RelayConfig configures a Relay. Zero fields take their defaults.
type RelayConfig struct {
	// Stream the events must land in (WithExpectStream); default "RECRUITMENT".
	Stream string
	// SubjectPrefix prepended to each row's subject; default "recruitment".
	SubjectPrefix string
	// BatchSize rows published per transaction; default 500.
	BatchSize int
	// PollInterval between looks when no notification arrives; default 1s.
	// Notifications make publishing prompt; polling covers a lost listen
	// connection.
	PollInterval time.Duration
	// PublishTimeout for a batch's acknowledgements; default 10s.
	PublishTimeout time.Duration
	// Retention of published rows before they are deleted; default 7 days.
	Retention time.Duration
	// BacklogInterval between measures of the backlog (the unpublished
	// rows and the age of the oldest); default 15s.
	BacklogInterval time.Duration
	// Registerer for the relay's metrics; nil registers none.
	Registerer prometheus.Registerer
	// TracerProvider makes the publish spans; nil: the global one
	// (pkg/tracing.Setup).
	TracerProvider trace.TracerProvider
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.Stream == "" {
		c.Stream = "RECRUITMENT"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "recruitment"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 10 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.BacklogInterval <= 0 {
		c.BacklogInterval = 15 * time.Second
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	return c
}

type relayMetrics struct {
	published   prometheus.Counter
	failures    prometheus.Counter
	pending     prometheus.Gauge
	unpublished *prometheus.GaugeVec
	oldestAge   *prometheus.GaugeVec
}

// NewRelay returns a relay for the outbox in pool's schema.
func NewRelay(pool *pgxpool.Pool, js jetstream.JetStream, cfg RelayConfig, log *slog.Logger) *Relay {
	cfg = cfg.withDefaults()
	m := &relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_published_total", Help: "Events published from the outbox to JetStream.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_publish_failures_total", Help: "Outbox batches that failed and will be retried.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_last_batch_size", Help: "Rows in the relay's most recent batch.",
		}),
		unpublished: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outbox_unpublished_events", Help: "Outbox rows of the service's schema not yet published to JetStream (measured every BacklogInterval).",
		}, []string{"schema"}),
		oldestAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outbox_oldest_unpublished_age_seconds", Help: "Age of the oldest outbox row of the service's schema not yet published; 0 when none waits.",
		}, []string{"schema"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(m.published, m.failures, m.pending, m.unpublished, m.oldestAge)
	}
	return &Relay{pool: pool, js: js, cfg: cfg, log: log.With("component", "outbox-relay"), metrics: m,
		tracer: cfg.TracerProvider.Tracer("github.com/probation-recruitment/pipeline/pkg/outbox")}
}

// Run publishes until ctx is done, then returns nil. Errors are logged and
// retried; Run returns an error only if it cannot learn its schema.
func (r *Relay) Run(ctx context.Context) error {
	var schema string
	if err := r.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("outbox relay: current schema: %w", err)
	}
	wake := make(chan struct{}, 1)
	go r.listen(ctx, schema+"_outbox", wake)
	go r.prune(ctx)
	go r.watchBacklog(ctx)

	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	backoff := 100 * time.Millisecond
	for {
		n, err := r.PublishBatch(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.metrics.failures.Inc()
			r.log.Warn("outbox batch failed; will retry", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		case n == r.cfg.BatchSize:
			backoff = 100 * time.Millisecond
			continue // more may be waiting
		}
		backoff = 100 * time.Millisecond
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
	}
}

// PublishBatch publishes one batch of unpublished rows and marks those
// JetStream acknowledged. It returns how many rows it marked; 0 when there
// was nothing to do or another relay holds the lock.
func (r *Relay) PublishBatch(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op

	// The lock and the read in one statement (one round trip): the rows
	// are read only once the lock is held, and none come back without it.
	// FOR UPDATE because the statement's snapshot is older than the lock:
	// taken when the statement started, it can predate the commit of the
	// relay that held the lock until a moment ago, and show the rows that
	// relay has just published and marked as unpublished still. Locking a
	// row re-reads its latest version and drops it if it no longer
	// matches; without that, the rows would be published and marked a
	// second time (the fault suite's scale-out case found it).
	rows, err := tx.Query(ctx,
		`SELECT o.id, o.event_id::text, o.subject, o.payload, coalesce(o.traceparent, '')
		 FROM (SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || '.outbox', 0)) AS locked) l
		 JOIN LATERAL (SELECT id, event_id, subject, payload, traceparent FROM outbox
		               WHERE l.locked AND published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE) o ON true`, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	type row struct {
		id          int64
		eventID     string
		subject     string
		payload     []byte
		traceparent string
	}
	batch, err := pgx.CollectRows(rows, func(rs pgx.CollectableRow) (row, error) {
		var r row
		err := rs.Scan(&r.id, &r.eventID, &r.subject, &r.payload, &r.traceparent)
		return r, err
	})
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	r.metrics.pending.Set(float64(len(batch)))
	if len(batch) == 0 {
		return 0, tx.Commit(ctx)
	}

	futures := make([]jetstream.PubAckFuture, 0, len(batch))
	spans := make([]trace.Span, 0, len(batch))
	// Every span ends, whatever became of its message; ended spans
	// ignore the second End.
	defer func() {
		for _, s := range spans {
			s.End()
		}
	}()
	var publishErr error
	for _, b := range batch {
		msg := &nats.Msg{Subject: r.cfg.SubjectPrefix + "." + b.subject, Data: b.payload}
		span := r.publishSpan(ctx, msg.Subject, b.eventID, b.traceparent)
		spans = append(spans, span)
		if tp := tracing.TraceParent(trace.ContextWithSpan(ctx, span)); tp != "" {
			msg.Header = nats.Header{tracing.HeaderTraceParent: []string{tp}}
		}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(b.eventID), jetstream.WithExpectStream(r.cfg.Stream))
		if err != nil {
			publishErr = fmt.Errorf("publish %s: %w", b.eventID, err)
			span.SetStatus(codes.Error, publishErr.Error())
			break
		}
		futures = append(futures, f)
	}

	// Mark only the acknowledged prefix: rows after a failure are published
	// again, in order, by the next batch (duplicates of any that did land
	// are dropped by Msg-Id).
	waitCtx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	acked := make([]int64, 0, len(futures))
	for i, f := range futures {
		select {
		case <-f.Ok():
			acked = append(acked, batch[i].id)
			spans[i].End()
			continue
		case err := <-f.Err():
			publishErr = errors.Join(publishErr, fmt.Errorf("publish %s: %w", batch[i].eventID, err))
		case <-waitCtx.Done():
			publishErr = errors.Join(publishErr, fmt.Errorf("publish %s: no acknowledgement: %w", batch[i].eventID, waitCtx.Err()))
		}
		spans[i].SetStatus(codes.Error, "not acknowledged by JetStream; published again by a later batch")
		break
	}
	if len(acked) == 0 {
		return 0, publishErr
	}
	if r.afterPublish != nil {
		if err := r.afterPublish(); err != nil {
			return 0, err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, acked); err != nil {
		return 0, fmt.Errorf("mark published: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("mark published: commit: %w", err)
	}
	r.metrics.published.Add(float64(len(acked)))
	return len(acked), publishErr
}

// publishSpan starts the span of publishing one outbox row to subject: a
// child of the span that appended it (traceparent, if any).
func (r *Relay) publishSpan(ctx context.Context, subject, eventID, traceparent string) trace.Span {
	_, span := r.tracer.Start(tracing.WithTraceParent(ctx, traceparent), "publish "+subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", subject),
			attribute.String("messaging.message.id", eventID)))
	return span
}

// listen turns NOTIFYs on channel into wake-ups, reconnecting on failure.
func (r *Relay) listen(ctx context.Context, channel string, wake chan<- struct{}) {
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, channel, wake)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("outbox listen connection lost; polling until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context, channel string, wake chan<- struct{}) error {
	pooled, err := r.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection that has LISTENed must not go back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// watchBacklog measures the backlog every BacklogInterval. Every replica
// measures, not only the one holding the lock: the gauges say the same in
// each, and a replica whose relay is stuck still reports.
func (r *Relay) watchBacklog(ctx context.Context) {
	t := time.NewTicker(r.cfg.BacklogInterval)
	defer t.Stop()
	for {
		if err := r.MeasureBacklog(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("measure outbox backlog", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// MeasureBacklog sets the backlog gauges (outbox_unpublished_events and
// outbox_oldest_unpublished_age_seconds, labelled with the schema, as the
// database's own view is) from the outbox as it stands. It
// reads only the unpublished rows, through their partial index: next to
// nothing while the relay keeps up.
func (r *Relay) MeasureBacklog(ctx context.Context) error {
	var schema string
	var n int64
	var age float64
	err := r.pool.QueryRow(ctx,
		`SELECT current_schema(), count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
		 FROM outbox WHERE published_at IS NULL`).Scan(&schema, &n, &age)
	if err != nil {
		return fmt.Errorf("measure backlog: %w", err)
	}
	r.metrics.unpublished.WithLabelValues(schema).Set(float64(n))
	r.metrics.oldestAge.WithLabelValues(schema).Set(max(age, 0))
	return nil
}

// prune deletes published rows past the retention period, hourly.
func (r *Relay) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		tag, err := r.pool.Exec(ctx,
			`DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)`, r.cfg.Retention.Seconds())
		if err != nil && ctx.Err() == nil {
			r.log.Warn("prune outbox", "err", err)
		} else if tag.RowsAffected() > 0 {
			r.log.Info("pruned published outbox rows", "rows", tag.RowsAffected())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
