package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	pool *pgxpool.Pool
	nc   *nats.Conn
	js   jetstream.JetStream
}

func setup(t testing.TB) env {
	t.Helper()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, Migrations); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE effects (event_id uuid NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	nc, js := testenv.Connect(t, testenv.NATS(t))
	if _, err := stream.Ensure(ctx, js, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	return env{pool: pool, nc: nc, js: js}
}

// publish puts events on the stream directly, as a relay would.
func (e env) publish(t *testing.T, evs ...*eventsv1.Event) {
	t.Helper()
	for _, ev := range evs {
		b, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := event.SubjectSuffix(ev)
		if _, err := e.js.PublishMsg(context.Background(), &nats.Msg{Subject: "recruitment." + subject, Data: b}, jetstream.WithMsgID(ev.GetEventId())); err != nil {
			t.Fatal(err)
		}
	}
}

// republish puts evs on the stream again without their message ids, so
// that the server's duplicate window lets them through: repeats as a relay
// could produce after its window.
func (e env) republish(t *testing.T, evs ...*eventsv1.Event) {
	t.Helper()
	for _, ev := range evs {
		b, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.js.Publish(context.Background(), "recruitment.london.application.submitted", b); err != nil {
			t.Fatal(err)
		}
	}
}

// recordEffect is a handler whose effect is one row per application.
func recordEffect(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO effects VALUES ($1)`, ev.GetEventId())
	return err
}

func (e env) effects(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM effects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func newEvent() *eventsv1.Event {
	return &eventsv1.Event{
		EventId:       event.NewID(),
		ApplicationId: event.NewID(),
		Region:        "london",
		OccurredAt:    timestamppb.Now(),
		Producer:      "applications",
		Actor:         &commonv1.Actor{Subject: "tester", Role: commonv1.CallerRole_CALLER_ROLE_SPOC},
		Payload:       &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}},
	}
}

func run(t *testing.T, c *Consumer) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return cancel
}

// settled waits until the durable has no message pending acknowledgement
// and has acknowledged up to stream sequence seq.
func settled(t *testing.T, js jetstream.JetStream, durable string, seq uint64) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("consumer %s to settle at sequence %d", durable, seq), func() (bool, string) {
		c, err := js.Consumer(context.Background(), "RECRUITMENT", durable)
		if err != nil {
			return false, err.Error()
		}
		ci, err := c.Info(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return ci.AckFloor.Stream >= seq && ci.NumAckPending == 0 && ci.NumPending == 0,
			fmt.Sprintf("acknowledged to %d, %d awaiting ack, %d pending", ci.AckFloor.Stream, ci.NumAckPending, ci.NumPending)
	})
}

// The consumer dies after its transaction commits and before it acks: the
// server redelivers after AckWait, and the inbox makes that a no-op.
func TestCrashAfterCommitBeforeAckAppliesOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ev := newEvent()
	e.publish(t, ev)

	c, err := New(e.pool, e.js, Config{Durable: "effects", AckWait: 500 * time.Millisecond}, recordEffect, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var crashes atomic.Int32
	c.afterCommit = func() error {
		if crashes.Add(1) == 1 {
			return errors.New("killed before ack")
		}
		return nil
	}
	run(t, c)
	settled(t, e.js, "effects", 1)
	if crashes.Load() < 2 {
		t.Fatalf("message delivered %d times, want a redelivery after the lost ack", crashes.Load())
	}
	if got := e.effects(t); got != 1 {
		t.Errorf("effect applied %d times, want 1", got)
	}
	if got := testutil.ToFloat64(c.metrics.duplicates); got < 1 {
		t.Errorf("duplicates metric = %v, want ≥ 1", got)
	}
}

// A handler that always fails is tried MaxTries times, then the message is
// terminated so the events behind it flow on.
func TestPoisonMessageIsTerminatedAfterMaxTries(t *testing.T) {
	t.Parallel()
	e := setup(t)
	poison, good := newEvent(), newEvent()
	var tries atomic.Int32
	handler := func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
		if ev.GetEventId() == poison.GetEventId() {
			tries.Add(1)
			return errors.New("cannot apply")
		}
		return recordEffect(ctx, tx, ev)
	}
	c, err := New(e.pool, e.js, Config{Durable: "effects", MaxTries: 3}, handler, quiet)
	if err != nil {
		t.Fatal(err)
	}
	e.publish(t, poison, good)
	run(t, c)
	settled(t, e.js, "effects", 2)
	if got := tries.Load(); got != 3 {
		t.Errorf("poison message tried %d times, want 3", got)
	}
	if got := e.effects(t); got != 1 {
		t.Errorf("effects = %d, want 1 (the good event)", got)
	}
	if got := testutil.ToFloat64(c.metrics.poison); got != 1 {
		t.Errorf("poison metric = %v, want 1", got)
	}
	// A failed try must leave no inbox row behind, or a later try would skip it.
	var inbox int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox WHERE event_id = $1`, poison.GetEventId()).Scan(&inbox); err != nil {
		t.Fatal(err)
	}
	if inbox != 0 {
		t.Errorf("poison event has %d inbox rows, want 0", inbox)
	}
}

