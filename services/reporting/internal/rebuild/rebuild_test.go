package rebuild_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/rebuild"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// TestReplayEqualsLive consumes a random workload live, in the consumer's
// batches as they come, then replays the stream into a second schema in
// batches of another size: the two projections must be equal.
func TestReplayEqualsLive(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	admin, js := jetStream(t)
	livePool := migrated(t)
	startLive(t, livePool, js, consumer.Config{Batch: 64}, nil)
	// A forged event first (a submission its owner did not publish): the
	// live consumer terminates it, and the replay must skip it too.
	forged := event.New("sifting", event.SystemActor("sifting"), time.Now(), event.Record{
		ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london",
	})
	forged.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	b, err := event.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Publish(t.Context(), "recruitment.london.application.submitted", b); err != nil {
		t.Fatal(err)
	}
	w := newWorkload(seed, 300)
	p := &publisher{js: admin, ids: map[string]bool{}}
	w.publishAll(t, p)
	waitApplied(t, livePool, len(p.ids))

	replayPool := migrated(t)
	var progressed, total uint64
	last, err := rebuild.Replay(t.Context(), js, streamName, event.DefaultSubjectPrefix, replayPool, durable, 50, func(done, all uint64, _ time.Duration) {
		progressed, total = done, all
	})
	if err != nil {
		t.Fatal(err)
	}
	info := streamInfo(t, js)
	if last != info.State.LastSeq || progressed != last || total != last {
		t.Errorf("replay stopped at %d (progress %d of %d), want the stream's last sequence %d", last, progressed, total, info.State.LastSeq)
	}
	if info.State.Msgs <= uint64(len(p.ids)) {
		t.Errorf("the stream holds %d messages for %d events: the workload published no duplicates", info.State.Msgs, len(p.ids))
	}
	got, want := tables(t, replayPool), tables(t, livePool)
	// The live consumer, judging 2026's events now, wrote their crossings;
	// the quiet replay records them as announced (the alerts are equal)
	// and writes none.
	if len(want["outbox"]) == 0 || len(got["outbox"]) != 0 {
		t.Errorf("stuck events written: live %d, replay %d; want some live and none replayed", len(want["outbox"]), len(got["outbox"]))
	}
	delete(got, "outbox")
	delete(want, "outbox")
	wantSameTables(t, got, want)
}

func streamInfo(t *testing.T, js jetstream.JetStream) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(t.Context(), streamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func consumerInfo(t *testing.T, js jetstream.JetStream) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(t.Context(), streamName, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// liveSchema creates a schema whose name the test chooses, as a deployment
// configures DB_SCHEMA, and drops it and whatever a rebuild leaves beside
// it when the test ends.
func liveSchema(t *testing.T) (*pgxpool.Pool, string, string) {
	t.Helper()
	ctx := context.Background()
	schema := testenv.Name("t_")
	// As in production, the projection is the reporting role's, which may
	// create schemas of its own and nothing else.
	url := testenv.ServiceRole(t, pg.ServiceRole{Name: testenv.Name("r_reporting_"), Schema: schema, CreateSchemas: true})
	pool, err := pg.Connect(ctx, url, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		admin, err := pg.Connect(ctx, testenv.DatabaseURL(), "public")
		if err != nil {
			t.Logf("drop schemas: %v", err)
			return
		}
		defer admin.Close()
		for _, s := range schemasLike(t, admin, schema) {
			if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+s+" CASCADE"); err != nil {
				t.Logf("drop schema %s: %v", s, err)
			}
		}
	})
	if err := pg.Migrate(ctx, pool, rebuild.Migrations...); err != nil {
		t.Fatal(err)
	}
	return pool, schema, url
}

