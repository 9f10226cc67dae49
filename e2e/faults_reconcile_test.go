package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// tally is what reconciling one case found.
type tally struct {
	sent, ok int
	errs     string
	// lost: calls answered OK whose change is not in its owner's tables
	// (owner), events written that are not on the stream (stream),
	// events on the stream that a consumer never acted on (consumers),
	// and stages reached that the report does not count (report).
	lostOwner, lostStream, lostConsumers, lostReport int
	// doubled: counts in the report above what the owners' events say.
	doubled int
	// streamDups: event ids on the stream more than once (dropped by every
	// consumer's inbox, so not double counted; see the duplicate-window case).
	streamDups int
	// lostThenRepublished: events the stream had lost before the outbox
	// rows of the lost window were published again (the data-loss case).
	lostThenRepublished int
	recovery            time.Duration
	// notes: what else the case measured (faultRun.notes).
	notes string
	// problems names each discrepancy, for the failure message.
	problems []string
}

func (t *tally) lost() int { return t.lostOwner + t.lostStream + t.lostConsumers + t.lostReport }

func (t *tally) problem(format string, args ...any) {
	if len(t.problems) < 20 {
		t.problems = append(t.problems, fmt.Sprintf(format, args...))
	}
}

// written is one outbox row: an event an owner wrote with its change.
type written struct {
	service, id, name, application, campaign, region string
	published                                        bool
}

// outboxes reads every service's outbox.
func outboxes(ctx context.Context, db *pgxpool.Pool, prefix string) ([]written, error) {
	var all []written
	for _, service := range services {
		rows, err := db.Query(ctx, `SELECT payload, published_at IS NOT NULL FROM `+pgx.Identifier{prefix + "_" + service, "outbox"}.Sanitize()+` ORDER BY id`)
		if err != nil {
			return nil, fmt.Errorf("read %s's outbox: %w", service, err)
		}
		var (
			payload   []byte
			published bool
		)
		_, err = pgx.ForEachRow(rows, []any{&payload, &published}, func() error {
			ev, err := event.Unmarshal(payload)
			if err != nil {
				return fmt.Errorf("%s's outbox: %w", service, err)
			}
			name, _ := event.Name(ev)
			all = append(all, written{service: service, id: ev.GetEventId(), name: name, application: ev.GetApplicationId(),
				campaign: ev.GetCampaignId(), region: ev.GetRegion(), published: published})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s's outbox: %w", service, err)
		}
	}
	return all, nil
}

// unpublished counts the outbox rows not yet published, in every service.
func unpublished(ctx context.Context, db *pgxpool.Pool, prefix string) (int, error) {
	total := 0
	for _, service := range services {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{prefix + "_" + service, "outbox"}.Sanitize()+
			` WHERE published_at IS NULL`).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// busyConsumers names the durable consumers with messages still to
// deliver or to be acknowledged.
func busyConsumers(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	str, err := js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		return nil, err
	}
	var busy []string
	list := str.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Config.Durable == "" {
			continue // the suite's own readers of the stream
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			busy = append(busy, fmt.Sprintf("%s (%d pending, %d unacknowledged)", info.Name, info.NumPending, info.NumAckPending))
		}
	}
	return busy, list.Err()
}

// settle waits until the system is quiet: every outbox published and every
// consumer caught up, twice running (an event a consumer applies may write
// another to its outbox).
func settle(t *testing.T, db *pgxpool.Pool, js jetstream.JetStream, prefix string) {
	t.Helper()
	quiet := 0
	testenv.Eventually(t, "every outbox published and every consumer caught up", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		busy, err := busyConsumers(ctx, js)
		if err != nil {
			quiet = 0
			return false, err.Error()
		}
		n, err := unpublished(ctx, db, prefix)
		if err != nil || n > 0 || len(busy) > 0 {
			quiet = 0
			return false, fmt.Sprintf("%d unpublished (%v); busy: %v", n, err, busy)
		}
		quiet++
		if quiet < 3 {
			time.Sleep(200 * time.Millisecond)
			return false, "quiet, checking again"
		}
		return true, ""
	})
}

