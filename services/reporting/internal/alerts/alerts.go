// Package alerts publishes the stuck crossings that happen with time alone:
// a Scheduler sleeps until the earliest pending crossing (the store keeps
// one row per stuck clock, indexed by its next crossing's due time), wakes
// for it or earlier when a batch or a threshold change writes an earlier
// one (a NOTIFY), and publishes what is due through the outbox. Crossings
// caused by an event are written by the batch that projects the event
// (store.Apply); see docs/design.md, "Stuck events".
package alerts

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// Clock tells the time and waits; time.Now and time.After in production,
// a scripted clock in tests.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the system's clock.
var RealClock Clock = realClock{}

// Store is what the scheduler needs of the projection's store.
type Store interface {
	PublishDue(ctx context.Context, now time.Time, limit int) (int, map[string]int, error)
	NextDue(ctx context.Context, now time.Time) (*time.Time, int64, int64, error)
}

// Config configures a Scheduler. Zero fields take their defaults.
type Config struct {
	// Batch is how many due clocks one transaction claims; default 500.
	Batch int
	// Recheck bounds a sleep, so a lost notification (a dropped LISTEN
	// connection) delays an earlier crossing by at most this; default 1m.
	// It reads one index entry, not the clocks.
	Recheck time.Duration
	// Registerer for the metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Scheduler publishes crossings with time alone. Several replicas may run
// one each: they claim different rows (FOR UPDATE SKIP LOCKED), and each
// crossing is written to the outbox in the transaction that moves its row
// on, so it is written once.
type Scheduler struct {
	pool    *pgxpool.Pool
	store   Store
	clock   Clock
	cfg     Config
	log     *slog.Logger
	wake    chan struct{}
	pending prometheus.Gauge
	overdue prometheus.Gauge
	written *prometheus.CounterVec
}

// New returns a scheduler of the crossings in pool's schema.
func New(pool *pgxpool.Pool, store Store, clock Clock, cfg Config, log *slog.Logger) *Scheduler {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = time.Minute
	}
	s := &Scheduler{
		pool: pool, store: store, clock: clock, cfg: cfg, log: log.With("component", "stuck-scheduler"),
		wake: make(chan struct{}, 1),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stuck_crossings_pending", Help: "Stuck clocks with a warning or breach still to cross.",
		}),
		overdue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stuck_crossings_overdue", Help: "Pending stuck crossings whose time has come and that are not yet published (scheduler lag).",
		}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stuck_crossings_published_total", Help: "Stuck events the scheduler wrote to the outbox, by event (crossings with time alone).",
		}, []string{"event"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.pending, s.overdue, s.written)
	}
	return s
}

// Wake makes the scheduler look for due crossings now (a test's scripted
// clock moved; in production the store's NOTIFY does this).
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run publishes due crossings until ctx is done, then returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	var schema string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	go s.listen(ctx, schema+store.DueChannel)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		wait, err := s.Step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("publishing stuck crossings failed; will retry", "err", err, "retry_in", backoff)
			wait, backoff = backoff, min(2*backoff, 10*time.Second)
		} else {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-s.clock.After(wait):
		}
	}
	return nil
}

// Step publishes every crossing due now and returns how long to sleep
// before the next one is due (at most Config.Recheck).
func (s *Scheduler) Step(ctx context.Context) (time.Duration, error) {
	for {
		now := s.clock.Now()
		claimed, written, err := s.store.PublishDue(ctx, now, s.cfg.Batch)
		if err != nil {
			return 0, err
		}
		for name, n := range written {
			s.written.WithLabelValues(name).Add(float64(n))
		}
		if claimed == s.cfg.Batch {
			continue // more may be due
		}
		next, pending, overdue, err := s.store.NextDue(ctx, now)
		if err != nil {
			return 0, err
		}
		s.pending.Set(float64(pending))
		s.overdue.Set(float64(overdue))
		wait := s.cfg.Recheck
		if next != nil {
			// Due rows another replica holds are its to publish; look
			// again soon in case it dies holding them.
			wait = min(wait, max(next.Sub(now), time.Second))
		}
		return wait, nil
	}
}

// listen turns the store's notifications into wake-ups, reconnecting on
// failure (the Recheck bound covers the gap).
func (s *Scheduler) listen(ctx context.Context, channel string) {
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, channel)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("stuck scheduler listen connection lost", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Scheduler) listenOnce(ctx context.Context, channel string) error {
	pooled, err := s.pool.Acquire(ctx)
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
		s.Wake()
	}
}
