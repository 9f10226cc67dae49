// Package notify holds the notifier's rules: who is told about a stuck or
// newly assigned case, when (at once, in the daily digest, after quiet
// hours, never), what a message says and whether it may name the
// candidate, and how a failed send is retried until it is dead-lettered.
// It imports no transport, database or broker: the store, the channels
// and the candidates' contacts are small interfaces it declares.
package notify

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Mode is how a person wants to be told.
type Mode string

// The modes.
const (
	ModeOff       Mode = "off"
	ModeDigest    Mode = "digest"
	ModeImmediate Mode = "immediate"
)

// DefaultTimeZone is where quiet hours are read when a person names none,
// and where the digest hour always is.
const DefaultTimeZone = "Europe/London"

// Preferences are one person's delivery settings.
type Preferences struct {
	Subject string
	Email   string
	Mode    Mode
	// Quiet is nil for no quiet hours.
	Quiet         *QuietHours
	TimeZone      string
	WebhookURL    string
	WebhookSecret string
	// Role and Regions are what the person does, and where.
	Role      auth.Role
	Regions   []string
	UpdatedAt time.Time
	UpdatedBy string
}

// QuietHours are minutes after midnight: Start inclusive, End exclusive;
// Start after End spans midnight.
type QuietHours struct {
	Start, End int
}

// MailboxRole is the role a region's mailbox stands for.
type MailboxRole string

// The mailbox roles: the next actors of a case.
const (
	MailboxSPOC    MailboxRole = "spoc"
	MailboxVetting MailboxRole = "vetting"
)

// Mailbox is a region's role mailbox.
type Mailbox struct {
	Region    string
	Role      MailboxRole
	Email     string
	UpdatedAt time.Time
	UpdatedBy string
}

// MailboxRecipient is how a notification addressed to a mailbox names its
// recipient.
func MailboxRecipient(region string, role MailboxRole) string {
	return "mailbox:" + region + ":" + string(role)
}

// State is where a notification stands.
type State string

// The states of a notification.
const (
	StatePending     State = "pending"
	StateQueued      State = "queued"
	StateOff         State = "off"
	StateUnaddressed State = "unaddressed"
)

// Notification is what the notifier recorded of one event: the facts a
// message shows (never the candidate's name), who it is for, and when.
type Notification struct {
	EventID       string
	Event         string
	ApplicationID string
	Region        string
	CampaignID    string
	JobRole       commonv1.JobRole
	Stage         commonv1.Stage
	Rule          eventsv1.StuckRule
	ThresholdDays int32
	// Since is when the stuck clock started; zero for an assignment.
	Since         time.Time
	OccurredAt    time.Time
	NextActor     MailboxRole
	Assignee      string
	BlockedReason commonv1.BlockReason
	// Recipient is a subject, or a MailboxRecipient.
	Recipient string
	Digest    bool
	DueAt     time.Time
	State     State
	CreatedAt time.Time
	// CampaignTitle is filled in when the message is written, if known.
	CampaignTitle string
}

// Due is when the stuck threshold was (or will be) reached: since plus
// the threshold; zero for an assignment.
func (n Notification) Due() time.Time {
	if n.Since.IsZero() {
		return time.Time{}
	}
	return n.Since.AddDate(0, 0, int(n.ThresholdDays))
}

// Channel is how a message travels.
type Channel string

// The channels.
const (
	ChannelEmail   Channel = "email"
	ChannelWebhook Channel = "webhook"
)

// MessageState is where a message stands.
type MessageState string

// The states of a message.
const (
	MessagePending MessageState = "pending"
	MessageSent    MessageState = "sent"
	MessageDead    MessageState = "dead"
)

// KindDigest is the kind of a digest message; an immediate one's kind is
// its event's name.
const KindDigest = "digest"

// Message is one message to send on one channel.
type Message struct {
	ID int64
	// Key is the message's idempotency key: its Message-ID, its webhook's
	// Idempotency-Key; the same on every try.
	Key       string
	Channel   Channel
	Kind      string
	Recipient string
	// Address is the email address or the webhook URL.
	Address       string
	EventIDs      []string
	State         MessageState
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	FinishedAt    time.Time
}

// Outcome is what one try of a message came to, for the store to record.
type Outcome struct {
	State         MessageState
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	At            time.Time
}

// ErrNotFound is a preferences record, mailbox or dead letter that is not
// there.
var ErrNotFound = errors.New("not found")

// ErrNotDead is a retry of a message that is not dead-lettered.
var ErrNotDead = errors.New("the message is not dead-lettered")

// Store keeps preferences, mailboxes, notifications and messages. Its
// writes join a transaction carried by ctx (the consumer's, or InTx's).
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	Preferences(ctx context.Context, subject string) (Preferences, error)
	SetPreferences(ctx context.Context, p Preferences) error
	Mailbox(ctx context.Context, region string, role MailboxRole) (Mailbox, error)
	SetMailbox(ctx context.Context, m Mailbox) error
	DeleteMailbox(ctx context.Context, region string, role MailboxRole) error
	Mailboxes(ctx context.Context, region string) ([]Mailbox, error)
	SetCampaignTitle(ctx context.Context, campaignID, title string) error
	CampaignTitle(ctx context.Context, campaignID string) (string, error)

	// AddNotification records n; false if its event was recorded before.
	AddNotification(ctx context.Context, n Notification) (bool, error)
	// DueNotifications locks and returns up to limit pending
	// notifications due at or before now, oldest due first.
	DueNotifications(ctx context.Context, now time.Time, limit int) ([]Notification, error)
	SetNotificationState(ctx context.Context, eventIDs []string, s State) error
	Notifications(ctx context.Context, eventIDs []string) ([]Notification, error)
	AddMessage(ctx context.Context, m Message) error
	// ClaimMessage locks the earliest message due at or before now and
	// calls fn with it, in a transaction that records fn's outcome; an
	// error from fn rolls back, leaving the message as it was. False when
	// no message is due.
	ClaimMessage(ctx context.Context, now time.Time, fn func(ctx context.Context, m Message) (Outcome, error)) (bool, error)
	DeadLetters(ctx context.Context, after int64, limit int) ([]Message, error)
	RetryDeadLetter(ctx context.Context, id int64, now time.Time) error
}

// mayName reports whether a message to p about n may carry the candidate's
// name: p is a SPOC of n's region, or a vetting contact point of that
// region and n is vetting's to act on. A role mailbox never may: who
// reads it is not known here.
func mayName(p Preferences, n Notification) bool {
	if !slices.Contains(p.Regions, n.Region) {
		return false
	}
	switch p.Role {
	case auth.RoleSPOC:
		return true
	case auth.RoleVetting:
		return n.NextActor == MailboxVetting
	}
	return false
}