// onStream counts the messages on the stream by event id, checking that
// each message's Nats-Msg-Id is its event's id.
func onStream(ctx context.Context, js jetstream.JetStream) (map[string]int, error) {
	str, err := js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		return nil, err
	}
	info, err := str.Info(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	if info.State.Msgs == 0 {
		return counts, nil
	}
	cons, err := js.OrderedConsumer(ctx, "RECRUITMENT", jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	read := uint64(0)
	for read < info.State.Msgs {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			ev, err := event.Unmarshal(m.Data())
			if err != nil {
				return nil, fmt.Errorf("stream message on %s: %w", m.Subject(), err)
			}
			if id := m.Headers().Get(jetstream.MsgIDHeader); id != ev.GetEventId() {
				return nil, fmt.Errorf("stream message %s has Nats-Msg-Id %q", ev.GetEventId(), id)
			}
			counts[ev.GetEventId()]++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if got == 0 {
			return nil, fmt.Errorf("read %d of the stream's %d messages, then none came", read, info.State.Msgs)
		}
		read += uint64(got)
	}
	return counts, nil
}

// stageOf is the furthest stage an application reached, by the events
// its owners wrote about it.
var stageOf = map[string]commonv1.Stage{
	"application.submitted": commonv1.Stage_STAGE_SIFT,
	"sift.passed":           commonv1.Stage_STAGE_INTERVIEW,
	"interview.passed":      commonv1.Stage_STAGE_OFFER,
	"offer.accepted":        commonv1.Stage_STAGE_PRE_EMPLOYMENT,
	"candidate.started":     commonv1.Stage_STAGE_HIRED,
}

// reconcile checks every call the load was told was OK against the
// owners' tables, the stream and the report, once the system has settled.
func reconcile(t *testing.T, st *stack, db *pgxpool.Pool, rec *recorder) *tally {
	t.Helper()
	settle(t, db, st.js, st.prefix)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec.mu.Lock()
	tl := &tally{sent: rec.sent, ok: len(rec.ok)}
	okCalls := append([]okCall(nil), rec.ok...)
	rec.mu.Unlock()
	tl.errs = rec.errors()

	events, err := outboxes(ctx, db, st.prefix)
	if err != nil {
		t.Fatal(err)
	}
	// Owners: each OK change wrote its event in the change's transaction.
	wrote := map[string]bool{}
	for _, w := range events {
		wrote[writtenKey(w.name, w.application, w.campaign)] = true
	}
	for _, c := range okCalls {
		if !wrote[writtenKey(c.event, c.application, c.campaign)] {
			tl.lostOwner++
			tl.problem("%s answered OK for %s%s, but its owner has no %s", c.method, c.application, c.campaign, c.event)
		}
	}

	// Stream: every event written is there exactly once, and nothing else.
	counts, err := onStream(ctx, st.js)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, w := range events {
		ids[w.id] = true
		switch n := counts[w.id]; {
		case n == 0:
			tl.lostStream++
			tl.problem("%s %s (by %s) is not on the stream", w.name, w.id, w.service)
		case n > 1:
			tl.streamDups += n - 1
		}
	}
	for id := range counts {
		if !ids[id] {
			tl.problem("event %s on the stream was written by no service", id)
			tl.lostOwner++
		}
	}

	// Consumers: each service acted on the events it consumes.
	want := map[string]commonv1.Stage{} // application → furthest stage
	region := map[string]string{}
	for _, w := range events {
		if s, ok := stageOf[w.name]; ok && s > want[w.application] {
			want[w.application] = s
		}
		if w.application != "" {
			region[w.application] = w.region
		}
	}
	type check struct{ why, sql string }
	for name, c := range map[string]check{
		"application.submitted": {"sifting opened a sift case", `SELECT count(*) FROM %[1]s_sifting.cases WHERE application_id = $1`},
		"interview.passed":      {"offers opened an offer", `SELECT count(*) FROM %[1]s_offers.offers WHERE application_id = $1`},
		"offer.accepted":        {"vetting opened a case", `SELECT count(*) FROM %[1]s_vetting.cases WHERE application_id = $1`},
		"vetting.cleared":       {"offers heard vetting cleared", `SELECT count(*) FROM %[1]s_offers.offers WHERE application_id = $1 AND vetting_cleared`},
	} {
		for _, w := range events {
			if w.name != name {
				continue
			}
			var n int
			if err := db.QueryRow(ctx, fmt.Sprintf(c.sql, st.prefix), w.application).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				tl.lostConsumers++
				tl.problem("%s %s: want %s", name, w.application, c.why)
			}
		}
	}
	stages, err := stagesIn(ctx, db, fmt.Sprintf(`SELECT id::text, stage FROM %s_applications.applications`, st.prefix),
		func(s string) commonv1.Stage { return commonv1.Stage(commonv1.Stage_value["STAGE_"+s]) })
	if err != nil {
		t.Fatal(err)
	}
	for app, s := range want {
		if stages[app] != s {
			tl.lostConsumers++
			tl.problem("applications has %s at %v; its events say %v", app, stages[app], s)
		}
	}

	// Report: each application at its stage, each stage counted once per
	// application that reached it.
	reported, err := stagesIn(ctx, db, fmt.Sprintf(`SELECT application_id::text, stage FROM %s_reporting.apps`, st.prefix),
		func(s int32) commonv1.Stage { return commonv1.Stage(s) })
	if err != nil {
		t.Fatal(err)
	}
	for app, s := range want {
		if reported[app] != s {
			tl.lostReport++
			tl.problem("reporting has %s at %v; its events say %v", app, reported[app], s)
		}
	}
	reached := map[string]map[commonv1.Stage]int{}
	for app, s := range want {
		if reached[region[app]] == nil {
			reached[region[app]] = map[commonv1.Stage]int{}
		}
		for stage := commonv1.Stage_STAGE_SIFT; stage <= s; stage++ {
			reached[region[app]][stage]++
		}
	}
	reporting := reportingv1.NewReportingServiceClient(st.conns["reporting"])
	admin := token(t, "admin-1", auth.RoleAdmin)
	for _, r := range loadRegions {
		f, err := reporting.GetFunnel(ctx, &reportingv1.GetFunnelRequest{Region: r}, admin)
		if err != nil {
			t.Fatalf("funnel of %s: %v", r, err)
		}
		for _, fs := range f.GetStages() {
			got, exp := int(fs.GetReached()), reached[r][fs.GetStage()]
			switch {
			case got > exp:
				tl.doubled += got - exp
				tl.problem("the %s funnel counts %d reaching %v; the events say %d", r, got, fs.GetStage(), exp)
			case got < exp:
				tl.lostReport += exp - got
				tl.problem("the %s funnel counts %d reaching %v; the events say %d", r, got, fs.GetStage(), exp)
			}
		}
	}
	return tl
}

