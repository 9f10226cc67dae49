// Package consumer applies events from JetStream to PostgreSQL exactly once
// in effect: a durable pull consumer whose handler runs in a transaction
// together with an inbox row keyed by the event id. Delivery is at least
// once; the inbox makes a redelivery a no-op, and the message is
// acknowledged only after the transaction commits.
//
// Tracing: each message is applied under a span ("process <subject>") that
// is a child of the span whose traceparent the message carries (the
// relay's publish span), so the trace of a change goes on through every
// consumer's transaction, and through the events its handler appends to
// its own outbox. A batch is applied under a span linked to its messages'.
package consumer

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/tracing"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the inbox table in a service's schema.
var Migrations = pg.Embedded("inbox", migrations, "migrations")

// Handler applies one event inside tx. Returning an error rolls the
// transaction back and the event is retried; ErrPermanent (wrapped) ends
// retries at once.
type Handler func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error

// BatchHandler applies a batch of events inside tx. It is given only the
// events not applied before; their inbox rows are in the same transaction.
type BatchHandler func(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error

// ErrPermanent marks a handler error that no retry can fix (the event is
// malformed for this consumer). The message is terminated and logged.
var ErrPermanent = errors.New("permanent failure")

// Config configures a Consumer. Zero fields take their defaults.
type Config struct {
	// Stream to consume; default "RECRUITMENT".
	Stream string
	// Durable consumer name, shared by every replica of the service.
	Durable string
	// FilterSubject, e.g. "recruitment.*.application.>"; default "recruitment.>".
	FilterSubject string
	// SubjectPrefix, the first token of every event subject: a message
	// whose subject is not "<prefix>.<region>.<event name>" of its envelope
	// is refused (see Forged). Default: FilterSubject's first token.
	SubjectPrefix string
	// MaxTries before a failing message is terminated as poison; default 5.
	MaxTries int
	// AckWait before the server redelivers an unacknowledged message; default 30s.
	AckWait time.Duration
	// Batch is how many messages are pulled at once; default 100.
	Batch int
	// Wants, when set, picks the events the handler needs (see Named); the others are
	// acknowledged without a transaction. JetStream 2.9 filters on one
	// subject only, so a consumer of several event kinds reads them all.
	Wants func(*eventsv1.Event) bool
	// Registerer for the consumer's metrics; nil registers none.
	Registerer prometheus.Registerer
	// OnCommit, when set, is called after each transaction that applied
	// an event commits, before its messages are acknowledged: to tell
	// readers of what the handler writes that it has changed.
	OnCommit func()
	// LagInterval between reads of the durable consumer's state (messages
	// pending and awaiting acknowledgement) for the lag gauges; default 15s.
	LagInterval time.Duration
	// TracerProvider makes the consumer's spans; nil: the global one
	// (pkg/tracing.Setup).
	TracerProvider trace.TracerProvider
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Stream == "" {
		c.Stream = "RECRUITMENT"
	}
	if c.FilterSubject == "" {
		c.FilterSubject = "recruitment.>"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix, _, _ = strings.Cut(c.FilterSubject, ".")
	}
	if c.MaxTries <= 0 {
		c.MaxTries = 5
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.LagInterval <= 0 {
		c.LagInterval = 15 * time.Second
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	return c
}

// Consumer applies a stream's events with a Handler.
type Consumer struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	cfg     Config
	handle  Handler
	batch   BatchHandler
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer

	// afterCommit, when set by a test, runs after the transaction commits
	// and before the ack; an error skips the ack, as a crash there would.
	afterCommit func() error
}

type metrics struct {
	applied    prometheus.Counter
	duplicates prometheus.Counter
	retried    prometheus.Counter
	poison     prometheus.Counter
	forged     *prometheus.CounterVec
	pending    prometheus.Gauge
	ackPending prometheus.Gauge
}

// New returns a consumer; Run starts it.
func New(pool *pgxpool.Pool, js jetstream.JetStream, cfg Config, handle Handler, log *slog.Logger) (*Consumer, error) {
	cfg = cfg.WithDefaults()
	if cfg.Durable == "" {
		return nil, errors.New("consumer: Durable name is required")
	}
	labels := prometheus.Labels{"consumer": cfg.Durable}
	m := &metrics{
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_events_applied_total", Help: "Events applied by the consumer.", ConstLabels: labels,
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_events_duplicate_total", Help: "Redelivered events skipped by the inbox.", ConstLabels: labels,
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_events_retried_total", Help: "Events whose handler failed and will be retried.", ConstLabels: labels,
		}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_events_poison_total", Help: "Events terminated after failing every try.", ConstLabels: labels,
		}),
		forged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consumer_events_forged_total", ConstLabels: labels,
			Help: "Events terminated unapplied because their producer does not own their type (reason producer) or their subject is not their envelope's (reason subject).",
		}, []string{"reason"}),
	}
	m.pending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "consumer_pending_messages", ConstLabels: labels,
		Help: "Messages of the stream matching the durable consumer's filter not yet delivered to it (its lag), read every LagInterval.",
	})
	m.ackPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "consumer_ack_pending_messages", ConstLabels: labels,
		Help: "Messages delivered to the durable consumer and not yet acknowledged, read every LagInterval.",
	})
	for _, reason := range []string{ReasonProducer, ReasonSubject} {
		m.forged.WithLabelValues(reason) // shown as 0 before the first
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(m.applied, m.duplicates, m.retried, m.poison, m.forged, m.pending, m.ackPending)
	}
	return &Consumer{pool: pool, js: js, cfg: cfg, handle: handle, log: log.With("component", "consumer", "durable", cfg.Durable), metrics: m,
		tracer: cfg.TracerProvider.Tracer("github.com/probation-recruitment/pipeline/pkg/consumer")}, nil
}

