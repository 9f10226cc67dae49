// Package stream declares the RECRUITMENT JetStream stream every event is
// published to (docs/design.md §4).
package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config describes the stream. The zero value of each field means its default.
type Config struct {
	// Name of the stream; default "RECRUITMENT".
	Name string
	// SubjectPrefix; the stream takes "<prefix>.>". Default "recruitment".
	SubjectPrefix string
	// Replicas: 1 on one machine, 3 in a JetStream cluster.
	Replicas int
	// DuplicateWindow within which a repeated Nats-Msg-Id is dropped; at
	// least 2 minutes (docs/design.md §4), default 10 minutes so an outbox relay
	// that restarts after a crash still finds its first attempt in it.
	DuplicateWindow time.Duration
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		c.Name = "RECRUITMENT"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "recruitment"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 10 * time.Minute
	}
	return c
}

// StreamConfig is the JetStream configuration of the stream c describes.
// Events are kept without limit: reporting rebuilds its projections by
// replaying the stream from the start.
func (c Config) StreamConfig() jetstream.StreamConfig {
	c = c.WithDefaults()
	return jetstream.StreamConfig{
		Name:        c.Name,
		Description: "Recruitment pipeline events (docs/design.md §4)",
		Subjects:    []string{c.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	}
}

// Ensure returns the stream, creating it, or updating it to c, only if it
// is missing or differs from c. Every service calls it at start-up. Under
// NATS permissions (pkg/natsperm) a service may only read the stream's
// configuration: the stream is provisioned beforehand by an administrator
// (cmd/devnats does it for make run), and a service finding it missing or
// different fails to start rather than wait for a change it may not make.
// Without permissions (a server with no users) whichever service starts
// first creates it.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) (jetstream.Stream, error) {
	want := c.StreamConfig()
	s, err := js.Stream(ctx, want.Name)
	if err == nil && same(s.CachedInfo().Config, want) {
		return s, nil
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("ensure stream %s: %w", want.Name, err)
	}
	s, err = js.CreateOrUpdateStream(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s (it is missing or configured differently; if this NATS user may not change it, "+
			"provision it as the administrator): %w", want.Name, err)
	}
	return s, nil
}

// same reports whether the stream's configuration have is what want asks,
// its description aside (an operator may provision it with any).
func same(have, want jetstream.StreamConfig) bool {
	return slices.Equal(have.Subjects, want.Subjects) &&
		have.Storage == want.Storage && have.Retention == want.Retention && have.Replicas == want.Replicas &&
		have.Duplicates == want.Duplicates && have.Discard == want.Discard
}

// Credentials are how a connection proves who it is to NATS, and how it
// checks the server. Set at most one of a user and password, a creds file
// (a user JWT and its NKEY seed) or an NKEY seed file; none connects
// anonymously (a server without users).
type Credentials struct {
	User, Password string
	// CredsFile holds a user JWT and seed (an operator-mode deployment).
	CredsFile string
	// NKeySeedFile holds a user's NKEY seed.
	NKeySeedFile string
	// CAFile verifies the server's certificate; setting it requires TLS.
	CAFile string
	// CertFile and KeyFile are a client certificate, for a server that
	// verifies its clients.
	CertFile, KeyFile string
	// InboxPrefix is where the server replies to this connection; the
	// service's NATS user may subscribe only under its own (InboxPrefix).
	InboxPrefix string
}

// InboxPrefix is the inbox prefix of a service's connections: each service
// gets replies only under its own, so none can read another's.
func InboxPrefix(service string) string {
	return "_INBOX_" + service
}

// options turns the credentials into connection options.
func (c Credentials) options() ([]nats.Option, error) {
	var opts []nats.Option
	set := 0
	if c.User != "" || c.Password != "" {
		if c.User == "" || c.Password == "" {
			return nil, errors.New("NATS_USER and a password (NATS_PASSWORD_FILE or NATS_PASSWORD) go together")
		}
		opts, set = append(opts, nats.UserInfo(c.User, c.Password)), set+1
	}
	if c.CredsFile != "" {
		opts, set = append(opts, nats.UserCredentials(c.CredsFile)), set+1
	}
	if c.NKeySeedFile != "" {
		opt, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("NATS_NKEY_SEED_FILE: %w", err)
		}
		opts, set = append(opts, opt), set+1
	}
	if set > 1 {
		return nil, errors.New("NATS credentials: set one of NATS_USER, NATS_CREDS_FILE and NATS_NKEY_SEED_FILE")
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" || c.KeyFile != "" {
		if c.CertFile == "" || c.KeyFile == "" {
			return nil, errors.New("NATS_CERT_FILE and NATS_KEY_FILE go together")
		}
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	return opts, nil
}

// Connect opens the service's NATS connection, as creds say, and its
// JetStream context. The connection reconnects for ever: a NATS outage
// delays publishing (events wait in the outbox) but must not stop the
// service. A permission the server refuses is logged (a misconfigured
// user, or a bug publishing what the service does not own).
func Connect(url, name string, creds Credentials, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return connect(url, name, creds, log)
}

// ConnectOrRetry is Connect for a service that serves from PostgreSQL
// alone while NATS is away: when the server cannot be reached now (down,
// or frozen so that the handshake times out) it returns a connection that
// keeps trying in the background, and its status says when it is up.
// Credentials or a certificate the server refuses still fail here: that is
// a misconfiguration, not an outage.
func ConnectOrRetry(url, name string, creds Credentials, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.Default()
	}
	nc, js, err := connect(url, name, creds, log)
	if err == nil || !unreachable(err) {
		return nc, js, err
	}
	log.Warn("NATS unreachable; serving without it and connecting in the background", "err", err)
	return connect(url, name, creds, log, nats.RetryOnFailedConnect(true))
}

// unreachable reports whether a failed connect found no server to talk to,
// rather than one that refused the connection.
func unreachable(err error) bool {
	var netErr net.Error
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, io.EOF) ||
		errors.As(err, &netErr)
}

func connect(url, name string, creds Credentials, log *slog.Logger, extra ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.Default()
	}
	opts, err := creds.options()
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, append(opts,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Error("NATS", "err", err) }),
	)...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Ready is a readiness check for the NATS connection.
func Ready(nc *nats.Conn) func(context.Context) error {
	return func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("NATS %s", nc.Status())
		}
		return nil
	}
}
