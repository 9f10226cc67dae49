// Package channel delivers the notifier's messages: email over SMTP and
// signed JSON webhooks.
package channel

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
)

// Security is how an SMTP connection is protected.
type Security string

// The SMTP transports.
const (
	// SecurityStartTLS upgrades a plain connection (port 587) with
	// STARTTLS, and fails if the server does not offer it.
	SecurityStartTLS Security = "starttls"
	// SecurityTLS is TLS from the first byte (port 465).
	SecurityTLS Security = "tls"
	// SecurityNone is plain text: only to a loopback address (a local
	// mail catcher).
	SecurityNone Security = "none"
)

// SMTPConfig configures the mailer.
type SMTPConfig struct {
	// Addr is host:port.
	Addr     string
	Security Security
	// TLS verifies the server's certificate (its RootCAs; the server name
	// is Addr's host).
	TLS *tls.Config
	// Username and Password, when set, authenticate with AUTH PLAIN, only
	// over TLS.
	Username, Password string
	// From is the sender, e.g. "Recruitment pipeline <notifier@example.org>".
	From string
	// Domain is the right-hand side of Message-IDs; default From's domain.
	Domain string
	// Timeout bounds one message's whole conversation; default 30s.
	Timeout time.Duration
	// Now stamps the Date header; default time.Now.
	Now func() time.Time
}

// Check reports a configuration that cannot work, naming the variable
// (SMTP_*) at fault.
func (c SMTPConfig) Check() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("SMTP_ADDR: must be host:port, got %q", c.Addr)
	}
	switch c.Security {
	case SecurityStartTLS, SecurityTLS:
	case SecurityNone:
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("SMTP_SECURITY: none (plain text) is allowed only to a loopback SMTP_ADDR, got %q", c.Addr)
		}
		if c.Username != "" {
			return errors.New("SMTP_USERNAME: a password is never sent in plain text; use SMTP_SECURITY=starttls or tls")
		}
	default:
		return fmt.Errorf("SMTP_SECURITY: must be starttls, tls or none, got %q", c.Security)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("SMTP_FROM: must be an address such as \"Recruitment pipeline <notifier@example.org>\", got %q", c.From)
	}
	return nil
}

// Mailer sends email over SMTP; it implements notify.Mailer.
type Mailer struct {
	cfg  SMTPConfig
	from *mail.Address
}

// NewMailer returns a mailer for a checked configuration.
func NewMailer(cfg SMTPConfig) (*Mailer, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	from, _ := mail.ParseAddress(cfg.From)
	if cfg.Domain == "" {
		cfg.Domain = from.Address[strings.LastIndex(from.Address, "@")+1:]
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cfg.TLS = cfg.TLS.Clone()
	if cfg.TLS.ServerName == "" {
		cfg.TLS.ServerName, _, _ = net.SplitHostPort(cfg.Addr)
	}
	return &Mailer{cfg: cfg, from: from}, nil
}

// MessageID is the Message-ID header of the message with key.
func (m *Mailer) MessageID(key string) string {
	return "<" + key + "@" + m.cfg.Domain + ">"
}

// Send implements notify.Mailer: one connection per message.
func (m *Mailer) Send(ctx context.Context, e notify.Email) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var c *smtp.Client
	switch m.cfg.Security {
	case SecurityTLS:
		tc := tls.Client(conn, m.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return fmt.Errorf("smtp: tls: %w", err)
		}
		c = smtp.NewClient(tc)
	case SecurityStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, m.cfg.TLS); err != nil {
			_ = conn.Close()
			return fmt.Errorf("smtp: starttls: %w", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer func() { _ = c.Close() }()
	if m.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", m.cfg.Username, m.cfg.Password)); err != nil {
			return fmt.Errorf("smtp: auth: %w", err)
		}
	}
	msg, err := m.compose(e)
	if err != nil {
		return err
	}
	if err := c.SendMail(m.from.Address, []string{e.To}, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return c.Quit()
}

// compose writes the message: plain text, quoted-printable UTF-8.
func (m *Mailer) compose(e notify.Email) ([]byte, error) {
	to, err := mail.ParseAddress(e.To)
	if err != nil {
		return nil, fmt.Errorf("smtp: recipient address: %w", err)
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", m.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", e.Subject))
	header("Date", m.cfg.Now().Format(time.RFC1123Z))
	header("Message-ID", m.MessageID(e.MessageID))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(strings.ReplaceAll(e.Body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
