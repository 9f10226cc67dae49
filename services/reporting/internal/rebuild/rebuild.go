// Package rebuild replays the event stream into a fresh projection and
// swaps it in place of the live one (`reporting rebuild`). Replay goes
// through the same fold and the same inbox as the live consumer, so the
// rebuilt projection equals the live one.
package rebuild

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// Progress is told how far a replay has got.
type Progress func(done, total uint64, elapsed time.Duration)

// Migrations are the tables of a reporting schema (the outbox: a batch
// writes the stuck events it causes there).
var Migrations = []pg.Migrations{outbox.Migrations, consumer.Migrations, idempotency.Migrations, store.Migrations}

// Replay applies every event of stream, from the first up to the last at
// the time of the call, to the projection in pool, in batches recorded in
// the inbox of consumerName. It skips what the live consumer refuses: an
// undecodable message, and a forged event (consumer.Forged; the stream's
// subjects start with prefix). It returns the stream sequence it stopped at.
func Replay(ctx context.Context, js jetstream.JetStream, streamName, prefix string, pool *pgxpool.Pool, consumerName string, batch int, progress Progress) (uint64, error) {
	str, err := js.Stream(ctx, streamName)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return last, nil
	}
	cons, err := str.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	// Quiet: the crossings of a replay happened when the events did, and
	// the projection being replaced announced them (docs/design.md).
	st := store.New(pool).Quiet()
	started := time.Now()
	var seq uint64
	for seq < last {
		fetched, err := cons.Fetch(batch, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return 0, fmt.Errorf("replay: fetch: %w", err)
		}
		evs := make([]*eventsv1.Event, 0, batch)
		for m := range fetched.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return 0, fmt.Errorf("replay: %w", err)
			}
			seq = meta.Sequence.Stream
			ev, err := event.Unmarshal(m.Data())
			if err != nil || consumer.Forged(prefix, m.Subject(), ev) != "" {
				continue // the live consumer terminates these too
			}
			if seq <= last {
				evs = append(evs, ev)
			}
		}
		if err := fetched.Error(); err != nil && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if len(evs) == 0 {
			continue
		}
		if _, err := consumer.ApplyBatch(ctx, pool, consumerName, evs, st.Apply); err != nil {
			return 0, fmt.Errorf("replay: apply: %w", err)
		}
		if progress != nil {
			progress(seq, last, time.Since(started))
		}
	}
	return last, nil
}

// Options configure a Rebuild.
type Options struct {
	DatabaseURL string
	// Schema is the live projection's schema; the replay builds
	// <Schema>_rebuild and then swaps it in.
	Schema string
	Stream string
	// Consumer is the live durable consumer's name.
	Consumer       consumer.Config
	Batch          int
	Progress       Progress
	AllowWhileLive bool
}

// ErrLive means the reporting service is running: the swap needs it stopped.
var ErrLive = errors.New("the reporting service is still consuming (its durable consumer has clients waiting or messages in flight): stop it, then run rebuild again")

// Rebuild replays the stream into a fresh schema, copies the thresholds
// (configuration, not events) across, swaps the schemas, and sets the live
// durable consumer to continue after the last replayed event.
func Rebuild(ctx context.Context, js jetstream.JetStream, o Options) (uint64, error) {
	if !o.AllowWhileLive {
		if c, err := js.Consumer(ctx, o.Stream, o.Consumer.Durable); err == nil {
			// A pull waiting, or messages delivered and not yet acked (a
			// batch being applied), means a service is consuming.
			if info, err := c.Info(ctx); err == nil && (info.NumWaiting > 0 || info.NumAckPending > 0) {
				return 0, ErrLive
			}
		}
	}
	target := o.Schema + "_rebuild"
	admin, err := pg.Connect(ctx, o.DatabaseURL, "public")
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+target+" CASCADE"); err != nil {
		return 0, fmt.Errorf("rebuild: %w", err)
	}
	pool, err := pg.Connect(ctx, o.DatabaseURL, target)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, Migrations...); err != nil {
		return 0, err
	}
	if _, err := admin.Exec(ctx, `INSERT INTO `+target+`.thresholds SELECT * FROM `+o.Schema+`.thresholds`); err != nil && pg.SQLState(err) != "42P01" {
		return 0, fmt.Errorf("rebuild: copy thresholds: %w", err)
	}
	// Stuck events the old projection wrote and its relay had not yet
	// published (the service was stopped before it could) go with it.
	if _, err := admin.Exec(ctx, `INSERT INTO `+target+`.outbox (event_id, subject, payload, created_at)
		SELECT event_id, subject, payload, created_at FROM `+o.Schema+`.outbox WHERE published_at IS NULL ORDER BY id`); err != nil && pg.SQLState(err) != "42P01" {
		return 0, fmt.Errorf("rebuild: copy unpublished events: %w", err)
	}
	last, err := Replay(ctx, js, o.Stream, o.Consumer.WithDefaults().SubjectPrefix, pool, o.Consumer.Durable, o.Batch, o.Progress)
	if err != nil {
		return 0, err
	}
	pool.Close()
	old := fmt.Sprintf("%s_old_%d", o.Schema, time.Now().Unix())
	err = pg.InTx(ctx, admin, func(tx pgx.Tx) error {
		var live bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, o.Schema).Scan(&live); err != nil {
			return err
		}
		if live {
			if _, err := tx.Exec(ctx, "ALTER SCHEMA "+o.Schema+" RENAME TO "+old); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "ALTER SCHEMA "+target+" RENAME TO "+o.Schema)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rebuild: swap schemas: %w", err)
	}
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+old+" CASCADE"); err != nil {
		return 0, fmt.Errorf("rebuild: drop the old projection %s: %w", old, err)
	}
	// The live consumer continues after the replay; anything it had seen
	// past that point is applied again into the new projection.
	if err := js.DeleteConsumer(ctx, o.Stream, o.Consumer.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, fmt.Errorf("rebuild: reset consumer: %w", err)
	}
	cc := o.Consumer.ConsumerConfig()
	cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last+1
	if _, err := js.CreateConsumer(ctx, o.Stream, cc); err != nil {
		return 0, fmt.Errorf("rebuild: reset consumer: %w", err)
	}
	return last, nil
}
