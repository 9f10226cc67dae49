package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// Producer is reporting's name as the producer of stuck events (event.Owners
// grants it "stuck").
const Producer = "reporting"

// DueChannel is the notification (suffixed to the schema) sent when a
// transaction writes a pending crossing: the scheduler wakes and looks for
// the earliest again.
const DueChannel = "_stuck_due"

// alertKey is one application's clock of one rule.
type alertKey struct {
	app  string
	kind projection.StuckKind
}

// alertState is what a batch reads before it announces: the alerts of its
// applications (locked), their stuck clocks as stored, and the epoch that
// makes event ids differ from those of a projection this one replaced.
type alertState struct {
	epoch  string
	alerts map[alertKey]projection.Alert
	due    map[alertKey]*time.Time
	clocks map[alertKey]clockRow
}

// alertRow is an alert to store, with its next crossing.
type alertRow struct {
	alertKey
	projection.Alert
	due *time.Time
}

const alertColumns = `application_id::text, kind, generation, stage, since, level, due_at, settles_at`

const clockColumns = `application_id::text, kind, region, coalesce(campaign_id::text, ''), role, stage, since, warning_at, breach_at,
	blocked_reason, next_actor, assignee`

// queueLoadAlerts queues, into a batch of tx, the reads of the alerts
// (FOR UPDATE: the scheduler skips what a batch holds, and a batch waits
// for a claim the scheduler holds, then reads what it wrote) and stored
// clocks of apps, and the epoch.
func queueLoadAlerts(b *pgx.Batch, apps any, st *alertState) {
	st.alerts, st.due = map[alertKey]projection.Alert{}, map[alertKey]*time.Time{}
	b.Queue(`SELECT `+alertColumns+` FROM stuck_alerts WHERE application_id = ANY($1::uuid[]) FOR UPDATE`, apps).
		Query(func(rows pgx.Rows) error { return scanAlerts(rows, st.alerts, st.due) })
	queueLoadClocks(b, apps, st)
}

// queueLoadClocks queues the reads of the stored clocks of apps and of the
// epoch.
func queueLoadClocks(b *pgx.Batch, apps any, st *alertState) {
	st.clocks = map[alertKey]clockRow{}
	b.Queue(`SELECT `+clockColumns+` FROM stuck WHERE application_id = ANY($1::uuid[])`, apps).
		Query(func(rows pgx.Rows) error { return scanClocks(rows, st.clocks) })
	b.Queue(`SELECT epoch::text FROM projection_epoch`).QueryRow(func(row pgx.Row) error {
		return wrap("read projection epoch", row.Scan(&st.epoch))
	})
}

func scanAlerts(rows pgx.Rows, into map[alertKey]projection.Alert, due map[alertKey]*time.Time) error {
	defer rows.Close()
	for rows.Next() {
		var k alertKey
		var a projection.Alert
		var kind, stage, level int32
		var since, dueAt *time.Time
		if err := rows.Scan(&k.app, &kind, &a.Generation, &stage, &since, &level, &dueAt, &a.SettlesAt); err != nil {
			return wrap("read stuck alerts", err)
		}
		k.kind, a.Stage, a.Level = projection.StuckKind(kind), commonv1.Stage(stage), projection.Level(level)
		if since != nil {
			a.Running, a.Since = true, since.UTC()
		}
		if a.SettlesAt != nil {
			*a.SettlesAt = a.SettlesAt.UTC()
		}
		into[k] = a
		due[k] = dueAt
	}
	return wrap("read stuck alerts", rows.Err())
}

func scanClocks(rows pgx.Rows, into map[alertKey]clockRow) error {
	defer rows.Close()
	for rows.Next() {
		var r clockRow
		var kind, stage, reason, actor int32
		if err := rows.Scan(&r.app, &kind, &r.region, &r.campaign, &r.role, &stage, &r.Since, &r.WarningAt, &r.BreachAt,
			&reason, &actor, &r.Assignee); err != nil {
			return wrap("read stuck clocks", err)
		}
		r.Kind, r.Stage, r.BlockedReason, r.NextActor = projection.StuckKind(kind), commonv1.Stage(stage), commonv1.BlockReason(reason), projection.NextActor(actor)
		r.Since, r.WarningAt, r.BreachAt = r.Since.UTC(), r.WarningAt.UTC(), r.BreachAt.UTC()
		into[alertKey{r.app, r.Kind}] = r
	}
	return wrap("read stuck clocks", rows.Err())
}

// announcer gathers a transaction's alerts and the stuck events to write.
type announcer struct {
	st    *alertState
	now   time.Time
	quiet bool
	// settle is how long the crossings an imported application's batch
	// finds are held (zero: none are).
	settle time.Duration
	rows   []alertRow
	events []*eventsv1.Event
}

