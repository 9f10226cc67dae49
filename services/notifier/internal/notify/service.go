package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probation-recruitment/pipeline/pkg/event"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Email is one email to send.
type Email struct {
	To      string
	Subject string
	Body    string
	// MessageID is the message's idempotency key: the same on every try,
	// so a receiving system can drop a second copy.
	MessageID string
}

// Webhook is one signed JSON post to send.
type Webhook struct {
	URL    string
	Secret string
	Body   []byte
	// Key is the message's idempotency key (Idempotency-Key header).
	Key string
}

// Mailer sends email.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// Poster sends webhooks.
type Poster interface {
	Post(ctx context.Context, w Webhook) error
}

// Contacts tells who a candidate is, at send time; the name is never
// stored.
type Contacts interface {
	CandidateName(ctx context.Context, applicationID string) (string, error)
}

// Config is the notifier's delivery settings.
type Config struct {
	// DigestHour is the hour (0-23, Europe/London) of the daily digest.
	DigestHour int
	// MaxAttempts is how many tries a message gets before it is
	// dead-lettered.
	MaxAttempts int
	// RetryBase is the wait after the first failed try; each further
	// failure doubles it, up to RetryMax.
	RetryBase, RetryMax time.Duration
}

// DefaultConfig is the configuration of an unconfigured notifier.
func DefaultConfig() Config {
	return Config{DigestHour: 8, MaxAttempts: 6, RetryBase: time.Minute, RetryMax: 6 * time.Hour}
}

// Backoff is the wait after the attempts-th failed try.
func (c Config) Backoff(attempts int) time.Duration {
	d := c.RetryBase
	for i := 1; i < attempts && d < c.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.RetryMax)
}

// Service is the notifier.
type Service struct {
	store    Store
	now      func() time.Time
	cfg      Config
	mailer   Mailer
	poster   Poster
	contacts Contacts
	log      *slog.Logger
	metrics  *metrics

	// afterSend, set by tests, runs after a message went out and before
	// the transaction recording it commits; an error rolls back, as a
	// crash there would.
	afterSend func() error
}

type metrics struct {
	notifications    *prometheus.CounterVec
	sent             *prometheus.CounterVec
	failed           *prometheus.CounterVec
	dead             *prometheus.CounterVec
	namesUnavailable prometheus.Counter
}

// NewService returns the notifier; contacts may be nil (messages then
// never name the candidate). Its metrics register on reg when not nil.
func NewService(store Store, now func() time.Time, cfg Config, mailer Mailer, poster Poster, contacts Contacts, log *slog.Logger, reg prometheus.Registerer) *Service {
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_notifications_total", Help: "Events recorded for notification, by the state they were recorded in (pending, off, unaddressed).",
		}, []string{"state"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_messages_sent_total", Help: "Messages delivered, by channel.",
		}, []string{"channel"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_message_failures_total", Help: "Failed tries to deliver a message, by channel.",
		}, []string{"channel"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_messages_dead_total", Help: "Messages dead-lettered after their last try, by channel.",
		}, []string{"channel"}),
		namesUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notifier_candidate_names_unavailable_total",
			Help: "Messages that could have named the candidate but carry the reference only: applications was unreachable or refused.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.notifications, m.sent, m.failed, m.dead, m.namesUnavailable)
	}
	return &Service{store: store, now: now, cfg: cfg, mailer: mailer, poster: poster, contacts: contacts, log: log, metrics: m}
}

// CrashAfterSend makes fn run after each message goes out and before the
// transaction recording it commits; an error from fn rolls that
// transaction back, as a crash there would. For tests of what a crash
// between sending and recording does.
func (s *Service) CrashAfterSend(fn func() error) { s.afterSend = fn }

// Consumes names the events HandleEvent acts on: its consumer's filter.
var Consumes = []string{
	"campaign.created", "campaign.updated",
	"stuck.warning", "stuck.breach", "stuck.resolved",
	"sift.assigned", "offer.assigned", "vetting.assigned",
}