// Garbage on the stream is terminated at once, and ErrPermanent ends retries.
func TestUndecodableAndPermanentAreNotRetried(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if _, err := e.js.Publish(context.Background(), "recruitment.london.application.submitted", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	permanent := newEvent()
	var tries atomic.Int32
	c, err := New(e.pool, e.js, Config{Durable: "effects", MaxTries: 5}, func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
		tries.Add(1)
		return errors.Join(ErrPermanent, errors.New("unknown payload"))
	}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	e.publish(t, permanent)
	run(t, c)
	settled(t, e.js, "effects", 2)
	if got := tries.Load(); got != 1 {
		t.Errorf("permanent failure tried %d times, want 1", got)
	}
	if got := testutil.ToFloat64(c.metrics.poison); got != 2 {
		t.Errorf("poison metric = %v, want 2", got)
	}
}

// Replicas share one durable consumer; every event is applied once.
func TestReplicasShareDurableWithoutDoubleCounting(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n = 300
	evs := make([]*eventsv1.Event, n)
	for i := range evs {
		evs[i] = newEvent()
	}
	for i := range 3 {
		c, err := New(e.pool, e.js, Config{Durable: "effects", Batch: 10 + i}, recordEffect, quiet)
		if err != nil {
			t.Fatal(err)
		}
		run(t, c)
	}
	e.publish(t, evs...)
	// Redeliver a tenth of them, as a relay past the duplicate window would.
	for i := 0; i < n; i += 10 {
		b, _ := event.Marshal(evs[i])
		if _, err := e.js.Publish(context.Background(), "recruitment.london.application.submitted", b); err != nil {
			t.Fatal(err)
		}
	}
	settled(t, e.js, "effects", n+n/10)
	if got := e.effects(t); got != n {
		t.Errorf("effects = %d, want %d", got, n)
	}
}

func TestNewRequiresDurable(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, nil, Config{}, recordEffect, quiet); err == nil {
		t.Error("New without Durable: want an error")
	}
}