// NewBatch returns a consumer that applies up to cfg.Batch events per
// transaction: far fewer commits for a projection that reads every event.
// A batch that fails is retried message by message, so one poison message
// is isolated and the rest still apply.
func NewBatch(pool *pgxpool.Pool, js jetstream.JetStream, cfg Config, handle BatchHandler, log *slog.Logger) (*Consumer, error) {
	c, err := New(pool, js, cfg, func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
		return handle(ctx, tx, []*eventsv1.Event{ev})
	}, log)
	if err != nil {
		return nil, err
	}
	c.batch = handle
	return c, nil
}

// Run creates the durable consumer (or updates its filter) and applies
// messages until ctx is done. It returns nil on cancellation.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := c.consumer(ctx)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", c.cfg.Durable, err)
	}
	go c.watchLag(ctx, cons)
	if c.batch != nil {
		return c.runBatches(ctx, cons)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(c.cfg.Batch))
	if err != nil {
		return fmt.Errorf("consumer %s: %w", c.cfg.Durable, err)
	}
	go func() {
		<-ctx.Done()
		iter.Stop()
	}()
	for {
		msg, err := iter.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			c.log.Warn("fetch", "err", err)
			continue
		}
		c.process(ctx, msg)
	}
}

// watchLag reads the durable's state every LagInterval until ctx is done.
// Every replica reads the same durable, so each reports the same lag.
func (c *Consumer) watchLag(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(c.cfg.LagInterval)
	defer t.Stop()
	for {
		if err := c.MeasureLag(ctx, cons); err != nil && ctx.Err() == nil {
			c.log.Warn("read the durable consumer's state", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// MeasureLag sets the lag gauges (consumer_pending_messages,
// consumer_ack_pending_messages) from the server's view of cons: one
// request to JetStream.
func (c *Consumer) MeasureLag(ctx context.Context, cons jetstream.Consumer) error {
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer info: %w", err)
	}
	c.metrics.pending.Set(float64(info.NumPending))
	c.metrics.ackPending.Set(float64(info.NumAckPending))
	return nil
}

// consumer returns the durable consumer, creating it (from the first
// event) if it does not exist. An existing one keeps its position and how
// it was told to start (a rebuild may have set it to start after the events
// it replayed), but takes the filter subject this code gives it: kept as it
// was, a service whose filter changed would go on reading what the old one
// matched, and miss what the new one adds.
//
// The new filter applies from the durable's position on: events behind it
// that only the new filter matches are not delivered. A consumer that needs
// them must be reset (as a rebuild does).
func (c *Consumer) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := c.js.Consumer(ctx, c.cfg.Stream, c.cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return c.js.CreateConsumer(ctx, c.cfg.Stream, c.cfg.ConsumerConfig())
	}
	if err != nil {
		return nil, err
	}
	have := cons.CachedInfo().Config
	if have.FilterSubject == c.cfg.FilterSubject && len(have.FilterSubjects) == 0 {
		return cons, nil
	}
	want := have
	// FilterSubject alone, never FilterSubjects: nats-server 2.9 knows
	// only the one.
	want.FilterSubject, want.FilterSubjects = c.cfg.FilterSubject, nil
	// A warning: events behind the position that only the new filter
	// matches will not come (see above); an operator may need a reset.
	c.log.Warn("updating the durable consumer's filter; events it already passed that only the new filter matches are not delivered",
		"from", have.FilterSubject, "from_subjects", have.FilterSubjects, "to", want.FilterSubject)
	cons, err = c.js.UpdateConsumer(ctx, c.cfg.Stream, want)
	if err != nil {
		return nil, fmt.Errorf("update the filter of durable %s: %w", c.cfg.Durable, err)
	}
	return cons, nil
}

// ConsumerConfig is the durable consumer's JetStream configuration.
func (cfg Config) ConsumerConfig() jetstream.ConsumerConfig {
	cfg = cfg.WithDefaults()
	return jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.FilterSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Poison messages are terminated by Run after MaxTries; the server's
		// limit is a backstop should Run die between deliveries.
		MaxDeliver: cfg.MaxTries + 1,
	}
}

func (c *Consumer) process(ctx context.Context, msg jetstream.Msg) {
	ctx, span := c.processSpan(ctx, msg)
	defer span.End()
	meta, err := msg.Metadata()
	if err != nil {
		c.log.Error("message without JetStream metadata; terminating", "subject", msg.Subject(), "err", err)
		span.SetStatus(codes.Error, "no JetStream metadata; terminated")
		_ = msg.Term()
		return
	}
	ev, err := event.Unmarshal(msg.Data())
	if err != nil {
		span.SetStatus(codes.Error, "undecodable; terminated as poison")
		c.poison(msg, meta, err)
		return
	}
	span.SetAttributes(attribute.String("messaging.message.id", ev.GetEventId()))
	if c.refuse(msg, meta, ev) {
		span.SetStatus(codes.Error, "forged; terminated")
		return
	}
	if c.cfg.Wants != nil && !c.cfg.Wants(ev) {
		_ = msg.Ack()
		return
	}
	applied, err := c.Apply(ctx, ev)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down; redelivered to whoever runs next
		}
		span.SetStatus(codes.Error, err.Error())
		if errors.Is(err, ErrPermanent) || int(meta.NumDelivered) >= c.cfg.MaxTries {
			c.poison(msg, meta, err)
			return
		}
		c.metrics.retried.Inc()
		delay := time.Duration(meta.NumDelivered) * time.Second
		c.log.Warn("handler failed; will retry", "event_id", ev.GetEventId(), "subject", msg.Subject(),
			"try", meta.NumDelivered, "retry_in", delay, "err", err)
		_ = msg.NakWithDelay(delay)
		return
	}
	if applied {
		c.metrics.applied.Inc()
		c.committed()
	} else {
		c.metrics.duplicates.Inc()
	}
	if c.afterCommit != nil {
		if err := c.afterCommit(); err != nil {
			return
		}
	}
	// A lost ack means a redelivery, which the inbox turns into a no-op.
	if err := msg.Ack(); err != nil {
		c.log.Warn("ack", "event_id", ev.GetEventId(), "err", err)
	}
}

