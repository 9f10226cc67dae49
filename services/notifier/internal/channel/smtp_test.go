package channel_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/channel"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
)

// server is a real SMTP server (go-smtp) over TLS — STARTTLS or from the
// first byte — that requires AUTH PLAIN as user/secret and keeps what it
// receives.
type server struct {
	mu     sync.Mutex
	data   []string
	authed []string
}

type session struct {
	s    *server
	user string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "notifier" || pass != "smtp-secret" {
			return errors.New("bad credentials")
		}
		s.user = user
		return nil
	}), nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(string, *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	s.s.data = append(s.s.data, string(b))
	s.s.authed = append(s.s.authed, s.user)
	return err
}

func start(t *testing.T, implicit bool) (string, *server, *testenv.Certs) {
	t.Helper()
	certs := testenv.TLSCerts(t)
	cert, err := tls.LoadX509KeyPair(certs.Server.Cert, certs.Server.Key)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var l net.Listener
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), s, certs
}

func mailer(t *testing.T, addr string, security channel.Security, caFile, password string) *channel.Mailer {
	t.Helper()
	tc, err := tlsconfig.Client{CAFile: caFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	m, err := channel.NewMailer(channel.SMTPConfig{Addr: addr, Security: security, TLS: tc, Username: "notifier", Password: password,
		From: "Recruitment pipeline <notifier@probation.example>"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var msg = notify.Email{To: "spoc1@probation.example", Subject: "Breach: application 1 — stuck", Body: "Application: 1\n", MessageID: "0193-key"}

// TestSMTPOverTLSWithAuth: over STARTTLS and over TLS from the first
// byte, the mailer checks the server's certificate, signs in, and sends a
// message with its headers; a server whose certificate another CA signed,
// or a wrong password, fails the send.
func TestSMTPOverTLSWithAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		implicit bool
		security channel.Security
	}{{"starttls", false, channel.SecurityStartTLS}, {"implicit tls", true, channel.SecurityTLS}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, s, certs := start(t, tc.implicit)
			if err := mailer(t, addr, tc.security, certs.CA, "smtp-secret").Send(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			got := strings.Join(s.data, "")
			authed := s.authed
			s.mu.Unlock()
			for _, want := range []string{"From: \"Recruitment pipeline\" <notifier@probation.example>\r\n", "To: <spoc1@probation.example>\r\n",
				"Message-ID: <0193-key@probation.example>\r\n", "Subject: =?utf-8?q?Breach:_application_1_=E2=80=94_stuck?=\r\n", "Application: 1\r\n"} {
				if !strings.Contains(got, want) {
					t.Errorf("message lacks %q:\n%s", want, got)
				}
			}
			if len(authed) != 1 || authed[0] != "notifier" {
				t.Errorf("signed in as %q", authed)
			}
			if err := mailer(t, addr, tc.security, certs.CA, "wrong").Send(t.Context(), msg); err == nil {
				t.Error("sent with a wrong password")
			}
			other := testenv.TLSCerts(t)
			if err := mailer(t, addr, tc.security, other.CA, "smtp-secret").Send(t.Context(), msg); err == nil {
				t.Error("sent to a server whose certificate the CA did not sign")
			}
		})
	}
}

// TestSMTPConfigRefusals: plain text only to loopback, never with a
// password; each error names the variable.
func TestSMTPConfigRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  channel.SMTPConfig
		want string
	}{
		{channel.SMTPConfig{Addr: "mail.example:25", Security: channel.SecurityNone, From: "a@b.example"}, "SMTP_SECURITY"},
		{channel.SMTPConfig{Addr: "127.0.0.1:1025", Security: channel.SecurityNone, Username: "u", From: "a@b.example"}, "SMTP_USERNAME"},
		{channel.SMTPConfig{Addr: "mail.example", Security: channel.SecurityTLS, From: "a@b.example"}, "SMTP_ADDR"},
		{channel.SMTPConfig{Addr: "mail.example:465", Security: "ssl", From: "a@b.example"}, "SMTP_SECURITY"},
		{channel.SMTPConfig{Addr: "mail.example:465", Security: channel.SecurityTLS, From: "nobody"}, "SMTP_FROM"},
	} {
		if err := tc.cfg.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if err := (channel.SMTPConfig{Addr: "localhost:1025", Security: channel.SecurityNone, From: "a@b.example"}).Check(); err != nil {
		t.Errorf("plain text to loopback: %v", err)
	}
}