// Events the handler does not want are acknowledged without a transaction
// or an inbox row.
func TestWantsSkipsOtherEvents(t *testing.T) {
	t.Parallel()
	e := setup(t)
	wanted, other := newEvent(), newEvent()
	other.Payload, other.Producer = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}, "sifting"
	c, err := New(e.pool, e.js, Config{Durable: "effects", Wants: func(ev *eventsv1.Event) bool {
		return ev.GetApplicationSubmitted() != nil
	}}, recordEffect, quiet)
	if err != nil {
		t.Fatal(err)
	}
	e.publish(t, other, wanted)
	run(t, c)
	settled(t, e.js, "effects", 2)
	var inbox int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox`).Scan(&inbox); err != nil {
		t.Fatal(err)
	}
	if got := e.effects(t); got != 1 || inbox != 1 {
		t.Errorf("effects = %d, inbox rows = %d; want 1 and 1 (the wanted event only)", got, inbox)
	}
}

// recordBatch is a batch handler whose effect is one row per event; it
// fails a batch containing poison.
func recordBatch(poison string) BatchHandler {
	return func(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
		for _, ev := range evs {
			if ev.GetEventId() == poison {
				return errors.New("cannot apply")
			}
			if err := recordEffect(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	}
}

// Batches apply each event once, even when a fetch holds repeats, events
// applied before, and a lost ack; a poison event fails its batch, which is
// then applied one by one so everything else still lands.
func TestBatchConsumer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n = 250
	evs := make([]*eventsv1.Event, n)
	for i := range evs {
		evs[i] = newEvent()
	}
	poison := evs[77]
	e.publish(t, evs...)
	e.republish(t, evs[:20]...)
	c, err := NewBatch(e.pool, e.js, Config{Durable: "effects", Batch: 100, MaxTries: 2, AckWait: time.Second}, recordBatch(poison.GetEventId()), quiet)
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Int32
	c.afterCommit = func() error {
		if lost.Add(1) == 1 {
			return errors.New("killed before ack")
		}
		return nil
	}
	run(t, c)
	settled(t, e.js, "effects", n+20)
	if got := e.effects(t); got != n-1 {
		t.Errorf("effects = %d, want %d (every event once, the poison none)", got, n-1)
	}
	if got := testutil.ToFloat64(c.metrics.poison); got != 1 {
		t.Errorf("poison metric = %v, want 1", got)
	}
}

// OnCommit is called after a batch that applied events commits, before its
// acks, and not for a batch of repeats only.
func TestOnCommit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n = 30
	evs := make([]*eventsv1.Event, n)
	for i := range evs {
		evs[i] = newEvent()
	}
	e.publish(t, evs...)
	var (
		mu    sync.Mutex
		calls []string // what each call saw, or what was wrong
	)
	onCommit := func() {
		var effects int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM effects`).Scan(&effects)
		cons, cerr := e.js.Consumer(context.Background(), "RECRUITMENT", "effects")
		var pending int
		if cerr == nil {
			ci, ierr := cons.Info(context.Background())
			cerr = ierr
			if ci != nil {
				pending = ci.NumAckPending
			}
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil || cerr != nil:
			calls = append(calls, fmt.Sprintf("error: %v %v", err, cerr))
		case effects == 0:
			calls = append(calls, "called before the batch committed")
		case pending == 0:
			calls = append(calls, "called after the batch was acknowledged")
		default:
			calls = append(calls, "ok")
		}
	}
	c, err := NewBatch(e.pool, e.js, Config{Durable: "effects", Batch: 10, OnCommit: onCommit}, recordBatch(""), quiet)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	settled(t, e.js, "effects", n)
	mu.Lock()
	first := slices.Clone(calls)
	mu.Unlock()
	if len(first) == 0 {
		t.Fatal("OnCommit was never called")
	}
	for i, got := range first {
		if got != "ok" {
			t.Errorf("call %d: %s", i, got)
		}
	}

	// The same events again, past the duplicate window: nothing applies.
	e.republish(t, evs...)
	settled(t, e.js, "effects", 2*n)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != len(first) {
		t.Errorf("OnCommit called %d more times for batches of repeats", len(calls)-len(first))
	}
	if got := e.effects(t); got != n {
		t.Errorf("effects = %d, want %d", got, n)
	}
}

