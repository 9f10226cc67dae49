// Command dashboard serves the regional web dashboard: a national overview
// and a page per region, built on the reporting service's gRPC API and kept
// live from its WatchRegion streams.
//
// Configuration (environment):
//
//	HTTP_ADDR          listen address (default 127.0.0.1:8080)
//	REPORTING_ADDR     the reporting service's gRPC address (default 127.0.0.1:50055)
//	DASHBOARD_TOKEN    bearer token (role dashboard) for the reporting calls; when
//	                   empty, the dashboard mints its own for all twelve regions
//	                   with AUTH_ED25519_PRIVATE_KEY, or, with none set, with the
//	                   public development key (which services accept only with
//	                   AUTH_ALLOW_DEV_KEY=true on loopback)
//	SHUTDOWN_TIMEOUT   graceful-stop budget on SIGTERM (default 15s)
//	LOG_LEVEL, LOG_FORMAT
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host's zoneinfo

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/region"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/bearer"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/live"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/web"
)

const name = "dashboard"

// subject names the dashboard in the tokens it mints, so the reporting
// service's logs say who called.
const subject = "dashboard-web"

type settings struct {
	HTTPAddr      string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	ReportingAddr string `env:"REPORTING_ADDR" envDefault:"127.0.0.1:50055"`
	Token         string `env:"DASHBOARD_TOKEN"`
	// The signing key, for minting a token when none is given.
	AuthEd25519PrivateKey string `env:"AUTH_ED25519_PRIVATE_KEY"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	LogLevel        slog.Level    `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"text"`
}

// LogValue shows the settings for the start-up log, secrets left out.
func (s settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("http_addr", s.HTTPAddr),
		slog.String("reporting_addr", s.ReportingAddr),
		slog.String("token", s.tokenSource()),
	)
}

func (s settings) tokenSource() string {
	switch {
	case s.Token != "":
		return "DASHBOARD_TOKEN"
	case s.AuthEd25519PrivateKey != "":
		return "minted with AUTH_ED25519_PRIVATE_KEY"
	}
	return "minted with the public development key"
}

// credentials are the reporting calls' bearer token: the one given, or one
// the dashboard mints (and renews) for every region.
func (s settings) credentials() (credentials.PerRPCCredentials, error) {
	if s.Token != "" {
		return bearer.Static(s.Token), nil
	}
	keys := auth.KeyConfig{Ed25519PrivateKey: s.AuthEd25519PrivateKey}
	if keys.Ed25519PrivateKey == "" {
		keys.Ed25519PrivateKey = config.DevEd25519Seed
	}
	signer, err := keys.Signer()
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return bearer.NewMinter(signer, subject, region.All, time.Now)
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
	log := config.Common{LogLevel: cfg.LogLevel, LogFormat: cfg.LogFormat}.Logger(name)
	log.Info("starting", "config", cfg)
	if cfg.Token == "" && cfg.AuthEd25519PrivateKey == "" {
		log.Warn("no DASHBOARD_TOKEN or signing key set: minting tokens with the public development key, which only a developer's services accept")
	}

	creds, err := cfg.credentials()
	if err != nil {
		return err
	}
	// The connection is made lazily and re-made by gRPC after a failure, so
	// the dashboard starts (and shows "unavailable") without reporting.
	conn, err := grpc.NewClient(cfg.ReportingAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(creds))
	if err != nil {
		return fmt.Errorf("reporting client: %w", err)
	}
	defer conn.Close()
	client := pb.NewReportingServiceClient(conn)

	hub := live.NewHub(client, log)
	defer hub.Close()
	srv, err := web.New(client, hub, log, time.Now)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(lis) }()
	// Printed for people and scripts: the URL to open.
	fmt.Printf("dashboard: serving on http://%s/\n", lis.Addr())
	log.Info("serving", "url", "http://"+lis.Addr().String()+"/")

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Event streams never finish by themselves: end them first.
	srv.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