// processSpan starts the span of applying msg: a child of the span whose
// traceparent msg carries, if it carries one.
func (c *Consumer) processSpan(ctx context.Context, msg jetstream.Msg, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := tracing.WithTraceParent(ctx, msg.Headers().Get(tracing.HeaderTraceParent))
	return c.tracer.Start(parent, "process "+msg.Subject(), append(opts,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", c.cfg.Durable)))...)
}

// committed calls the OnCommit hook, if any.
func (c *Consumer) committed() {
	if c.cfg.OnCommit != nil {
		c.cfg.OnCommit()
	}
}

func (c *Consumer) poison(msg jetstream.Msg, meta *jetstream.MsgMetadata, err error) {
	c.metrics.poison.Inc()
	c.log.Error("poison message terminated", "subject", msg.Subject(), "stream_seq", meta.Sequence.Stream,
		"tries", meta.NumDelivered, "err", err)
	_ = msg.Term()
}

// The reasons Forged gives, the reason label of consumer_events_forged_total.
const (
	// ReasonProducer: the envelope's producer does not own the event's
	// type (event.Owners).
	ReasonProducer = "producer"
	// ReasonSubject: the message's subject is not the one its envelope
	// gives ("<prefix>.<region>.<event name>").
	ReasonSubject = "subject"
)

// Forged says why an event that arrived on subject cannot be what its owner
// published: ReasonProducer or ReasonSubject, "" when it can be. NATS
// permissions let each service publish only its own events' subjects
// (pkg/natsperm); this is the defence behind them, for a server that
// enforces none (the machine's own, a misconfigured one) or a credential
// that leaked: a forged vetting.cleared must not start a candidate.
//
// An event whose payload this code does not know (a type added since, on
// its way through a rolling upgrade) is not judged: no handler acts on it.
func Forged(prefix, subject string, ev *eventsv1.Event) string {
	if _, err := event.Name(ev); err != nil {
		return ""
	}
	if suffix, err := event.SubjectSuffix(ev); err != nil || subject != prefix+"."+suffix {
		return ReasonSubject
	}
	if event.CheckOwner(ev) != nil {
		return ReasonProducer
	}
	return ""
}

// refuse terminates msg, unapplied, if its event is forged (see Forged),
// and says whether it did. The log names the message, never what the event
// says about a person.
func (c *Consumer) refuse(msg jetstream.Msg, meta *jetstream.MsgMetadata, ev *eventsv1.Event) bool {
	reason := Forged(c.cfg.SubjectPrefix, msg.Subject(), ev)
	if reason == "" {
		return false
	}
	c.metrics.forged.WithLabelValues(reason).Inc()
	name, _ := event.Name(ev)
	// The producer is whatever the forger wrote: logged only if it is a
	// service's name.
	producer := "(not a service)"
	if slices.Contains(event.Producers(), ev.GetProducer()) {
		producer = ev.GetProducer()
	}
	c.log.Error("forged event terminated unapplied", "reason", reason, "subject", msg.Subject(), "stream_seq", meta.Sequence.Stream,
		"event_id", ev.GetEventId(), "event", name, "producer", producer)
	_ = msg.Term()
	return true
}

// Apply runs the handler for ev in a transaction with its inbox row. It
// reports false, and changes nothing, when ev was applied before.
func (c *Consumer) Apply(ctx context.Context, ev *eventsv1.Event) (applied bool, err error) {
	err = pg.InTx(ctx, c.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			c.cfg.Durable, ev.GetEventId())
		if err != nil {
			return fmt.Errorf("record in inbox: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		applied = true
		return c.handle(ctx, tx, ev)
	})
	if err != nil {
		return false, err
	}
	return applied, nil
}

// runBatches applies what has arrived in batches of up to Batch messages.
// It waits for the first message alone (a fetch of one returns as soon as
// there is one), then takes whatever else is already waiting without
// waiting for more: a quiet system applies an event the moment it comes,
// a busy one still applies many per transaction.
func (c *Consumer) runBatches(ctx context.Context, cons jetstream.Consumer) error {
	for ctx.Err() == nil {
		msgs := c.pull(ctx, func() (jetstream.MessageBatch, error) {
			return cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		})
		if len(msgs) == 0 {
			continue
		}
		if c.cfg.Batch > 1 {
			msgs = append(msgs, c.pull(ctx, func() (jetstream.MessageBatch, error) {
				return cons.FetchNoWait(c.cfg.Batch - 1)
			})...)
		}
		c.processBatch(ctx, msgs)
	}
	return nil
}

// pull runs one fetch and collects its messages. After a failed fetch it
// logs and pauses a second, so a lost server is not spun on.
func (c *Consumer) pull(ctx context.Context, fetch func() (jetstream.MessageBatch, error)) []jetstream.Msg {
	fetched, err := fetch()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("fetch", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		return nil
	}
	var msgs []jetstream.Msg
	for m := range fetched.Messages() {
		msgs = append(msgs, m)
	}
	if err := fetched.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
		c.log.Warn("fetch", "err", err)
	}
	return msgs
}

func (c *Consumer) processBatch(ctx context.Context, msgs []jetstream.Msg) {
	evs := make([]*eventsv1.Event, 0, len(msgs))
	keep := make([]jetstream.Msg, 0, len(msgs))
	for _, m := range msgs {
		ev, err := event.Unmarshal(m.Data())
		meta, merr := m.Metadata()
		if merr != nil {
			c.log.Error("message without JetStream metadata; terminating", "subject", m.Subject(), "err", merr)
			_ = m.Term()
			continue
		}
		if err != nil {
			c.poison(m, meta, err)
			continue
		}
		if c.refuse(m, meta, ev) {
			continue
		}
		if c.cfg.Wants != nil && !c.cfg.Wants(ev) {
			_ = m.Ack()
			continue
		}
		evs, keep = append(evs, ev), append(keep, m)
	}
	if len(evs) == 0 {
		return
	}
	batchCtx, spans := c.batchSpans(ctx, keep)
	applied, err := c.applyBatch(batchCtx, evs)
	if err != nil {
		for _, s := range spans {
			s.SetStatus(codes.Error, "batch failed; applied one by one")
			s.End()
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("batch failed; applying its messages one by one", "messages", len(keep), "err", err)
		for _, m := range keep {
			c.process(ctx, m)
		}
		return
	}
	for _, s := range spans {
		s.End()
	}
	c.metrics.applied.Add(float64(applied))
	c.metrics.duplicates.Add(float64(len(evs) - applied))
	if applied > 0 {
		c.committed()
	}
	if c.afterCommit != nil {
		if err := c.afterCommit(); err != nil {
			return
		}
	}
	for _, m := range keep {
		if err := m.Ack(); err != nil {
			c.log.Warn("ack", "subject", m.Subject(), "err", err)
		}
	}
}

// batchSpans starts the spans of applying msgs in one transaction: the
// batch's own, linked to each message's span, in the context returned for
// the transaction (the events its handler appends are its children); and
// one per message, a child of the span whose traceparent the message
// carries and linked to the batch's, so the trace of each change shows
// this consumer's apply. The batch's span comes first.
func (c *Consumer) batchSpans(ctx context.Context, msgs []jetstream.Msg) (context.Context, []trace.Span) {
	links := make([]trace.Link, 0, len(msgs))
	for _, m := range msgs {
		sc := trace.SpanContextFromContext(tracing.WithTraceParent(ctx, m.Headers().Get(tracing.HeaderTraceParent)))
		if sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	batchCtx, batch := c.tracer.Start(ctx, "process batch", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.consumer.group.name", c.cfg.Durable),
			attribute.Int("messaging.batch.message_count", len(msgs))))
	spans := make([]trace.Span, 0, len(msgs)+1)
	spans = append(spans, batch)
	if !batch.SpanContext().IsValid() {
		return batchCtx, spans // not tracing, and no trace to go on with
	}
	for _, m := range msgs {
		_, s := c.processSpan(ctx, m, trace.WithLinks(trace.Link{SpanContext: batch.SpanContext()}))
		spans = append(spans, s)
	}
	return batchCtx, spans
}

// applyBatch records the batch's event ids in the inbox and hands the
// events not seen before to the batch handler, in one transaction.
func (c *Consumer) applyBatch(ctx context.Context, evs []*eventsv1.Event) (int, error) {
	return ApplyBatch(ctx, c.pool, c.cfg.Durable, evs, c.batch)
}

// ApplyBatch records evs in consumer's inbox and hands those not applied
// before to handle, in one transaction; it returns how many it handed on.
// A rebuild uses it to fill a fresh schema exactly as the live consumer
// would, inbox included.
//
// Almost every batch is new: it is first recorded with a plain insert,
// which costs PostgreSQL half what ON CONFLICT DO NOTHING does. Only if
// that finds an event applied before (a redelivery, or a repeat within the
// batch) is the batch done again, skipping those.
func ApplyBatch(ctx context.Context, pool *pgxpool.Pool, consumer string, evs []*eventsv1.Event, handle BatchHandler) (int, error) {
	ids := make([]pgtype.UUID, len(evs))
	for i, ev := range evs {
		id, err := uuid.Parse(ev.GetEventId())
		if err != nil {
			return 0, fmt.Errorf("%w: event id %q", ErrPermanent, ev.GetEventId())
		}
		ids[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		// Binary uuids, not strings: see pg.UUIDs.
		if _, err := tx.Exec(ctx, `INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])`, consumer, ids); err != nil {
			if pg.SQLState(err) == pg.UniqueViolation {
				return errSeenBefore
			}
			return fmt.Errorf("record in inbox: %w", err)
		}
		return handle(ctx, tx, evs)
	})
	if !errors.Is(err, errSeenBefore) {
		if err != nil {
			return 0, err
		}
		return len(evs), nil
	}
	var applied int
	err = pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])
			ON CONFLICT DO NOTHING RETURNING event_id`, consumer, ids)
		if err != nil {
			return fmt.Errorf("record in inbox: %w", err)
		}
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[pgtype.UUID])
		if err != nil {
			return fmt.Errorf("record in inbox: %w", err)
		}
		isNew := make(map[[16]byte]bool, len(fresh))
		for _, id := range fresh {
			isNew[id.Bytes] = true
		}
		todo := make([]*eventsv1.Event, 0, len(fresh))
		for i, ev := range evs {
			if isNew[ids[i].Bytes] {
				todo = append(todo, ev)
				delete(isNew, ids[i].Bytes) // the same event twice in one fetch
			}
		}
		applied = len(todo)
		if len(todo) == 0 {
			return nil
		}
		return handle(ctx, tx, todo)
	})
	return applied, err
}

// errSeenBefore is the plain inbox insert finding an event applied before.
var errSeenBefore = errors.New("an event of the batch was applied before")

// Named is a Config.Wants that picks the events with one of names; nil
// (every event) when names is empty.
func Named(names []string) func(*eventsv1.Event) bool {
	if len(names) == 0 {
		return nil
	}
	return func(ev *eventsv1.Event) bool {
		name, err := event.Name(ev)
		return err == nil && slices.Contains(names, name)
	}
}