// A batch consumer that finds many events waiting applies them in full
// batches, not one per transaction, though it waits for only one.
func TestBatchConsumerBatchesWhatIsWaiting(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n, batch = 250, 100
	evs := make([]*eventsv1.Event, n)
	for i := range evs {
		evs[i] = newEvent()
	}
	e.publish(t, evs...)
	var commits atomic.Int32
	c, err := NewBatch(e.pool, e.js, Config{Durable: "effects", Batch: batch, OnCommit: func() { commits.Add(1) }}, recordBatch(""), quiet)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	settled(t, e.js, "effects", n)
	if got := e.effects(t); got != n {
		t.Fatalf("effects = %d, want %d", got, n)
	}
	if got := commits.Load(); got != (n+batch-1)/batch {
		t.Errorf("%d transactions for %d waiting events in batches of %d; want %d", got, n, batch, (n+batch-1)/batch)
	}
}

// BenchmarkBatchLag is the time from publishing one event to a batch
// consumer (batch 100) having applied it, on a quiet system, beside the
// least it could be: the same publish seen by a plain NATS subscriber.
// It reports lag_ms and the ratio of lag to the ideal.
func BenchmarkBatchLag(b *testing.B) {
	e := setup(b)
	applied := make(chan struct{}, 1)
	onCommit := func() { applied <- struct{}{} }
	c, err := NewBatch(e.pool, e.js, Config{Durable: "effects", Batch: 100, OnCommit: onCommit}, recordBatch(""), quiet)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	publish := func(ev *eventsv1.Event) {
		data, err := event.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		subject, _ := event.SubjectSuffix(ev)
		if _, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: "recruitment." + subject, Data: data}, jetstream.WithMsgID(ev.GetEventId())); err != nil {
			b.Fatal(err)
		}
	}
	// The ideal: publish to the stream, seen by a core subscriber.
	seen := make(chan struct{}, 1)
	sub, err := e.nc.Subscribe("recruitment.>", func(*nats.Msg) {
		select {
		case seen <- struct{}{}:
		default:
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	var ideal, lag time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		publish(newEvent())
		<-seen
		ideal += time.Since(start)
		<-applied
		lag += time.Since(start)
	}
	b.StopTimer()
	_ = sub.Unsubscribe()
	b.ReportMetric(float64(lag.Microseconds())/1000/float64(b.N), "lag_ms")
	b.ReportMetric(float64(ideal.Microseconds())/1000/float64(b.N), "ideal_ms")
	b.ReportMetric(float64(lag)/float64(ideal), "lag/ideal")
}

// The lag gauges say what the server says of the durable: messages not yet
// delivered, then delivered and awaiting their ack, then none.
func TestMeasureLag(t *testing.T) {
	t.Parallel()
	e := setup(t)
	evs := []*eventsv1.Event{newEvent(), newEvent(), newEvent()}
	e.publish(t, evs...)
	c, err := New(e.pool, e.js, Config{Durable: "lagging"}, recordEffect, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cons, err := c.consumer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gauges := func() (float64, float64) {
		if err := c.MeasureLag(ctx, cons); err != nil {
			t.Fatal(err)
		}
		return testutil.ToFloat64(c.metrics.pending), testutil.ToFloat64(c.metrics.ackPending)
	}
	if p, a := gauges(); p != 3 || a != 0 {
		t.Errorf("nothing fetched: pending %v, ack pending %v; want 3, 0", p, a)
	}
	batch, err := cons.FetchNoWait(2)
	if err != nil {
		t.Fatal(err)
	}
	var fetched []jetstream.Msg
	for m := range batch.Messages() {
		fetched = append(fetched, m)
	}
	if p, a := gauges(); p != 1 || a != float64(len(fetched)) || len(fetched) != 2 {
		t.Errorf("2 fetched (got %d), unacknowledged: pending %v, ack pending %v; want 1, 2", len(fetched), p, a)
	}
	for _, m := range fetched {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p, a := gauges(); p != 1 || a != 0 {
		t.Errorf("2 acknowledged: pending %v, ack pending %v; want 1, 0", p, a)
	}
}