// advance moves every alert of application a (its stored alerts and its
// clocks now) to now; stoppedAt is when a clock that stops did.
func (n *announcer) advance(a *projection.App, clocks []projection.Clock, stoppedAt time.Time) {
	if a.Region == "" {
		return // not placed yet: no clock can be announced (or was)
	}
	// An imported application's history arrives in pieces (each stage's
	// owner replays its part), so a crossing found in it may be stopped by
	// the next piece: it waits until the history has settled. A quiet
	// store publishes nothing anyway.
	var settle time.Time
	if a.Imported && !n.quiet {
		settle = n.now.Add(n.settle)
	}
	now := map[projection.StuckKind]*projection.Clock{}
	for i := range clocks {
		now[clocks[i].Kind] = &clocks[i]
	}
	for _, kind := range []projection.StuckKind{projection.StuckStage, projection.StuckVettingBlocked, projection.StuckVettingOverdue,
		projection.StuckCheckOutstanding} {
		k := alertKey{a.ID, kind}
		prev, had := n.st.alerts[k]
		clk := now[kind]
		if !had && clk == nil {
			continue
		}
		var prevClock *projection.Clock
		if old, ok := n.st.clocks[k]; ok {
			prevClock = &old.Clock
		}
		next, anns, due := projection.Advance(prev, prevClock, clk, n.now, stoppedAt, settle)
		if !had || !sameAlert(prev, next) || !sameTime(n.st.due[k], due) {
			n.rows = append(n.rows, alertRow{alertKey: k, Alert: next, due: due})
		}
		env := clockRow{app: a.ID, region: a.Region, campaign: a.CampaignID, role: int32(a.Role)}
		n.announce(env, kind, anns)
	}
}

