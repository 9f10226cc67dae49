package consumer

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// A durable consumer that exists already takes the filter the code gives it
// now: after a restart with a new filter, it delivers what the new filter
// matches, and nothing the old one matched.
func TestChangedFilterTakesEffectOnRestart(t *testing.T) {
	t.Parallel()
	onEachServer(t, testFilterChange)
}

// A durable a rebuild left starting after the events it replayed keeps that
// start when its filter changes.
func TestChangedFilterKeepsARebuildsStart(t *testing.T) {
	t.Parallel()
	onEachServer(t, func(t *testing.T, pool *pgxpool.Pool, js jetstream.JetStream, sc stream.Config) {
		ctx := context.Background()
		cfg := Config{Stream: sc.Name, Durable: "effects", FilterSubject: sc.SubjectPrefix + ".*.application.>"}
		replayed := newEvent()
		replayed.Payload, replayed.Producer = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{}}, "vetting"
		ack, err := publishTo(ctx, js, sc, replayed)
		if err != nil {
			t.Fatal(err)
		}
		cc := cfg.ConsumerConfig()
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, ack.Sequence+1
		if _, err := js.CreateConsumer(ctx, sc.Name, cc); err != nil {
			t.Fatal(err)
		}
		after := newEvent()
		after.Payload, after.Producer = replayed.Payload, replayed.Producer
		if _, err := publishTo(ctx, js, sc, after); err != nil {
			t.Fatal(err)
		}

		cfg.FilterSubject = sc.SubjectPrefix + ".*.vetting.>"
		c, err := New(pool, js, cfg, recordEffect, quiet)
		if err != nil {
			t.Fatal(err)
		}
		run(t, c)
		waitEffects(t, pool, after.GetEventId())
		info := idle(t, js, sc.Name, "effects")
		waitEffects(t, pool, after.GetEventId())
		if info.Config.FilterSubject != cfg.FilterSubject || info.Config.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || info.Config.OptStartSeq != ack.Sequence+1 {
			t.Errorf("durable filter %q, deliver policy %v from %d; want %q, by start sequence from %d",
				info.Config.FilterSubject, info.Config.DeliverPolicy, info.Config.OptStartSeq, cfg.FilterSubject, ack.Sequence+1)
		}
	})
}

// onEachServer runs test against the current nats-server (in-process) and
// the oldest one supported, the machine's nats-server 2.9, each with its own
// schema holding an effects table.
func onEachServer(t *testing.T, test func(t *testing.T, pool *pgxpool.Pool, js jetstream.JetStream, sc stream.Config)) {
	t.Run("current server", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		test(t, e.pool, e.js, stream.Config{}.WithDefaults())
	})
	t.Run("system NATS", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		nc, js := testenv.Connect(t, testenv.SystemNATSURL())
		t.Logf("system NATS server version %s", nc.ConnectedServerVersion())
		sc := stream.Config{Name: testenv.Name("T_"), SubjectPrefix: testenv.Name("t")}.WithDefaults()
		if _, err := stream.Ensure(context.Background(), js, sc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = js.DeleteStream(context.Background(), sc.Name) })
		test(t, e.pool, js, sc)
	})
}

// publishTo puts ev on sc's stream under its subject.
func publishTo(ctx context.Context, js jetstream.JetStream, sc stream.Config, ev *eventsv1.Event) (*jetstream.PubAck, error) {
	b, err := event.Marshal(ev)
	if err != nil {
		return nil, err
	}
	suffix, err := event.SubjectSuffix(ev)
	if err != nil {
		return nil, err
	}
	return js.PublishMsg(ctx, &nats.Msg{Subject: sc.SubjectPrefix + "." + suffix, Data: b}, jetstream.WithMsgID(ev.GetEventId()))
}

func testFilterChange(t *testing.T, pool *pgxpool.Pool, js jetstream.JetStream, sc stream.Config) {
	t.Helper()
	ctx := context.Background()
	publish := func(evs ...*eventsv1.Event) {
		t.Helper()
		for _, ev := range evs {
			if _, err := publishTo(ctx, js, sc, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	blocked := func() *eventsv1.Event {
		ev := newEvent()
		ev.Payload, ev.Producer = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{}}, "vetting"
		return ev
	}

	cfg := Config{Stream: sc.Name, Durable: "effects", FilterSubject: sc.SubjectPrefix + ".*.application.>"}
	submitted1 := newEvent()
	publish(submitted1, blocked())
	first, err := New(pool, js, cfg, recordEffect, quiet)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(runCtx) }()
	waitEffects(t, pool, submitted1.GetEventId())
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	// The service restarts reading vetting events instead.
	submitted2, blocked2 := newEvent(), blocked()
	publish(submitted2, blocked2)
	cfg.FilterSubject = sc.SubjectPrefix + ".*.vetting.>"
	second, err := New(pool, js, cfg, recordEffect, quiet)
	if err != nil {
		t.Fatal(err)
	}
	run(t, second)
	waitEffects(t, pool, submitted1.GetEventId(), blocked2.GetEventId())

	info := idle(t, js, sc.Name, "effects")
	waitEffects(t, pool, submitted1.GetEventId(), blocked2.GetEventId()) // and nothing since
	if info.Config.FilterSubject != cfg.FilterSubject || len(info.Config.FilterSubjects) != 0 {
		t.Errorf("durable filter = %q %q, want %q alone", info.Config.FilterSubject, info.Config.FilterSubjects, cfg.FilterSubject)
	}
	if info.Config.DeliverPolicy != jetstream.DeliverAllPolicy {
		t.Errorf("durable deliver policy %v, want it kept (DeliverAll)", info.Config.DeliverPolicy)
	}
}

// idle waits until the durable has nothing pending or unacknowledged.
func idle(t *testing.T, js jetstream.JetStream, streamName, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := js.Consumer(context.Background(), streamName, durable)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("durable %s: %d pending, %d unacknowledged after 10 s", durable, info.NumPending, info.NumAckPending)
		}
	}
}

// waitEffects waits until the effects table holds exactly the events ids
// (any order), failing if it holds others or does not get there in 10 s.
func waitEffects(t *testing.T, pool *pgxpool.Pool, ids ...string) {
	t.Helper()
	slices.Sort(ids)
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rows, err := pool.Query(context.Background(), `SELECT event_id::text FROM effects ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= len(ids) {
			break
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("applied events %v, want %v", got, ids)
	}
}