// HandleEvent records what an event means to someone, in the consumer's
// transaction (which ctx carries): a stuck crossing or a new owner
// becomes a notification, planned from the recipient's preferences as
// they are now; a campaign's title is kept for the messages.
func (s *Service) HandleEvent(ctx context.Context, ev *eventsv1.Event) error {
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_CampaignCreated:
		return s.store.SetCampaignTitle(ctx, ev.GetCampaignId(), p.CampaignCreated.GetCampaign().GetTitle())
	case *eventsv1.Event_CampaignUpdated:
		return s.store.SetCampaignTitle(ctx, ev.GetCampaignId(), p.CampaignUpdated.GetCampaign().GetTitle())
	case *eventsv1.Event_StuckWarning:
		return s.record(ctx, ev, p.StuckWarning)
	case *eventsv1.Event_StuckBreach:
		return s.record(ctx, ev, p.StuckBreach)
	case *eventsv1.Event_StuckResolved:
		return s.record(ctx, ev, p.StuckResolved)
	case *eventsv1.Event_SiftAssigned:
		return s.recordAssigned(ctx, ev, p.SiftAssigned.GetAssignee(), MailboxSPOC)
	case *eventsv1.Event_OfferAssigned:
		return s.recordAssigned(ctx, ev, p.OfferAssigned.GetAssignee(), MailboxSPOC)
	case *eventsv1.Event_VettingAssigned:
		return s.recordAssigned(ctx, ev, p.VettingAssigned.GetAssignee(), MailboxVetting)
	}
	return nil
}

func (s *Service) record(ctx context.Context, ev *eventsv1.Event, sc *eventsv1.StuckChanged) error {
	n := facts(ev)
	n.Stage = sc.GetStage()
	n.Rule = sc.GetRule()
	n.ThresholdDays = sc.GetThresholdDays()
	if sc.GetSince() != nil {
		n.Since = sc.GetSince().AsTime()
	}
	n.NextActor = MailboxSPOC
	if sc.GetNextActor() == commonv1.CallerRole_CALLER_ROLE_VETTING {
		n.NextActor = MailboxVetting
	}
	n.Assignee = sc.GetAssignee()
	n.BlockedReason = sc.GetBlockedReason()
	return s.plan(ctx, n)
}

func (s *Service) recordAssigned(ctx context.Context, ev *eventsv1.Event, assignee string, role MailboxRole) error {
	n := facts(ev)
	n.NextActor = role
	n.Assignee = assignee
	if role == MailboxVetting {
		n.Stage = commonv1.Stage_STAGE_PRE_EMPLOYMENT
	}
	return s.plan(ctx, n)
}

// facts are what every notification takes from the envelope.
func facts(ev *eventsv1.Event) Notification {
	name, _ := event.Name(ev)
	return Notification{
		EventID: ev.GetEventId(), Event: name, ApplicationID: ev.GetApplicationId(), Region: ev.GetRegion(),
		CampaignID: ev.GetCampaignId(), JobRole: ev.GetRole(), OccurredAt: ev.GetOccurredAt().AsTime(),
	}
}

// immediate reports whether an event is told at once to someone who
// wants that: a breach, and a new owner; warnings and resolutions wait for
// the digest.
func immediate(name string) bool {
	return name == "stuck.breach" || event.Aggregate(name) != "stuck"
}

// plan decides who n is for and when it is due, and records it. The
// assignee is told if they have preferences; otherwise (unassigned, or an
// assignee the notifier has no address for) the region's mailbox for the
// next actor's role is.
func (s *Service) plan(ctx context.Context, n Notification) error {
	now := s.now()
	n.CreatedAt = now
	n.State = StatePending
	n.Digest = !immediate(n.Event)
	p, err := s.preferences(ctx, n.Assignee)
	switch {
	case err == nil:
		n.Recipient = p.Subject
		switch p.Mode {
		case ModeOff:
			n.State = StateOff
		case ModeDigest:
			n.Digest = true
		}
	case errors.Is(err, ErrNotFound):
		n.Recipient = MailboxRecipient(n.Region, n.NextActor)
		if _, err := s.store.Mailbox(ctx, n.Region, n.NextActor); errors.Is(err, ErrNotFound) {
			n.State = StateUnaddressed
		} else if err != nil {
			return err
		}
	default:
		return err
	}
	n.DueAt = now
	if n.Digest {
		n.DueAt = NextDigest(now, s.cfg.DigestHour)
	} else if end, quiet := p.QuietUntil(now); quiet && n.Recipient == p.Subject {
		n.DueAt = end
	}
	added, err := s.store.AddNotification(ctx, n)
	if err != nil {
		return err
	}
	if added {
		s.metrics.notifications.WithLabelValues(string(n.State)).Inc()
		if n.State == StateUnaddressed {
			s.log.WarnContext(ctx, "no one to tell: no preferences and no role mailbox", "event_id", n.EventID, "event", n.Event,
				"region", n.Region, "mailbox_role", n.NextActor)
		}
	}
	return nil
}

