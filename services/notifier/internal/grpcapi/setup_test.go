package grpcapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/servicetest"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/channel"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start is where each test's clock begins: Monday 7 December 2026, 10:00
// in London (GMT).
var start = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// The people of these tests.
var (
	admin         = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	spocLondon    = auth.Claims{Subject: "spoc-london-1", Role: auth.RoleSPOC, Regions: []string{"london"}}
	spocLondon2   = auth.Claims{Subject: "spoc-london-2", Role: auth.RoleSPOC, Regions: []string{"london"}}
	vettingLondon = auth.Claims{Subject: "vetting-london-1", Role: auth.RoleVetting, Regions: []string{"london"}}
	spocWales     = auth.Claims{Subject: "spoc-wales-1", Role: auth.RoleSPOC, Regions: []string{"wales"}}
)

// env is one test's notifier: its own schema, an in-process NATS with the
// production users, a real SMTP server in process, the gRPC API with the
// production authentication, and a clock the test moves.
type env struct {
	*servicetest.Service
	clock    *testenv.Clock
	natsURL  string
	smtp     *smtpServer
	cfg      notify.Config
	contacts notify.Contacts
	metrics  *prometheus.Registry

	mu      sync.Mutex
	svc     *notify.Service
	stopped chan struct{}
	stop    context.CancelFunc
}

// options change what setup builds.
type options struct {
	contacts notify.Contacts
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, options{})
}

func setupWith(t *testing.T, o options) *env {
	t.Helper()
	e := &env{clock: testenv.NewClock(start), natsURL: testenv.NATS(t), smtp: startSMTP(t), contacts: o.contacts}
	e.cfg = notify.DefaultConfig()
	e.cfg.MaxAttempts = 3
	e.Service = servicetest.Start(t, quiet, store.Migrations, func(s *grpc.Server, pool *pgxpool.Pool) {
		// The API needs only the store; a restart replaces the consumer
		// and the sender.
		pb.RegisterNotifierServiceServer(s, grpcapi.New(notify.NewService(store.New(pool), e.clock.Now, e.cfg, nil, nil, nil, quiet, nil), quiet))
	}, grpcapi.Audit)
	e.restart(t)
	t.Cleanup(e.halt)
	return e
}

// restart stops the notifier (its consumer) if it runs and starts a new
// one on the same schema and durable consumer: a process restart.
func (e *env) restart(t *testing.T) {
	t.Helper()
	e.halt()
	e.metrics = prometheus.NewRegistry()
	svc := e.sender(t, e.metrics)
	_, js := testenv.ConnectAs(t, e.natsURL, "notifier")
	c, err := consumer.New(e.Pool, js, consumer.Config{
		Durable: "notifier", FilterSubject: event.DefaultSubjectPrefix + ".>", Wants: consumer.Named(notify.Consumes),
	}, func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
		return svc.HandleEvent(pg.WithTx(ctx, tx), ev)
	}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := c.Run(ctx); err != nil {
			t.Errorf("consumer: %v", err)
		}
	}()
	e.mu.Lock()
	e.svc, e.stop, e.stopped = svc, cancel, stopped
	e.mu.Unlock()
}

// sender is a notifier on the env's schema, SMTP server and clock, its
// metrics on reg: another process, or the same one restarted.
func (e *env) sender(t *testing.T, reg prometheus.Registerer) *notify.Service {
	t.Helper()
	mailer, err := channel.NewMailer(channel.SMTPConfig{Addr: e.smtp.addr, Security: channel.SecurityNone,
		From: "Recruitment pipeline <notifier@probation.example>", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return notify.NewService(store.New(e.Pool), e.clock.Now, e.cfg, mailer, channel.NewPoster(5*time.Second, e.clock.Now),
		e.contacts, quiet, reg)
}

func (e *env) halt() {
	e.mu.Lock()
	stop, stopped := e.stop, e.stopped
	e.stop = nil
	e.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
}

func (e *env) service() *notify.Service {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.svc
}

// runOnce sends what is due at the clock's time and returns how many
// messages went.
func (e *env) runOnce(t *testing.T) int {
	t.Helper()
	n, err := e.service().RunOnce(t.Context())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return n
}

func (e *env) client(t *testing.T, c auth.Claims) pb.NotifierServiceClient {
	return pb.NewNotifierServiceClient(e.As(t, c))
}

// prefs sets c's own preferences through the API.
func (e *env) prefs(t *testing.T, c auth.Claims, req *pb.SetPreferencesRequest) *pb.Preferences {
	t.Helper()
	resp, err := e.client(t, c).SetPreferences(t.Context(), req)
	if err != nil {
		t.Fatalf("set preferences of %s: %v", c.Subject, err)
	}
	return resp.GetPreferences()
}

func (e *env) mailbox(t *testing.T, region string, role pb.MailboxRole, email string) {
	t.Helper()
	if _, err := e.client(t, admin).SetRoleMailbox(t.Context(), &pb.SetRoleMailboxRequest{Region: region, Role: role, Email: email}); err != nil {
		t.Fatalf("set mailbox: %v", err)
	}
}

// app is an application as events name it.
type app struct {
	id, campaign, region string
	role                 commonv1.JobRole
}

func newApp(region string) app {
	return app{id: event.NewID(), campaign: event.NewID(), region: region, role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER}
}

func (a app) envelope(producer string, at time.Time) *eventsv1.Event {
	actor := event.SystemActor(producer)
	return event.New(producer, actor, at, event.Record{ApplicationID: a.id, CampaignID: a.campaign, Region: a.region, Role: a.role, Version: 1})
}

// stuck is a stuck.* event from reporting, the clock crossing at `at`.
func (a app) stuck(name string, stage commonv1.Stage, since time.Time, threshold int32, assignee string, at time.Time) *eventsv1.Event {
	ev := a.envelope("reporting", at)
	next := commonv1.CallerRole_CALLER_ROLE_SPOC
	if stage == commonv1.Stage_STAGE_PRE_EMPLOYMENT {
		next = commonv1.CallerRole_CALLER_ROLE_VETTING
	}
	sc := &eventsv1.StuckChanged{Rule: eventsv1.StuckRule_STUCK_RULE_STAGE, Stage: stage, Since: timestamppb.New(since),
		ThresholdDays: threshold, NextActor: next, Assignee: assignee}
	switch name {
	case "stuck.warning":
		ev.Payload = &eventsv1.Event_StuckWarning{StuckWarning: sc}
	case "stuck.breach":
		ev.Payload = &eventsv1.Event_StuckBreach{StuckBreach: sc}
	case "stuck.resolved":
		ev.Payload = &eventsv1.Event_StuckResolved{StuckResolved: sc}
	}
	return ev
}

// assigned is an assignment event from the stage's owner.
func (a app) assigned(name, assignee string, at time.Time) *eventsv1.Event {
	switch name {
	case "sift.assigned":
		ev := a.envelope("sifting", at)
		ev.Payload = &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: assignee}}
		return ev
	case "offer.assigned":
		ev := a.envelope("offers", at)
		ev.Payload = &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: assignee}}
		return ev
	}
	ev := a.envelope("vetting", at)
	ev.Payload = &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: assignee}}
	return ev
}

