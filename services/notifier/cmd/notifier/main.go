// Command notifier tells people about stuck and newly assigned cases
// (recruitment.notifier.v1): it consumes stuck.* and *.assigned events and
// sends email over SMTP and signed webhooks, once per event, as each
// person's preferences say.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // quiet hours and the digest are read in named time zones

	"google.golang.org/grpc/credentials"

	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/channel"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/contacts"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/store"
)

const name = "notifier"

type settings struct {
	config.Common

	// SMTP: where email goes and how.
	SMTPAddr         string `env:"SMTP_ADDR" envDefault:"127.0.0.1:1025"`
	SMTPSecurity     string `env:"SMTP_SECURITY" envDefault:"starttls"`
	SMTPCAFile       string `env:"SMTP_CA_FILE"`
	SMTPUsername     string `env:"SMTP_USERNAME"`
	SMTPPasswordFile string `env:"SMTP_PASSWORD_FILE"`
	SMTPFrom         string `env:"SMTP_FROM" envDefault:"Recruitment pipeline <notifier@localhost>"`

	// The daily digest's hour, Europe/London.
	DigestHour int `env:"NOTIFIER_DIGEST_HOUR" envDefault:"8"`
	// Tries of a message before it is dead-lettered, and the wait after
	// the first failure (doubling after each).
	MaxAttempts    int           `env:"NOTIFIER_MAX_ATTEMPTS" envDefault:"6"`
	RetryBase      time.Duration `env:"NOTIFIER_RETRY_BASE" envDefault:"1m"`
	PollInterval   time.Duration `env:"NOTIFIER_POLL_INTERVAL" envDefault:"5s"`
	WebhookTimeout time.Duration `env:"NOTIFIER_WEBHOOK_TIMEOUT" envDefault:"10s"`

	// The applications service, asked for candidates' names.
	ApplicationsAddr      string `env:"APPLICATIONS_ADDR" envDefault:"127.0.0.1:50051"`
	ApplicationsTokenFile string `env:"APPLICATIONS_TOKEN_FILE"`
	ApplicationsCAFile    string `env:"APPLICATIONS_CA_FILE"`
	ApplicationsCertFile  string `env:"APPLICATIONS_CERT_FILE"`
	ApplicationsKeyFile   string `env:"APPLICATIONS_KEY_FILE"`
	ApplicationsInsecure  bool   `env:"APPLICATIONS_INSECURE" envDefault:"false"`
}

// LogValue shows the settings for the start-up log, secrets left out.
func (s settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("smtp_addr", s.SMTPAddr),
		slog.String("smtp_security", s.SMTPSecurity),
		slog.String("smtp_username", s.SMTPUsername),
		slog.Bool("smtp_password_set", s.SMTPPasswordFile != ""),
		slog.String("smtp_from", s.SMTPFrom),
		slog.Int("digest_hour", s.DigestHour),
		slog.Int("max_attempts", s.MaxAttempts),
		slog.Duration("retry_base", s.RetryBase),
		slog.String("applications_addr", s.ApplicationsAddr),
		slog.Bool("applications_token_set", s.ApplicationsTokenFile != ""),
		slog.Bool("applications_insecure", s.ApplicationsInsecure),
	)
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cfg settings
	if err := config.Load(&cfg); err != nil {
		return err
	}
	cfg.Defaults(name, "127.0.0.1:50056", "127.0.0.1:9056")
	ncfg, err := cfg.notifyConfig()
	if err != nil {
		return err
	}
	mailer, err := cfg.mailer()
	if err != nil {
		return err
	}
	names, err := cfg.contacts()
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations...)
	if err != nil {
		return err
	}
	rt.Log.Info("notifier settings", "settings", cfg)
	var nameSource notify.Contacts
	if names != nil {
		defer func() { _ = names.Close() }()
		nameSource = names
	} else {
		rt.Log.Warn("APPLICATIONS_TOKEN_FILE is not set: messages carry the application reference, never the candidate's name")
	}
	svc := notify.NewService(store.New(rt.Pool), time.Now, ncfg, mailer, channel.NewPoster(cfg.WebhookTimeout, time.Now), nameSource,
		rt.Log, rt.Server.Registry())
	pb.RegisterNotifierServiceServer(rt.Server.GRPC(), grpcapi.New(svc, rt.Log))
	rt.Audit.Declare(grpcapi.Audit)
	if err := rt.Consume("", notify.Consumes, svc.HandleEvent); err != nil {
		return err
	}
	rt.Go(func(ctx context.Context) error { return svc.Run(ctx, cfg.PollInterval) })
	return rt.Run(ctx)
}

// notifyConfig checks the delivery settings.
func (s settings) notifyConfig() (notify.Config, error) {
	c := notify.DefaultConfig()
	if s.DigestHour < 0 || s.DigestHour > 23 {
		return c, fmt.Errorf("NOTIFIER_DIGEST_HOUR: must be 0-23, got %d", s.DigestHour)
	}
	if s.MaxAttempts < 1 {
		return c, fmt.Errorf("NOTIFIER_MAX_ATTEMPTS: must be at least 1, got %d", s.MaxAttempts)
	}
	if s.RetryBase <= 0 {
		return c, fmt.Errorf("NOTIFIER_RETRY_BASE: must be positive, got %s", s.RetryBase)
	}
	if s.PollInterval <= 0 {
		return c, fmt.Errorf("NOTIFIER_POLL_INTERVAL: must be positive, got %s", s.PollInterval)
	}
	c.DigestHour, c.MaxAttempts, c.RetryBase = s.DigestHour, s.MaxAttempts, s.RetryBase
	return c, nil
}

func (s settings) mailer() (*channel.Mailer, error) {
	cfg := channel.SMTPConfig{Addr: s.SMTPAddr, Security: channel.Security(s.SMTPSecurity), Username: s.SMTPUsername, From: s.SMTPFrom}
	if s.SMTPPasswordFile != "" {
		b, err := os.ReadFile(s.SMTPPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("SMTP_PASSWORD_FILE: %w", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if s.SMTPUsername != "" && cfg.Password == "" {
		return nil, errors.New("SMTP_PASSWORD_FILE: required with SMTP_USERNAME")
	}
	if s.SMTPCAFile != "" {
		tc, err := tlsconfig.Client{CAFile: s.SMTPCAFile, Vars: [3]string{"SMTP_CA_FILE"}}.Config()
		if err != nil {
			return nil, err
		}
		cfg.TLS = tc
	}
	return channel.NewMailer(cfg)
}

// contacts is the client of applications, or nil without a token.
func (s settings) contacts() (*contacts.Client, error) {
	if s.ApplicationsTokenFile == "" {
		return nil, nil
	}
	tokens, err := contacts.NewTokenFile(s.ApplicationsTokenFile)
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials
	if s.ApplicationsInsecure {
		if !config.Loopback(s.ApplicationsAddr) {
			return nil, fmt.Errorf("APPLICATIONS_INSECURE: plain text is allowed only to a loopback address; APPLICATIONS_ADDR is %q", s.ApplicationsAddr)
		}
		creds = grpcauth.PlaintextLoopback()
	} else {
		tc, err := tlsconfig.Client{CAFile: s.ApplicationsCAFile, CertFile: s.ApplicationsCertFile, KeyFile: s.ApplicationsKeyFile,
			Vars: [3]string{"APPLICATIONS_CA_FILE", "APPLICATIONS_CERT_FILE", "APPLICATIONS_KEY_FILE"}}.Config()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	return contacts.New(s.ApplicationsAddr, creds, tokens, 5*time.Second)
}