// sameAlert compares alerts by instant, whatever the times' locations.
func sameAlert(a, b projection.Alert) bool {
	return a.Generation == b.Generation && a.Running == b.Running && a.Stage == b.Stage && a.Since.Equal(b.Since) && a.Level == b.Level &&
		sameTime(a.SettlesAt, b.SettlesAt)
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// announce turns announcements into events, unless quiet.
func (n *announcer) announce(env clockRow, kind projection.StuckKind, anns []projection.Announcement) {
	if n.quiet {
		return
	}
	for _, ann := range anns {
		ann.Clock.Kind = kind
		n.events = append(n.events, stuckEvent(n.st.epoch, env, ann))
	}
}

// queueWrite queues the alerts' upsert and, if a crossing is pending, the
// scheduler's wake-up (delivered at commit).
func (n *announcer) queueWrite(b *pgx.Batch) error {
	if len(n.rows) == 0 {
		return nil
	}
	m := len(n.rows)
	app := make([]string, m)
	kind, stage, level := make([]int32, m), make([]int32, m), make([]int32, m)
	gen := make([]int64, m)
	since, due, settles := make([]*time.Time, m), make([]*time.Time, m), make([]*time.Time, m)
	pending := false
	for i, r := range n.rows {
		app[i], kind[i], stage[i], level[i], gen[i] = r.app, int32(r.kind), int32(r.Stage), int32(r.Level), r.Generation
		if r.Running {
			since[i] = &r.Since
		}
		due[i], settles[i] = r.due, r.SettlesAt
		pending = pending || r.due != nil
	}
	ids, err := pg.UUIDs(app)
	if err != nil {
		return fmt.Errorf("store stuck alerts: %w", err)
	}
	queue(b, "store stuck alerts", `INSERT INTO stuck_alerts (application_id, kind, generation, stage, since, level, due_at, settles_at)
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::int[], $5::timestamptz[], $6::int[], $7::timestamptz[],
			$8::timestamptz[])
		ON CONFLICT (application_id, kind) DO UPDATE SET generation = excluded.generation, stage = excluded.stage,
			since = excluded.since, level = excluded.level, due_at = excluded.due_at, settles_at = excluded.settles_at`,
		ids, kind, gen, stage, since, level, due, settles)
	if pending {
		queue(b, "wake the stuck scheduler", `SELECT pg_notify(current_schema() || '`+DueChannel+`', '')`)
	}
	return nil
}

// appendEvents writes the announcements to the outbox, in tx.
func (n *announcer) appendEvents(ctx context.Context, tx pgx.Tx) error {
	if len(n.events) == 0 {
		return nil
	}
	return outbox.Append(ctx, tx, n.events...)
}

// eventIDs is the namespace of stuck event ids.
var eventIDs = uuid.MustParse("6f0a4f2e-3c55-4c1e-9b7a-0d6c2b1f5e11")

// stuckEvent is the event of ann about env's application. Its id is
// derived from the projection's epoch, the application, the rule, the
// clock's generation and the event's name: one crossing has one id,
// whichever replica writes it and however often.
func stuckEvent(epoch string, env clockRow, ann projection.Announcement) *eventsv1.Event {
	c := ann.Clock
	name := "stuck.warning"
	switch {
	case ann.Resolved:
		name = "stuck.resolved"
	case ann.Level == projection.LevelBreach:
		name = "stuck.breach"
	}
	ev := event.New(Producer, event.SystemActor(Producer), ann.At, event.Record{
		ApplicationID: env.app, CampaignID: env.campaign, Region: env.region, Role: commonv1.JobRole(env.role),
	})
	ev.EventId = uuid.NewSHA1(eventIDs, fmt.Appendf(nil, "%s/%s/%d/%d/%s", epoch, env.app, c.Kind, ann.Generation, name)).String()
	actor := commonv1.CallerRole_CALLER_ROLE_SPOC
	if c.NextActor == projection.ActorVetting {
		actor = commonv1.CallerRole_CALLER_ROLE_VETTING
	}
	p := &eventsv1.StuckChanged{
		Rule: eventsv1.StuckRule(c.Kind), Stage: c.Stage, Since: timestamppb.New(c.Since), NextActor: actor,
		Assignee: c.Assignee, BlockedReason: c.BlockedReason,
	}
	if !c.WarningAt.IsZero() {
		p.ThresholdDays = int32(c.ThresholdDays(ann.Level))
	}
	switch name {
	case "stuck.warning":
		ev.Payload = &eventsv1.Event_StuckWarning{StuckWarning: p}
	case "stuck.breach":
		ev.Payload = &eventsv1.Event_StuckBreach{StuckBreach: p}
	default:
		ev.Payload = &eventsv1.Event_StuckResolved{StuckResolved: p}
	}
	return ev
}

// PublishDue claims up to limit alerts whose next crossing is due at now
// (FOR UPDATE SKIP LOCKED: replicas claim different rows, and skip those a
// batch is changing, which announces them itself), writes their crossings
// to the outbox and moves them to their next crossing, in one transaction:
// a crossing is written once, or not at all and claimed again. It returns
// how many alerts it claimed and the events written, by name.
func (s *Store) PublishDue(ctx context.Context, now time.Time, limit int) (int, map[string]int, error) {
	written := map[string]int{}
	claimed := 0
	err := pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+alertColumns+` FROM stuck_alerts WHERE due_at <= $1
			ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
		if err != nil {
			return fmt.Errorf("claim due stuck alerts: %w", err)
		}
		st := &alertState{}
		due := map[alertKey]projection.Alert{}
		if err := scanAlerts(rows, due, map[alertKey]*time.Time{}); err != nil {
			return err
		}
		claimed = len(due)
		if claimed == 0 {
			return nil
		}
		apps := make([]string, 0, len(due))
		for k := range due {
			apps = append(apps, k.app)
		}
		ids, err := pg.UUIDs(apps)
		if err != nil {
			return fmt.Errorf("claim due stuck alerts: %w", err)
		}
		// Read after the claim, in a new snapshot: a batch that changed
		// these clocks committed before the claim could lock them. Only the
		// claimed alerts are locked: locking the applications' other
		// alerts too could deadlock with a replica that claimed those.
		b := &pgx.Batch{}
		queueLoadClocks(b, ids, st)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		n := &announcer{st: st, now: now, quiet: s.quiet}
		for k, prev := range due {
			var clk *projection.Clock
			env, ok := st.clocks[k]
			if ok {
				clk = &env.Clock
			}
			next, anns, at := projection.Advance(prev, clk, clk, now, now, time.Time{})
			n.rows = append(n.rows, alertRow{alertKey: k, Alert: next, due: at})
			if ok {
				n.announce(env, k.kind, anns)
			}
		}
		for _, ev := range n.events {
			name, _ := event.Name(ev)
			written[name]++
		}
		b = &pgx.Batch{}
		if err := n.queueWrite(b); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return n.appendEvents(ctx, tx)
	})
	if err != nil {
		return 0, nil, err
	}
	return claimed, written, nil
}

// NextDue returns the earliest pending crossing (nil if none), how many
// are pending, and how many of those are due at now.
func (s *Store) NextDue(ctx context.Context, now time.Time) (*time.Time, int64, int64, error) {
	var next *time.Time
	var pending, due int64
	err := s.pool.QueryRow(ctx, `SELECT min(due_at), count(*), count(*) FILTER (WHERE due_at <= $1)
		FROM stuck_alerts WHERE due_at IS NOT NULL`, now).Scan(&next, &pending, &due)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read next stuck crossing: %w", err)
	}
	return next, pending, due, nil
}
