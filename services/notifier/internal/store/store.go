// Package store keeps the notifier's preferences, role mailboxes,
// notifications and messages in PostgreSQL (schema notifier). Writes join
// a transaction carried by ctx: the consumer's, whose inbox row commits
// with the notification it records.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's tables.
var Migrations = []pg.Migrations{pg.Embedded("notifier", migrations, "migrations")}

// Store implements notify.Store.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

var _ notify.Store = (*Store)(nil)

// InTx implements notify.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error { return fn(pg.WithTx(ctx, tx)) })
}

const prefColumns = `subject, email, mode, quiet_start, quiet_end, time_zone, webhook_url, webhook_secret, role, regions, updated_at, updated_by`

// Preferences implements notify.Store.
func (s *Store) Preferences(ctx context.Context, subject string) (notify.Preferences, error) {
	var (
		p          notify.Preferences
		start, end *int16
		role, mode string
	)
	err := pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT `+prefColumns+` FROM preferences WHERE subject = $1`, subject).Scan(
		&p.Subject, &p.Email, &mode, &start, &end, &p.TimeZone, &p.WebhookURL, &p.WebhookSecret, &role, &p.Regions, &p.UpdatedAt, &p.UpdatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notify.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("read preferences: %w", err)
	}
	p.Mode, p.Role = notify.Mode(mode), auth.Role(role)
	if start != nil && end != nil {
		p.Quiet = &notify.QuietHours{Start: int(*start), End: int(*end)}
	}
	return p, nil
}

// SetPreferences implements notify.Store.
func (s *Store) SetPreferences(ctx context.Context, p notify.Preferences) error {
	var start, end *int
	if p.Quiet != nil {
		start, end = &p.Quiet.Start, &p.Quiet.End
	}
	regions := p.Regions
	if regions == nil {
		regions = []string{}
	}
	_, err := pg.Q(ctx, s.pool).Exec(ctx, `INSERT INTO preferences (`+prefColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (subject) DO UPDATE SET email = $2, mode = $3, quiet_start = $4, quiet_end = $5, time_zone = $6,
			webhook_url = $7, webhook_secret = $8, role = $9, regions = $10, updated_at = $11, updated_by = $12`,
		p.Subject, p.Email, string(p.Mode), start, end, p.TimeZone, p.WebhookURL, p.WebhookSecret, string(p.Role), regions, p.UpdatedAt, p.UpdatedBy)
	if err != nil {
		return fmt.Errorf("save preferences: %w", err)
	}
	return nil
}

// Mailbox implements notify.Store.
func (s *Store) Mailbox(ctx context.Context, region string, role notify.MailboxRole) (notify.Mailbox, error) {
	m := notify.Mailbox{Region: region, Role: role}
	err := pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT email, updated_at, updated_by FROM role_mailboxes WHERE region = $1 AND role = $2`,
		region, string(role)).Scan(&m.Email, &m.UpdatedAt, &m.UpdatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, notify.ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("read mailbox: %w", err)
	}
	return m, nil
}

// SetMailbox implements notify.Store.
func (s *Store) SetMailbox(ctx context.Context, m notify.Mailbox) error {
	_, err := pg.Q(ctx, s.pool).Exec(ctx, `INSERT INTO role_mailboxes (region, role, email, updated_at, updated_by)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (region, role) DO UPDATE SET email = $3, updated_at = $4, updated_by = $5`,
		m.Region, string(m.Role), m.Email, m.UpdatedAt, m.UpdatedBy)
	if err != nil {
		return fmt.Errorf("save mailbox: %w", err)
	}
	return nil
}

// DeleteMailbox implements notify.Store.
func (s *Store) DeleteMailbox(ctx context.Context, region string, role notify.MailboxRole) error {
	if _, err := pg.Q(ctx, s.pool).Exec(ctx, `DELETE FROM role_mailboxes WHERE region = $1 AND role = $2`, region, string(role)); err != nil {
		return fmt.Errorf("delete mailbox: %w", err)
	}
	return nil
}

// Mailboxes implements notify.Store.
func (s *Store) Mailboxes(ctx context.Context, region string) ([]notify.Mailbox, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT region, role, email, updated_at, updated_by FROM role_mailboxes
		WHERE $1 = '' OR region = $1 ORDER BY region, role`, region)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (notify.Mailbox, error) {
		var m notify.Mailbox
		var role string
		err := row.Scan(&m.Region, &role, &m.Email, &m.UpdatedAt, &m.UpdatedBy)
		m.Role = notify.MailboxRole(role)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	return out, nil
}

