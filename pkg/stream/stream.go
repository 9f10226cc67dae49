// Package stream declares the RECRUITMENT JetStream stream every event is
// published to (docs/design.md §4).
package stream

import (
	"context"
	"fmt"
	"log/slog"
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

// Ensure creates the stream, or updates it to c, and returns it. Every
// service calls it at start-up, so whichever starts first creates it.
// Events are kept without limit: reporting rebuilds its projections by
// replaying the stream from the start.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) (jetstream.Stream, error) {
	c = c.WithDefaults()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        c.Name,
		Description: "Recruitment pipeline events (docs/design.md §4)",
		Subjects:    []string{c.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", c.Name, err)
	}
	return s, nil
}

// Connect opens the service's NATS connection and JetStream context. The
// connection reconnects for ever: a NATS outage delays publishing (events
// wait in the outbox) but must not stop the service.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.Default()
	}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) }),
	)
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