// campaignCreated is applications' campaign.created with a title.
func (a app) campaignCreated(title string, at time.Time) *eventsv1.Event {
	ev := event.New("applications", event.SystemActor("applications"), at, event.Record{CampaignID: a.campaign, Region: a.region, Role: a.role, Version: 1})
	ev.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: &eventsv1.CampaignDetails{Title: title, Posts: 3}}}
	return ev
}

// publish puts evs on the stream as their producers do (each its own NATS
// user, the event id as the message id), and waits until the notifier has
// recorded each.
func (e *env) publish(t *testing.T, evs ...*eventsv1.Event) {
	t.Helper()
	for _, ev := range evs {
		_, js := testenv.ConnectAs(t, e.natsURL, ev.GetProducer())
		b, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		suffix, err := event.SubjectSuffix(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(t.Context(), event.DefaultSubjectPrefix+"."+suffix, b, jetstream.WithMsgID(ev.GetEventId())); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	for _, ev := range evs {
		e.waitInbox(t, ev.GetEventId())
	}
}

// republish delivers evs again as JetStream redelivers them: new
// messages (no de-duplication id) holding the same events, and waits until
// the notifier's consumer has read past them.
func (e *env) republish(t *testing.T, evs ...*eventsv1.Event) {
	t.Helper()
	_, admin := testenv.Connect(t, e.natsURL)
	var last uint64
	for _, ev := range evs {
		b, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		suffix, _ := event.SubjectSuffix(ev)
		ack, err := admin.Publish(t.Context(), event.DefaultSubjectPrefix+"."+suffix, b)
		if err != nil {
			t.Fatalf("publish again: %v", err)
		}
		last = ack.Sequence
	}
	testenv.Eventually(t, "the redelivered events consumed", func() (bool, string) {
		c, err := admin.Consumer(t.Context(), "RECRUITMENT", "notifier")
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return info.AckFloor.Stream >= last, fmt.Sprintf("ack floor %d, last %d", info.AckFloor.Stream, last)
	})
}

// waitInbox waits until the notifier's consumer has applied the event.
func (e *env) waitInbox(t *testing.T, id string) {
	t.Helper()
	testenv.Eventually(t, "event "+id+" consumed", func() (bool, string) {
		var n int
		if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox WHERE event_id = $1`, id).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 1, "not in the inbox"
	})
}

// metric reads a counter of the current notifier.
func (e *env) metric(t *testing.T, name string) float64 {
	t.Helper()
	families, err := e.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			sum := 0.0
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// email is one message the SMTP server received.
type email struct {
	From, To  string
	Subject   string
	MessageID string
	Body      string
}

// smtpServer is a real SMTP server (go-smtp) on a loopback port that keeps
// what it receives. fail, when positive, refuses that many messages first.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	got  []email
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("smtp server: %v", err)
		}
	})
	return s
}

// emails returns what arrived, in order, and forgets it.
func (s *smtpServer) take() []email {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	return got
}

type smtpSession struct {
	srv      *smtpServer
	from, to string
}

func (s *smtpSession) Reset()        { s.from, s.to = "", "" }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.to != "" {
		return errors.New("one recipient per message")
	}
	s.to = to
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.got = append(s.srv.got, email{From: s.from, To: s.to, Subject: subject, MessageID: m.Header.Get("Message-ID"),
		Body: string(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))})
	return nil
}

// wantEmails fails unless got is exactly want, by recipient and subject,
// in order.
func wantEmails(t *testing.T, got []email, want ...[2]string) {
	t.Helper()
	var g [][2]string
	for _, m := range got {
		g = append(g, [2]string{m.To, m.Subject})
	}
	if len(g) != len(want) {
		t.Fatalf("emails (to, subject):\n%s\nwant:\n%s", pairs(g), pairs(want))
	}
	for i := range want {
		if g[i] != want[i] {
			t.Fatalf("emails (to, subject):\n%s\nwant:\n%s", pairs(g), pairs(want))
		}
	}
}

func pairs(ps [][2]string) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p[0] + " | " + p[1] + "\n")
	}
	return b.String()
}
