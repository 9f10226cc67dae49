package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	stream jetstream.Stream
	cfg    stream.Config
}

// setup gives the test its own schema (with the outbox and inbox tables)
// and its own JetStream server with the RECRUITMENT stream.
func setup(t *testing.T, sc stream.Config) env {
	t.Helper()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, Migrations, consumer.Migrations); err != nil {
		t.Fatal(err)
	}
	_, js := testenv.Connect(t, testenv.NATS(t))
	sc = sc.WithDefaults()
	s, err := stream.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	return env{pool: pool, js: js, stream: s, cfg: sc}
}

func (e env) relay() *Relay {
	return NewRelay(e.pool, e.js, RelayConfig{Stream: e.cfg.Name, SubjectPrefix: e.cfg.SubjectPrefix}, quiet)
}

func newEvent(region string) *eventsv1.Event {
	return &eventsv1.Event{
		EventId:          event.NewID(),
		ApplicationId:    event.NewID(),
		Region:           region,
		OccurredAt:       timestamppb.Now(),
		Producer:         "applications",
		Actor:            &commonv1.Actor{Subject: "tester", Role: commonv1.CallerRole_CALLER_ROLE_SPOC},
		AggregateVersion: 1,
		Payload:          &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}},
	}
}

func appendCommitted(t *testing.T, pool *pgxpool.Pool, evs ...*eventsv1.Event) {
	t.Helper()
	if err := pg.InTx(context.Background(), pool, func(tx pgx.Tx) error { return Append(context.Background(), tx, evs...) }); err != nil {
		t.Fatal(err)
	}
}

func streamMsgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestRelayPublishesCommittedEventOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	ctx := context.Background()
	ev := newEvent("london")
	appendCommitted(t, e.pool, ev)

	// A rolled-back transaction's event must never be published.
	rolledBack := newEvent("wales")
	_ = pg.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		if err := Append(ctx, tx, rolledBack); err != nil {
			t.Fatal(err)
		}
		return errors.New("roll back")
	})

	n, err := e.relay().PublishBatch(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PublishBatch = %d, %v; want 1, nil", n, err)
	}
	if n, err := e.relay().PublishBatch(ctx); err != nil || n != 0 {
		t.Fatalf("second PublishBatch = %d, %v; want 0, nil (nothing left)", n, err)
	}
	if got := streamMsgs(t, e.stream); got != 1 {
		t.Fatalf("stream holds %d messages, want 1", got)
	}
	msg, err := e.stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "recruitment.london.application.submitted" {
		t.Errorf("subject = %q", msg.Subject)
	}
	if id := msg.Header.Get("Nats-Msg-Id"); id != ev.GetEventId() {
		t.Errorf("Nats-Msg-Id = %q, want the event id %q", id, ev.GetEventId())
	}
	got, err := event.Unmarshal(msg.Data)
	if err != nil || got.GetApplicationId() != ev.GetApplicationId() {
		t.Errorf("payload = %v, %v", got, err)
	}
}

// A transaction that takes its outbox id first but commits last must still
// be published: a relay that kept a "published up to id N" cursor would
// skip it forever.
func TestRelayDoesNotSkipLateCommit(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	ctx := context.Background()
	first, second := newEvent("london"), newEvent("london")

	slow, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx) //nolint:errcheck
	if err := Append(ctx, slow, first); err != nil {
		t.Fatal(err)
	}
	appendCommitted(t, e.pool, second)

	relay := e.relay()
	if n, err := relay.PublishBatch(ctx); err != nil || n != 1 {
		t.Fatalf("PublishBatch before the slow commit = %d, %v; want 1", n, err)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := relay.PublishBatch(ctx); err != nil || n != 1 {
		t.Fatalf("PublishBatch after the slow commit = %d, %v; want 1", n, err)
	}
	ids := map[string]bool{}
	for seq := uint64(1); seq <= streamMsgs(t, e.stream); seq++ {
		m, err := e.stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ids[m.Header.Get("Nats-Msg-Id")] = true
	}
	if !ids[first.GetEventId()] || !ids[second.GetEventId()] || len(ids) != 2 {
		t.Errorf("published %v, want both events", ids)
	}
}

// The relay dies after JetStream acknowledged a batch and before it marked
// the rows: the restarted relay publishes them again. Within the duplicate
// window the stream drops the repeat; past it (100ms here, the least
// JetStream allows) the repeat lands, and the consumer's inbox still
// applies the event once.
func TestRelayCrashBeforeMarkIsCountedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		window     time.Duration
		streamMsgs uint64
	}{
		{"within duplicate window", 2 * time.Minute, 1},
		{"past duplicate window", 100 * time.Millisecond, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, stream.Config{DuplicateWindow: tc.window})
			ctx := context.Background()
			ev := newEvent("london")
			appendCommitted(t, e.pool, ev)

			crashing := e.relay()
			crashing.afterPublish = func() error { return errors.New("killed") }
			if _, err := crashing.PublishBatch(ctx); err == nil {
				t.Fatal("crashing relay: want an error")
			}
			if tc.window < time.Second {
				e.forgotten(t, ev)
			}
			if n, err := e.relay().PublishBatch(ctx); err != nil || n != 1 {
				t.Fatalf("restarted relay: PublishBatch = %d, %v; want 1", n, err)
			}
			if got := streamMsgs(t, e.stream); got != tc.streamMsgs {
				t.Fatalf("stream holds %d messages, want %d", got, tc.streamMsgs)
			}

			counted := countWithConsumer(t, e, int(tc.streamMsgs))
			if counted != 1 {
				t.Errorf("consumer applied the event %d times, want 1", counted)
			}
		})
	}
}