// preferences are the preferences of subject; ErrNotFound for none, or
// for no subject.
func (s *Service) preferences(ctx context.Context, subject string) (Preferences, error) {
	if subject == "" {
		return Preferences{}, ErrNotFound
	}
	return s.store.Preferences(ctx, subject)
}

// composeBatch bounds the notifications one compose transaction takes.
const composeBatch = 500

// RunOnce does everything due at the clock's time: it turns the due
// notifications into messages (one per notification sent at once, one
// digest per recipient), then sends every due message, each in its own
// transaction. It returns how many messages it sent.
func (s *Service) RunOnce(ctx context.Context) (int, error) {
	for {
		n, err := s.compose(ctx)
		if err != nil {
			return 0, fmt.Errorf("compose: %w", err)
		}
		if n < composeBatch {
			break
		}
	}
	sent := 0
	for {
		var ok bool
		found, err := s.store.ClaimMessage(ctx, s.now(), func(ctx context.Context, m Message) (Outcome, error) {
			o, err := s.deliver(ctx, m)
			ok = o.State == MessageSent
			return o, err
		})
		if err != nil {
			return sent, fmt.Errorf("deliver: %w", err)
		}
		if !found {
			return sent, nil
		}
		if ok {
			sent++
		}
	}
}

// Run sends what is due every interval until ctx is done.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "notifier run", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// compose turns up to composeBatch due notifications into messages, in
// one transaction, and returns how many it took.
func (s *Service) compose(ctx context.Context) (int, error) {
	var taken int
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		now := s.now()
		due, err := s.store.DueNotifications(ctx, now, composeBatch)
		if err != nil {
			return err
		}
		taken = len(due)
		type group struct {
			recipient string
			digest    bool
			items     []Notification
		}
		var groups []*group
		byKey := map[string]*group{}
		for _, n := range due {
			if !n.Digest {
				groups = append(groups, &group{recipient: n.Recipient, items: []Notification{n}})
				continue
			}
			key := n.Recipient + "\x00" + n.DueAt.UTC().Format(time.RFC3339Nano)
			if byKey[key] == nil {
				byKey[key] = &group{recipient: n.Recipient, digest: true}
				groups = append(groups, byKey[key])
			}
			byKey[key].items = append(byKey[key].items, n)
		}
		for _, g := range groups {
			sortItems(g.items)
			ids := eventIDs(g.items)
			email, webhook, err := s.addresses(ctx, g.recipient)
			if err != nil {
				return err
			}
			if email == "" && webhook == "" {
				if err := s.store.SetNotificationState(ctx, ids, StateUnaddressed); err != nil {
					return err
				}
				continue
			}
			kind, key := g.items[0].Event, ids[0]
			if g.digest {
				kind, key = KindDigest, "digest-"+ids[0]
			}
			for _, ch := range []struct {
				channel Channel
				address string
			}{{ChannelEmail, email}, {ChannelWebhook, webhook}} {
				if ch.address == "" {
					continue
				}
				if err := s.store.AddMessage(ctx, Message{Key: key, Channel: ch.channel, Kind: kind, Recipient: g.recipient,
					Address: ch.address, EventIDs: ids, State: MessagePending, NextAttemptAt: now, CreatedAt: now}); err != nil {
					return err
				}
			}
			if err := s.store.SetNotificationState(ctx, ids, StateQueued); err != nil {
				return err
			}
		}
		return nil
	})
	return taken, err
}

// addresses are where recipient is told now: their email and webhook, or
// a mailbox's email.
func (s *Service) addresses(ctx context.Context, recipient string) (email, webhook string, err error) {
	if region, role, ok := parseMailbox(recipient); ok {
		m, err := s.store.Mailbox(ctx, region, role)
		if errors.Is(err, ErrNotFound) {
			return "", "", nil
		}
		return m.Email, "", err
	}
	p, err := s.store.Preferences(ctx, recipient)
	if errors.Is(err, ErrNotFound) {
		return "", "", nil
	}
	return p.Email, p.WebhookURL, err
}