// SetCampaignTitle implements notify.Store.
func (s *Store) SetCampaignTitle(ctx context.Context, campaignID, title string) error {
	_, err := pg.Q(ctx, s.pool).Exec(ctx, `INSERT INTO campaigns (campaign_id, title) VALUES ($1, $2)
		ON CONFLICT (campaign_id) DO UPDATE SET title = $2`, campaignID, title)
	if err != nil {
		return fmt.Errorf("save campaign title: %w", err)
	}
	return nil
}

// CampaignTitle implements notify.Store; "" when not known.
func (s *Store) CampaignTitle(ctx context.Context, campaignID string) (string, error) {
	var title string
	err := pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT title FROM campaigns WHERE campaign_id::text = $1`, campaignID).Scan(&title)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read campaign title: %w", err)
	}
	return title, nil
}

const notificationColumns = `event_id, event, application_id, region, campaign_id, job_role, stage, rule, threshold_days,
	since, occurred_at, next_actor, assignee, blocked_reason, recipient, digest, due_at, state, created_at`

// AddNotification implements notify.Store.
func (s *Store) AddNotification(ctx context.Context, n notify.Notification) (bool, error) {
	var since *time.Time
	if !n.Since.IsZero() {
		since = &n.Since
	}
	tag, err := pg.Q(ctx, s.pool).Exec(ctx, `INSERT INTO notifications (`+notificationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (event_id) DO NOTHING`,
		n.EventID, n.Event, n.ApplicationID, n.Region, n.CampaignID, int32(n.JobRole), int32(n.Stage), int32(n.Rule), n.ThresholdDays,
		since, n.OccurredAt, string(n.NextActor), n.Assignee, int32(n.BlockedReason), n.Recipient, n.Digest, n.DueAt, string(n.State), n.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("record notification: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func scanNotification(row pgx.CollectableRow) (notify.Notification, error) {
	var (
		n                            notify.Notification
		since                        *time.Time
		jobRole, stage, rule, reason int32
		appID                        string
		nextActor, state             string
	)
	err := row.Scan(&n.EventID, &n.Event, &appID, &n.Region, &n.CampaignID, &jobRole, &stage, &rule, &n.ThresholdDays,
		&since, &n.OccurredAt, &nextActor, &n.Assignee, &reason, &n.Recipient, &n.Digest, &n.DueAt, &state, &n.CreatedAt)
	n.ApplicationID = appID
	n.JobRole, n.Stage, n.Rule, n.BlockedReason = commonv1.JobRole(jobRole), commonv1.Stage(stage), eventsv1.StuckRule(rule), commonv1.BlockReason(reason)
	n.NextActor, n.State = notify.MailboxRole(nextActor), notify.State(state)
	if since != nil {
		n.Since = *since
	}
	return n, err
}

// selectNotifications reads uuid columns as text.
const selectNotifications = `SELECT event_id::text, event, application_id::text, region, campaign_id, job_role, stage, rule, threshold_days,
	since, occurred_at, next_actor, assignee, blocked_reason, recipient, digest, due_at, state, created_at FROM notifications`

// DueNotifications implements notify.Store: the rows stay locked until
// the transaction ends, and a second replica skips them.
func (s *Store) DueNotifications(ctx context.Context, now time.Time, limit int) ([]notify.Notification, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, selectNotifications+`
		WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at, event_id LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanNotification)
	if err != nil {
		return nil, fmt.Errorf("due notifications: %w", err)
	}
	return out, nil
}

// SetNotificationState implements notify.Store.
func (s *Store) SetNotificationState(ctx context.Context, eventIDs []string, st notify.State) error {
	if _, err := pg.Q(ctx, s.pool).Exec(ctx, `UPDATE notifications SET state = $2 WHERE event_id = ANY($1::uuid[])`, eventIDs, string(st)); err != nil {
		return fmt.Errorf("set notification state: %w", err)
	}
	return nil
}

// Notifications implements notify.Store.
func (s *Store) Notifications(ctx context.Context, eventIDs []string) ([]notify.Notification, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, selectNotifications+` WHERE event_id = ANY($1::uuid[])`, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanNotification)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	return out, nil
}

// AddMessage implements notify.Store.
func (s *Store) AddMessage(ctx context.Context, m notify.Message) error {
	_, err := pg.Q(ctx, s.pool).Exec(ctx, `INSERT INTO messages (key, channel, kind, recipient, address, event_ids, state, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6::uuid[], $7, $8, $9)`,
		m.Key, string(m.Channel), m.Kind, m.Recipient, m.Address, m.EventIDs, string(m.State), m.NextAttemptAt, m.CreatedAt)
	if err != nil {
		return fmt.Errorf("add message: %w", err)
	}
	return nil
}

const selectMessages = `SELECT id, key, channel, kind, recipient, address, event_ids::text[], state, attempts, next_attempt_at, last_error,
	created_at, finished_at FROM messages`

func scanMessage(row pgx.CollectableRow) (notify.Message, error) {
	var (
		m              notify.Message
		channel, state string
		finished       *time.Time
	)
	err := row.Scan(&m.ID, &m.Key, &channel, &m.Kind, &m.Recipient, &m.Address, &m.EventIDs, &state, &m.Attempts, &m.NextAttemptAt,
		&m.LastError, &m.CreatedAt, &finished)
	m.Channel, m.State = notify.Channel(channel), notify.MessageState(state)
	if finished != nil {
		m.FinishedAt = *finished
	}
	return m, err
}

// ClaimMessage implements notify.Store. The row stays locked while fn
// sends it, so another replica skips it; if the process dies before the
// commit, the row is as it was and is sent again (docs/design.md,
// "Notifier": at most one extra copy per crash).
func (s *Store) ClaimMessage(ctx context.Context, now time.Time, fn func(ctx context.Context, m notify.Message) (notify.Outcome, error)) (bool, error) {
	found := false
	err := s.InTx(ctx, func(ctx context.Context) error {
		rows, err := pg.Q(ctx, s.pool).Query(ctx, selectMessages+`
			WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, now)
		if err != nil {
			return fmt.Errorf("claim message: %w", err)
		}
		ms, err := pgx.CollectRows(rows, scanMessage)
		if err != nil {
			return fmt.Errorf("claim message: %w", err)
		}
		if len(ms) == 0 {
			return nil
		}
		found = true
		o, err := fn(ctx, ms[0])
		if err != nil {
			return err
		}
		var finished *time.Time
		next := ms[0].NextAttemptAt
		if o.State == notify.MessagePending {
			next = o.NextAttemptAt
		} else {
			finished = &o.At
		}
		_, err = pg.Q(ctx, s.pool).Exec(ctx, `UPDATE messages SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5, finished_at = $6
			WHERE id = $1`, ms[0].ID, string(o.State), o.Attempts, next, o.LastError, finished)
		if err != nil {
			return fmt.Errorf("record message outcome: %w", err)
		}
		return nil
	})
	return found, err
}

// DeadLetters implements notify.Store.
func (s *Store) DeadLetters(ctx context.Context, after int64, limit int) ([]notify.Message, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, selectMessages+`
		WHERE state = 'dead' AND ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// RetryDeadLetter implements notify.Store.
func (s *Store) RetryDeadLetter(ctx context.Context, id int64, now time.Time) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		var state string
		err := pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT state FROM messages WHERE id = $1 FOR UPDATE`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no message %d", notify.ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("retry dead letter: %w", err)
		}
		if state != string(notify.MessageDead) {
			return fmt.Errorf("%w: message %d is %s", notify.ErrNotDead, id, state)
		}
		_, err = pg.Q(ctx, s.pool).Exec(ctx, `UPDATE messages SET state = 'pending', attempts = 0, next_attempt_at = $2, finished_at = NULL
			WHERE id = $1`, id, now)
		if err != nil {
			return fmt.Errorf("retry dead letter: %w", err)
		}
		return nil
	})
}