// schemasLike lists schema and the schemas named after it.
func schemasLike(t *testing.T, q *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), `SELECT nspname::text FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $1 || '\_%' ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestRebuild runs `reporting rebuild` end to end on a schema of the
// test's, as the reporting service's role: it refuses while the service consumes, replays into a fresh
// schema, swaps it in, and resets the live consumer to continue after the
// last replayed event.
func TestRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, js := jetStream(t)
	pool, schema, url := liveSchema(t)
	opts := rebuild.Options{
		DatabaseURL: url, Schema: schema, Stream: streamName, Batch: 40,
		Consumer: consumer.Config{Stream: streamName, Durable: durable, FilterSubject: event.DefaultSubjectPrefix + ".>"},
	}
	// A projection that a migration marked as needing a rebuild: the
	// rebuilt one is not marked (wantRebuilt).
	if _, err := pool.Exec(ctx, `INSERT INTO rebuild_needed (reason) VALUES ('a migration added facts')`); err != nil {
		t.Fatal(err)
	}
	// Thresholds are configuration, not events: the rebuild copies them.
	if _, err := store.New(pool).SetThresholds(ctx, "london", 0, projection.Thresholds{
		Stages: map[commonv1.Stage]projection.Limit{
			commonv1.Stage_STAGE_SIFT: {WarningDays: 4, BreachDays: 6}, commonv1.Stage_STAGE_INTERVIEW: {WarningDays: 14, BreachDays: 21},
			commonv1.Stage_STAGE_OFFER: {WarningDays: 7, BreachDays: 10}, commonv1.Stage_STAGE_PRE_EMPLOYMENT: {WarningDays: 28, BreachDays: 42},
		},
		Blocked: projection.Limit{WarningDays: 1, BreachDays: 2},
	}); err != nil {
		t.Fatal(err)
	}

	// Two replicas of the service consume, so one of them always has a
	// pull request waiting, whatever the moment of the check.
	w := newWorkload(uint64(time.Now().UnixNano()), 60)
	p := &publisher{js: admin, ids: map[string]bool{}}
	replicas := []*live{startLive(t, pool, js, consumer.Config{}, nil), startLive(t, pool, js, consumer.Config{}, nil)}
	w.publishAll(t, p)
	waitApplied(t, pool, len(p.ids))
	before := tables(t, pool)
	if len(before["thresholds"]) != 1 {
		t.Fatalf("thresholds %v, want london's", before["thresholds"])
	}

	// While the service consumes: refused, and nothing touched.
	testenv.Eventually(t, "the live consumer waits for messages", func() (bool, string) {
		n := consumerInfo(t, js).NumWaiting
		return n > 0, "waiting pull requests: 0"
	})
	if _, err := rebuild.Rebuild(ctx, js, opts); !errors.Is(err, rebuild.ErrLive) {
		t.Fatalf("Rebuild while consuming = %v, want ErrLive", err)
	}
	if got := schemasLike(t, pool, schema); len(got) != 1 {
		t.Errorf("after a refused rebuild the schemas are %v, want %s alone", got, schema)
	}
	if got := consumerInfo(t, js).Config.DeliverPolicy; got != jetstream.DeliverAllPolicy {
		t.Errorf("a refused rebuild changed the consumer's deliver policy to %v", got)
	}

	// Stopped: the rebuild goes ahead.
	for _, r := range replicas {
		r.stop(t)
	}
	testenv.Eventually(t, "the stopped consumer's pull requests expire", func() (bool, string) {
		return consumerInfo(t, js).NumWaiting == 0, "still waiting"
	})
	last := rebuildOK(t, js, opts)
	wantRebuilt(t, js, pool, schema, last, before)

	// The service starts again: it applies what came after the rebuild,
	// once, and nothing from before it.
	startLive(t, pool, js, consumer.Config{}, nil)
	after := newAppEvent(w.campaigns[0])
	p.publish(t, after, false)
	waitApplied(t, pool, len(p.ids))
	var stage int
	if err := pool.QueryRow(ctx, `SELECT stage FROM apps WHERE application_id = $1`, after.GetApplicationId()).Scan(&stage); err != nil || stage != int(commonv1.Stage_STAGE_SIFT) {
		t.Errorf("the application submitted after the rebuild: stage %d, %v; want SIFT", stage, err)
	}
	testenv.Eventually(t, "the consumer acknowledges the new event", func() (bool, string) {
		info := consumerInfo(t, js)
		return info.Delivered.Stream == last+1 && info.NumAckPending == 0 && info.NumPending == 0, "not yet"
	})

	// AllowWhileLive rebuilds under the running service, which goes on
	// consuming into the new projection.
	before = tables(t, pool)
	opts.AllowWhileLive = true
	last = rebuildOK(t, js, opts)
	wantRebuilt(t, js, pool, schema, last, before)
	again := newAppEvent(w.campaigns[1])
	p.publish(t, again, false)
	waitApplied(t, pool, len(p.ids))
}

// rebuildOK runs a rebuild that must succeed and returns its last sequence.
func rebuildOK(t *testing.T, js jetstream.JetStream, opts rebuild.Options) uint64 {
	t.Helper()
	last, err := rebuild.Rebuild(context.Background(), js, opts)
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	return last
}

// wantRebuilt checks the swapped-in projection and the reset consumer.
func wantRebuilt(t *testing.T, js jetstream.JetStream, pool *pgxpool.Pool, schema string, last uint64, before map[string][]string) {
	t.Helper()
	if s := streamInfo(t, js); last != s.State.LastSeq {
		t.Errorf("rebuilt up to %d, want the stream's last sequence %d", last, s.State.LastSeq)
	}
	// The pool's connections name the schema, so they now read the rebuilt one.
	wantSameTables(t, tables(t, pool), before)
	if reasons, err := store.New(pool).RebuildNeeded(context.Background()); err != nil || len(reasons) != 0 {
		t.Errorf("the rebuilt projection still needs a rebuild: %v, %v", reasons, err)
	}
	if got := schemasLike(t, pool, schema); len(got) != 1 || got[0] != schema {
		t.Errorf("after the rebuild the schemas are %v, want %s alone", got, schema)
	}
	info := consumerInfo(t, js)
	cfg := info.Config
	if cfg.Durable != durable || cfg.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cfg.OptStartSeq != last+1 ||
		cfg.FilterSubject != "recruitment.>" || cfg.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("consumer after the rebuild: durable %q, deliver %v from %d, filter %q, ack %v; want %q from %d (after the last replayed), recruitment.>, explicit",
			cfg.Durable, cfg.DeliverPolicy, cfg.OptStartSeq, cfg.FilterSubject, cfg.AckPolicy, durable, last+1)
	}
	if info.Delivered.Stream > last || info.NumPending != 0 {
		t.Errorf("consumer after the rebuild: delivered up to %d with %d pending; want nothing past %d", info.Delivered.Stream, info.NumPending, last)
	}
}

// newAppEvent is a new application's submission in campaign c.
func newAppEvent(c *campaign) *eventsv1.Event {
	ev := event.New("applications", system, time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), event.Record{
		ApplicationID: event.NewID(), CampaignID: c.id, Region: c.region, Role: c.role, Version: 1,
	})
	ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	return ev
}

// TestRebuildRefusesWhileABatchIsApplied asks for a rebuild while the
// service is in the middle of applying a batch (as it mostly is under
// load): it must refuse, as when the service waits for messages.
func TestRebuildRefusesWhileABatchIsApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, js := jetStream(t)
	pool, schema, url := liveSchema(t)
	st := store.New(pool)
	entered, release := make(chan struct{}), make(chan struct{})
	first := true
	startLive(t, pool, js, consumer.Config{Batch: 1}, func(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
		if first {
			first = false
			close(entered)
			<-release
		}
		return st.Apply(ctx, tx, evs)
	})
	p := &publisher{js: admin, ids: map[string]bool{}}
	w := newWorkload(1, 1)
	p.publish(t, w.created()[0], false)
	<-entered

	done := make(chan error, 1)
	go func() {
		_, err := rebuild.Rebuild(ctx, js, rebuild.Options{DatabaseURL: url, Schema: schema, Stream: streamName, Batch: 10,
			Consumer: consumer.Config{Stream: streamName, Durable: durable}})
		done <- err
	}()
	// Either it answers, or it has gone ahead and built the new schema.
	var err error
	answered := false
	testenv.Eventually(t, "Rebuild answers or goes ahead", func() (bool, string) {
		select {
		case err = <-done:
			answered = true
			return true, ""
		default:
		}
		return len(schemasLike(t, pool, schema)) > 1, "neither"
	})
	close(release)
	if !answered {
		err = <-done
	}
	if !errors.Is(err, rebuild.ErrLive) {
		t.Errorf("Rebuild while the service applies a batch = %v, want ErrLive", err)
	}
	waitApplied(t, pool, len(p.ids))
}