// writtenKey names an event about an application, or about a campaign
// (application "").
func writtenKey(name, application, campaign string) string {
	if application == "" {
		return name + " campaign " + campaign
	}
	return name + " " + application
}

// stagesIn reads (application id, stage) rows.
func stagesIn[S any](ctx context.Context, db *pgxpool.Pool, sql string, stage func(S) commonv1.Stage) (map[string]commonv1.Stage, error) {
	out := map[string]commonv1.Stage{}
	rows, err := db.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			s  S
		)
		if err := rows.Scan(&id, &s); err != nil {
			return nil, err
		}
		out[id] = stage(s)
	}
	return out, rows.Err()
}

// format is the tally as one row of the faults table.
func (t *tally) format(name string) string {
	lost := fmt.Sprint(t.lost())
	if t.lostThenRepublished > 0 {
		lost += fmt.Sprintf(" (%d before the recovery)", t.lostThenRepublished)
	}
	return fmt.Sprintf("| %s | %d | %d | %s | %s | %d | %d | %s | %s |", name, t.sent, t.ok, t.errs, lost, t.doubled, t.streamDups,
		t.recovery.Round(10*time.Millisecond), t.notes)
}

const tallyHeader = "| case | sent | OK | errors by code | lost | double counted | stream duplicates | recovery | notes |\n|---|---|---|---|---|---|---|---|---|"

func (t *tally) String() string { return strings.Join(t.problems, "\n") }
