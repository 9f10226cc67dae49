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
type Relay struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	cfg     RelayConfig
	log     *slog.Logger
	metrics *relayMetrics

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
	// Registerer for the relay's metrics; nil registers none.
	Registerer prometheus.Registerer
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
	return c
}

type relayMetrics struct {
	published prometheus.Counter
	failures  prometheus.Counter
	pending   prometheus.Gauge
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
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(m.published, m.failures, m.pending)
	}
	return &Relay{pool: pool, js: js, cfg: cfg, log: log.With("component", "outbox-relay"), metrics: m}
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
		`SELECT o.id, o.event_id::text, o.subject, o.payload
		 FROM (SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || '.outbox', 0)) AS locked) l
		 JOIN LATERAL (SELECT id, event_id, subject, payload FROM outbox
		               WHERE l.locked AND published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE) o ON true`, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	type row struct {
		id      int64
		eventID string
		subject string
		payload []byte
	}
	batch, err := pgx.CollectRows(rows, func(rs pgx.CollectableRow) (row, error) {
		var r row
		err := rs.Scan(&r.id, &r.eventID, &r.subject, &r.payload)
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
	var publishErr error
	for _, b := range batch {
		msg := &nats.Msg{Subject: r.cfg.SubjectPrefix + "." + b.subject, Data: b.payload}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(b.eventID), jetstream.WithExpectStream(r.cfg.Stream))
		if err != nil {
			publishErr = fmt.Errorf("publish %s: %w", b.eventID, err)
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
			continue
		case err := <-f.Err():
			publishErr = errors.Join(publishErr, fmt.Errorf("publish %s: %w", batch[i].eventID, err))
		case <-waitCtx.Done():
			publishErr = errors.Join(publishErr, fmt.Errorf("publish %s: no acknowledgement: %w", batch[i].eventID, waitCtx.Err()))
		}
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