// countWithConsumer runs a consumer whose effect is a counter row, until it
// has seen delivered messages, and returns the counter.
func countWithConsumer(t *testing.T, e env, delivered int) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := e.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS counter (n int NOT NULL); INSERT INTO counter VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	c, err := consumer.New(e.pool, e.js, consumer.Config{Stream: e.cfg.Name, Durable: "counter", FilterSubject: e.cfg.SubjectPrefix + ".>"},
		func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
			_, err := tx.Exec(ctx, `UPDATE counter SET n = n + 1`)
			return err
		}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	testenv.Eventually(t, "the consumer to acknowledge every message", func() (bool, string) {
		info, err := e.js.Consumer(ctx, e.cfg.Name, "counter")
		if err != nil {
			return false, err.Error()
		}
		ci, err := info.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return ci.AckFloor.Stream >= uint64(delivered) && ci.NumAckPending == 0,
			fmt.Sprintf("acknowledged to %d, %d awaiting ack", ci.AckFloor.Stream, ci.NumAckPending)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT n FROM counter`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// jsErrWrongLastMsgID is JetStream's error code for a publish whose
// expected last message id is not the stream's (nats-server's
// JSStreamWrongLastMsgIDErrF).
const jsErrWrongLastMsgID jetstream.ErrorCode = 10070

// forgotten waits until the stream has let ev's id out of its duplicate
// window: the server forgets ids on a timer, so sleeping for the window
// would only bet on it. The probe publishes with ev's id and expects a
// last message id the stream cannot have; the server checks for a
// duplicate first, so it answers "duplicate" while it remembers the id and
// refuses the expectation once it does not, storing nothing either way.
func (e env) forgotten(t *testing.T, ev *eventsv1.Event) {
	t.Helper()
	suffix, err := event.SubjectSuffix(ev)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the stream to forget the event id", func() (bool, string) {
		ack, err := e.js.Publish(context.Background(), e.cfg.SubjectPrefix+"."+suffix, nil,
			jetstream.WithMsgID(ev.GetEventId()), jetstream.WithExpectLastMsgID("no-such-id"))
		var apiErr *jetstream.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrWrongLastMsgID:
			return true, ""
		case err != nil:
			return false, err.Error()
		case !ack.Duplicate:
			t.Fatalf("the probe was stored at sequence %d", ack.Sequence)
		}
		return false, "still a duplicate"
	})
}

// Run wakes on NOTIFY and publishes a steady trickle of commits promptly,
// in commit order per record, with several relays running at once.
func TestRunWithSeveralRelays(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		r := NewRelay(e.pool, e.js, RelayConfig{PollInterval: time.Hour, BatchSize: 7}, quiet)
		go func() { _ = r.Run(ctx) }()
	}
	const total = 200
	app := event.NewID()
	for i := range total {
		ev := newEvent("london")
		ev.ApplicationId = app
		ev.AggregateVersion = int64(i + 1)
		appendCommitted(t, e.pool, ev)
	}
	testenv.Eventually(t, "every message published", func() (bool, string) {
		n := streamMsgs(t, e.stream)
		return n >= total, fmt.Sprintf("%d of %d", n, total)
	})
	if got := streamMsgs(t, e.stream); got != total {
		t.Fatalf("stream holds %d messages, want %d (each exactly once)", got, total)
	}
	for seq := uint64(1); seq <= total; seq++ {
		m, err := e.stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := event.Unmarshal(m.Data)
		if ev.GetAggregateVersion() != int64(seq) {
			t.Fatalf("message %d has aggregate_version %d: order per record lost", seq, ev.GetAggregateVersion())
		}
	}
}

// The services must keep working against the machine's Debian nats-server
// (2.9.x), the oldest server they support.
func TestRelayAgainstSystemNATS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, Migrations, consumer.Migrations); err != nil {
		t.Fatal(err)
	}
	nc, js := testenv.Connect(t, testenv.SystemNATSURL())
	sc := stream.Config{Name: testenv.Name("T_"), SubjectPrefix: testenv.Name("t")}.WithDefaults()
	s, err := stream.Ensure(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), sc.Name) })
	t.Logf("system NATS server version %s", nc.ConnectedServerVersion())

	appendCommitted(t, pool, newEvent("london"), newEvent("wales"))
	e := env{pool: pool, js: js, stream: s, cfg: sc}
	if n, err := e.relay().PublishBatch(ctx); err != nil || n != 2 {
		t.Fatalf("PublishBatch = %d, %v; want 2", n, err)
	}
	if got := countWithConsumer(t, e, 2); got != 2 {
		t.Errorf("consumer applied %d events, want 2", got)
	}
}

// The backlog gauges count the unpublished rows and age the oldest; both
// fall to 0 once the relay has published them.
func TestMeasureBacklog(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	ctx := context.Background()
	r := e.relay()
	var schema string
	if err := e.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	gauges := func() (float64, float64) {
		t.Helper()
		if err := r.MeasureBacklog(ctx); err != nil {
			t.Fatal(err)
		}
		return testutil.ToFloat64(r.metrics.unpublished.WithLabelValues(schema)), testutil.ToFloat64(r.metrics.oldestAge.WithLabelValues(schema))
	}
	if n, age := gauges(); n != 0 || age != 0 {
		t.Errorf("empty outbox: %v unpublished, oldest %vs; want 0, 0", n, age)
	}
	appendCommitted(t, e.pool, newEvent("london"), newEvent("wales"))
	appendCommitted(t, e.pool, newEvent("london"))
	// The first transaction's rows were written an hour ago.
	if _, err := e.pool.Exec(ctx, `UPDATE outbox SET created_at = now() - interval '1 hour' WHERE id = (SELECT min(id) FROM outbox)`); err != nil {
		t.Fatal(err)
	}
	if n, age := gauges(); n != 3 || age < 3600 || age > 3600+60 {
		t.Errorf("3 waiting, the oldest an hour: gauges say %v unpublished, oldest %vs", n, age)
	}
	if n, err := r.PublishBatch(ctx); err != nil || n != 3 {
		t.Fatalf("PublishBatch = %d, %v; want 3, nil", n, err)
	}
	if n, age := gauges(); n != 0 || age != 0 {
		t.Errorf("all published: %v unpublished, oldest %vs; want 0, 0", n, age)
	}
}

// A relay whose batch statement began while another relay held the lock,
// and that takes the lock only once the other has marked its rows and
// committed, must not publish and mark those rows again: its statement's
// snapshot, older than the lock, still shows them unpublished (READ
// COMMITTED takes the snapshot when the statement starts, before the lock
// in it is taken). Found by the fault suite's scale-out case, where two
// replicas' relays marked the same row.
//
// The test holds the second relay inside that window: its sessions find
// the lock's key function first in the test's schema (search_path puts it
// before pg_catalog), and that version waits on an advisory lock the test
// holds until the first relay has committed.
func TestRelayLockTakenAfterAnotherCommitsPublishesNothingAgain(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	ctx := context.Background()
	var schema string
	if err := e.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	gate := time.Now().UnixNano()
	if _, err := e.pool.Exec(ctx, fmt.Sprintf(`CREATE FUNCTION hashtextextended(text, bigint) RETURNS bigint LANGUAGE plpgsql AS $$
		BEGIN
		    PERFORM pg_advisory_lock_shared(%d);
		    PERFORM pg_advisory_unlock_shared(%d);
		    RETURN pg_catalog.hashtextextended($1, $2);
		END $$`, gate, gate)); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema + ", pg_catalog"
	held, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(held.Close)
	gateConn, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gateConn.Release()
	if _, err := gateConn.Exec(ctx, "SELECT pg_advisory_lock($1)", gate); err != nil {
		t.Fatal(err)
	}

	appendCommitted(t, e.pool, newEvent("london"))
	first, second := e.relay(), NewRelay(held, e.js, RelayConfig{Stream: e.cfg.Name, SubjectPrefix: e.cfg.SubjectPrefix}, quiet)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	first.afterPublish = func() error {
		go func() {
			n, err := second.PublishBatch(ctx)
			done <- result{n, err}
		}()
		testenv.Eventually(t, "the second relay's statement waiting inside its window", func() (bool, string) {
			var waiting bool
			err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
				AND ((classid::bigint << 32) | objid::bigint) = $1)`, gate).Scan(&waiting)
			return waiting, fmt.Sprint(err)
		})
		return nil
	}
	if n, err := first.PublishBatch(ctx); n != 1 || err != nil {
		t.Fatalf("first relay: %d published, %v; want 1", n, err)
	}
	if _, err := gateConn.Exec(ctx, "SELECT pg_advisory_unlock($1)", gate); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.n != 0 || r.err != nil {
		t.Errorf("second relay, its lock taken after the first committed: %d published again, %v; want none", r.n, r.err)
	}
}

// TestAppendKeepsTheOrderOfManyEvents: events appended together are
// published in the order given (a withdrawal after its submission).
func TestAppendKeepsTheOrderOfManyEvents(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	ctx := context.Background()
	var evs []*eventsv1.Event
	for range 50 {
		evs = append(evs, newEvent("london"))
	}
	appendCommitted(t, e.pool, evs...)
	if n, err := e.relay().PublishBatch(ctx); err != nil || n != len(evs) {
		t.Fatalf("PublishBatch = %d, %v; want %d", n, err, len(evs))
	}
	for i, ev := range evs {
		msg, err := e.stream.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if id := msg.Header.Get("Nats-Msg-Id"); id != ev.GetEventId() {
			t.Fatalf("message %d is event %s, want %s (the order appended)", i+1, id, ev.GetEventId())
		}
	}
}