// deliver tries m once and says what came of it.
func (s *Service) deliver(ctx context.Context, m Message) (Outcome, error) {
	now := s.now()
	items, err := s.store.Notifications(ctx, m.EventIDs)
	if err != nil {
		return Outcome{}, err
	}
	sortItems(items)
	for i := range items {
		if items[i].CampaignTitle, err = s.store.CampaignTitle(ctx, items[i].CampaignID); err != nil {
			return Outcome{}, err
		}
	}
	var sendErr error
	switch m.Channel {
	case ChannelEmail:
		names := s.names(ctx, m.Recipient, items)
		subject, body := RenderEmail(m, items, names, now)
		sendErr = s.mailer.Send(ctx, Email{To: m.Address, Subject: subject, Body: body, MessageID: m.Key})
	case ChannelWebhook:
		p, err := s.store.Preferences(ctx, m.Recipient)
		switch {
		case errors.Is(err, ErrNotFound):
			sendErr = errors.New("the recipient no longer has preferences")
		case err != nil:
			return Outcome{}, err
		case p.WebhookURL != m.Address:
			sendErr = errors.New("the recipient's webhook changed since the message was written")
		default:
			sendErr = s.poster.Post(ctx, Webhook{URL: m.Address, Secret: p.WebhookSecret, Body: RenderWebhook(m, items, now), Key: m.Key})
		}
	default:
		return Outcome{}, fmt.Errorf("message %d: unknown channel %q", m.ID, m.Channel)
	}
	o := Outcome{Attempts: m.Attempts + 1, At: now}
	if sendErr == nil {
		if s.afterSend != nil {
			if err := s.afterSend(); err != nil {
				return Outcome{}, err
			}
		}
		s.metrics.sent.WithLabelValues(string(m.Channel)).Inc()
		o.State = MessageSent
		return o, nil
	}
	s.metrics.failed.WithLabelValues(string(m.Channel)).Inc()
	o.LastError = sendErr.Error()
	if o.Attempts >= s.cfg.MaxAttempts {
		s.metrics.dead.WithLabelValues(string(m.Channel)).Inc()
		s.log.WarnContext(ctx, "message dead-lettered", "message", m.ID, "channel", m.Channel, "attempts", o.Attempts, "err", sendErr)
		o.State = MessageDead
		return o, nil
	}
	s.log.InfoContext(ctx, "message failed; will retry", "message", m.ID, "channel", m.Channel, "attempts", o.Attempts, "err", sendErr)
	o.State = MessagePending
	o.NextAttemptAt = now.Add(s.cfg.Backoff(o.Attempts))
	return o, nil
}

// names fetches the candidates' names a message to recipient may carry,
// by application id. A failure to fetch leaves the name out (the message
// then carries the reference only) and is counted.
func (s *Service) names(ctx context.Context, recipient string, items []Notification) map[string]string {
	if s.contacts == nil {
		return nil
	}
	if _, _, mailbox := parseMailbox(recipient); mailbox {
		return nil
	}
	p, err := s.store.Preferences(ctx, recipient)
	if err != nil {
		return nil
	}
	names := map[string]string{}
	for _, n := range items {
		if _, done := names[n.ApplicationID]; done || !mayName(p, n) {
			continue
		}
		name, err := s.contacts.CandidateName(ctx, n.ApplicationID)
		if err != nil {
			s.metrics.namesUnavailable.Inc()
			// The error says why (a status code), never the name.
			s.log.WarnContext(ctx, "candidate name unavailable; sending the reference only", "application_id", n.ApplicationID, "err", err)
			continue
		}
		names[n.ApplicationID] = name
	}
	return names
}

func parseMailbox(recipient string) (string, MailboxRole, bool) {
	rest, ok := strings.CutPrefix(recipient, "mailbox:")
	if !ok {
		return "", "", false
	}
	region, role, ok := strings.Cut(rest, ":")
	return region, MailboxRole(role), ok
}

// sortItems orders a message's notifications as it lists them: by when
// they happened, then by application.
func sortItems(items []Notification) {
	slices.SortStableFunc(items, func(a, b Notification) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		if a.ApplicationID != b.ApplicationID {
			if a.ApplicationID < b.ApplicationID {
				return -1
			}
			return 1
		}
		if a.EventID < b.EventID {
			return -1
		}
		return 1
	})
}

func eventIDs(items []Notification) []string {
	ids := make([]string, len(items))
	for i, n := range items {
		ids[i] = n.EventID
	}
	return ids
}
