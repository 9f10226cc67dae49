// Command dashboard serves the regional web dashboard: a national overview
// and a page per region, built on the reporting service's gRPC API and kept
// live from its WatchRegion streams. People sign in with the organisation's
// OpenID provider, and every reporting call carries the signed-in user's
// own ID token: the dashboard holds no token and no signing key of its own.
//
// Configuration (environment):
//
//	HTTP_ADDR                    listen address (default 127.0.0.1:8080)
//	DASHBOARD_TLS_CERT_FILE,
//	DASHBOARD_TLS_KEY_FILE       serve HTTPS with this certificate and key (PEM); without
//	                             them, plain HTTP (for loopback, or behind a proxy that
//	                             terminates TLS at DASHBOARD_PUBLIC_URL)
//	REPORTING_ADDR               the reporting service's gRPC address (default 127.0.0.1:50055)
//	EQUALITY_ADDR                the equality service's (default 127.0.0.1:50057), same transport settings
//	REPORTING_CA_FILE            the CA (PEM) reporting's certificate must chain to
//	                             (default: the system's roots)
//	REPORTING_CERT_FILE,
//	REPORTING_KEY_FILE           the dashboard's client certificate and key, for a
//	                             reporting service that requires them (mutual TLS)
//	REPORTING_INSECURE           true: plain text to reporting, allowed only when
//	                             REPORTING_ADDR is loopback (make run)
//	DASHBOARD_PUBLIC_URL         the dashboard's origin as browsers reach it; the
//	                             redirect URI is {it}/auth/callback (default
//	                             http(s)://HTTP_ADDR when that is loopback; required otherwise)
//	DASHBOARD_OIDC_ISSUER        the OpenID provider's issuer URL (required)
//	DASHBOARD_OIDC_CLIENT_ID     the dashboard's client id there (default recruitment-dashboard)
//	DASHBOARD_OIDC_CLIENT_SECRET its client secret, or DASHBOARD_OIDC_CLIENT_SECRET_FILE
//	                             naming a file holding it (one is required)
//	DASHBOARD_SESSION_KEY        base64 AES-256 key(s) sealing the session cookie,
//	                             comma-separated, the first sealing (or _FILE); the
//	                             same on every replica. Without one, a random key on
//	                             a loopback HTTP_ADDR, and no start elsewhere.
//	DASHBOARD_SESSION_MAX_AGE    how long a sign-in lasts (default 12h)
//	DASHBOARD_CSV_PER_MINUTE,
//	DASHBOARD_CSV_BURST          each user's stuck list downloads (default 3 at once, then 6 a minute)
//	SHUTDOWN_TIMEOUT             graceful-stop budget on SIGTERM (default 15s)
//	LOG_LEVEL, LOG_FORMAT
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host's zoneinfo

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/grpcclient"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
	"github.com/probation-recruitment/pipeline/pkg/tracing"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/bearer"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/live"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/web"
)

const name = "dashboard"

type settings struct {
	HTTPAddr      string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	ReportingAddr string `env:"REPORTING_ADDR" envDefault:"127.0.0.1:50055"`
	// EqualityAddr is the equality service, called with the same transport
	// as reporting (the equality page); empty: no equality page.
	EqualityAddr string `env:"EQUALITY_ADDR" envDefault:"127.0.0.1:50057"`
	PublicURL    string `env:"DASHBOARD_PUBLIC_URL"`

	TLSCertFile string `env:"DASHBOARD_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"DASHBOARD_TLS_KEY_FILE"`

	ReportingCAFile   string `env:"REPORTING_CA_FILE"`
	ReportingCertFile string `env:"REPORTING_CERT_FILE"`
	ReportingKeyFile  string `env:"REPORTING_KEY_FILE"`
	ReportingInsecure bool   `env:"REPORTING_INSECURE" envDefault:"false"`

	OIDCIssuer           string `env:"DASHBOARD_OIDC_ISSUER"`
	OIDCClientID         string `env:"DASHBOARD_OIDC_CLIENT_ID" envDefault:"recruitment-dashboard"`
	OIDCClientSecret     string `env:"DASHBOARD_OIDC_CLIENT_SECRET"`
	OIDCClientSecretFile string `env:"DASHBOARD_OIDC_CLIENT_SECRET_FILE"`

	SessionKey     string        `env:"DASHBOARD_SESSION_KEY"`
	SessionKeyFile string        `env:"DASHBOARD_SESSION_KEY_FILE"`
	SessionMaxAge  time.Duration `env:"DASHBOARD_SESSION_MAX_AGE" envDefault:"12h"`

	CSVPerMinute float64 `env:"DASHBOARD_CSV_PER_MINUTE" envDefault:"6"`
	CSVBurst     int     `env:"DASHBOARD_CSV_BURST" envDefault:"3"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	LogLevel        slog.Level    `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"text"`
}

// LogValue shows the settings for the start-up log, secrets left out.
func (s settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("http_addr", s.HTTPAddr),
		slog.String("tls_cert_file", s.TLSCertFile),
		slog.String("reporting_addr", s.ReportingAddr),
		slog.String("equality_addr", s.EqualityAddr),
		slog.String("reporting_ca_file", s.ReportingCAFile),
		slog.String("reporting_cert_file", s.ReportingCertFile),
		slog.Bool("reporting_insecure", s.ReportingInsecure),
		slog.String("public_url", s.PublicURL),
		slog.String("oidc_issuer", s.OIDCIssuer),
		slog.String("oidc_client_id", s.OIDCClientID),
		slog.Bool("oidc_client_secret_set", s.OIDCClientSecret != "" || s.OIDCClientSecretFile != ""),
		slog.Bool("session_key_set", s.SessionKey != "" || s.SessionKeyFile != ""),
		slog.Duration("session_max_age", s.SessionMaxAge),
		slog.Float64("csv_per_minute", s.CSVPerMinute),
		slog.Int("csv_burst", s.CSVBurst),
	)
}

// secret is the value of a variable, or of the file its _FILE twin names
// (without the final newline); not both.
func secret(variable, value, file string) (string, error) {
	if value != "" && file != "" {
		return "", fmt.Errorf("%s and %s_FILE are both set; set one", variable, variable)
	}
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", variable, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// loopback reports whether a listen address is on a loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && session.IsLoopbackHost(host)
}

// sessionConfig checks the sign-in settings and builds the session
// manager's configuration. warn says what a developer should know.
func (s *settings) sessionConfig() (cfg session.Config, warn string, err error) {
	if s.OIDCIssuer == "" {
		return cfg, "", errors.New("DASHBOARD_OIDC_ISSUER is required: the OpenID provider people sign in with (make run's is http://127.0.0.1:5556)")
	}
	clientSecret, err := secret("DASHBOARD_OIDC_CLIENT_SECRET", s.OIDCClientSecret, s.OIDCClientSecretFile)
	if err != nil {
		return cfg, "", err
	}
	if clientSecret == "" {
		return cfg, "", errors.New("DASHBOARD_OIDC_CLIENT_SECRET (or _FILE) is required: the dashboard's client secret at the provider")
	}
	if s.PublicURL == "" {
		if !loopback(s.HTTPAddr) {
			return cfg, "", errors.New("DASHBOARD_PUBLIC_URL is required when HTTP_ADDR is not loopback: the https address browsers reach the dashboard at")
		}
		s.PublicURL = "http://" + s.HTTPAddr
		if s.TLSCertFile != "" {
			s.PublicURL = "https://" + s.HTTPAddr
		}
	}
	keys, err := secret("DASHBOARD_SESSION_KEY", s.SessionKey, s.SessionKeyFile)
	if err != nil {
		return cfg, "", err
	}
	var codec *session.Codec
	if keys == "" {
		// Without a key of its own, a replica could not read another's
		// cookies, and a restart would sign everyone out: fine on a
		// developer's machine, nowhere else.
		if !loopback(s.HTTPAddr) {
			return cfg, "", errors.New("DASHBOARD_SESSION_KEY (or _FILE) is required when HTTP_ADDR is not loopback: make one with `head -c 32 /dev/urandom | base64`, the same on every replica")
		}
		codec, err = session.NewCodec(session.RandomKey())
		warn = "no DASHBOARD_SESSION_KEY: sealing sessions with a random key; a restart signs everyone out"
	} else {
		codec, err = session.ParseKeys(keys)
	}
	if err != nil {
		return cfg, "", fmt.Errorf("DASHBOARD_SESSION_KEY: %w", err)
	}
	return session.Config{Issuer: s.OIDCIssuer, ClientID: s.OIDCClientID, ClientSecret: clientSecret,
		PublicURL: s.PublicURL, Codec: codec, MaxAge: s.SessionMaxAge}, warn, nil
}

// serverTLS is the HTTPS configuration, or nil for plain HTTP.
func (s settings) serverTLS() (*tls.Config, error) {
	files := tlsconfig.Server{CertFile: s.TLSCertFile, KeyFile: s.TLSKeyFile,
		Vars: [3]string{"DASHBOARD_TLS_CERT_FILE", "DASHBOARD_TLS_KEY_FILE"}}
	if !files.Enabled() {
		return nil, nil
	}
	return files.Config()
}

// reportingCredentials are the transport and per-call credentials of the
// connection to reporting: TLS (mutual, with a client certificate) unless
// REPORTING_INSECURE asks for plain text to a loopback address.
func (s settings) reportingCredentials() (credentials.TransportCredentials, credentials.PerRPCCredentials, error) {
	if s.ReportingInsecure {
		if s.ReportingCAFile != "" || s.ReportingCertFile != "" || s.ReportingKeyFile != "" {
			return nil, nil, errors.New("REPORTING_INSECURE: set it or REPORTING_CA_FILE, REPORTING_CERT_FILE and REPORTING_KEY_FILE, not both")
		}
		if !config.Loopback(s.ReportingAddr) {
			return nil, nil, fmt.Errorf("REPORTING_INSECURE: plain text is allowed only to a loopback address; REPORTING_ADDR is %q", s.ReportingAddr)
		}
		return grpcauth.PlaintextLoopback(), bearer.FromContext(true), nil
	}
	cfg, err := tlsconfig.Client{CAFile: s.ReportingCAFile, CertFile: s.ReportingCertFile, KeyFile: s.ReportingKeyFile,
		Vars: [3]string{"REPORTING_CA_FILE", "REPORTING_CERT_FILE", "REPORTING_KEY_FILE"}}.Config()
	if err != nil {
		return nil, nil, err
	}
	return credentials.NewTLS(cfg), bearer.FromContext(false), nil
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
	sessCfg, warn, err := cfg.sessionConfig()
	if err != nil {
		return err
	}
	serverTLS, err := cfg.serverTLS()
	if err != nil {
		return err
	}
	transport, perCall, err := cfg.reportingCredentials()
	if err != nil {
		return err
	}
	log.Info("starting", "config", cfg)
	if warn != "" {
		log.Warn(warn)
	}
	for _, old := range []string{"DASHBOARD_TOKEN", "AUTH_ED25519_PRIVATE_KEY"} {
		if os.Getenv(old) != "" {
			log.Warn(old + " is set and ignored: the dashboard calls reporting with each signed-in user's own token")
		}
	}
	sessCfg.Log = log
	sessions, err := session.New(sessCfg)
	if err != nil {
		return err
	}
	log.Info("sign-in", "redirect_uri", sessions.RedirectURL(), "post_logout_redirect_uri", sessions.PostLogoutURL())

	// The connection is made lazily and re-made by gRPC after a failure, so
	// the dashboard starts (and shows "unavailable") without reporting.
	// Every call sends the token of its context: the signed-in user's.
	// Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (pkg/tracing).
	stopTracing, err := tracing.Setup(ctx, name, log)
	if err != nil {
		return err
	}
	defer func() {
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flush); err != nil {
			log.Warn("tracing: flushing spans at shutdown", "err", err)
		}
	}()
	conn, err := grpc.NewClient(cfg.ReportingAddr, grpc.WithTransportCredentials(transport), grpc.WithPerRPCCredentials(perCall),
		grpcclient.RetryUnavailable(), grpcclient.Tracing())
	if err != nil {
		return fmt.Errorf("reporting client: %w", err)
	}
	defer conn.Close()
	client := pb.NewReportingServiceClient(conn)
	var equality web.Equality
	if cfg.EqualityAddr != "" {
		if cfg.ReportingInsecure && !config.Loopback(cfg.EqualityAddr) {
			return fmt.Errorf("EQUALITY_ADDR: plain text (REPORTING_INSECURE) is allowed only to a loopback address; it is %q", cfg.EqualityAddr)
		}
		econn, err := grpc.NewClient(cfg.EqualityAddr, grpc.WithTransportCredentials(transport), grpc.WithPerRPCCredentials(perCall),
			grpcclient.RetryUnavailable(), grpcclient.Tracing())
		if err != nil {
			return fmt.Errorf("equality client: %w", err)
		}
		defer econn.Close()
		equality = equalityv1.NewEqualityServiceClient(econn)
	}

	hub := live.NewHub(client, log)
	defer hub.Close()
	srv, err := web.New(web.Config{Reports: client, Equality: equality, Hub: hub, Sessions: sessions, Log: log, Now: time.Now,
		CSVPerMinute: cfg.CSVPerMinute, CSVBurst: cfg.CSVBurst})
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
		TLSConfig:         serverTLS,
	}
	served := make(chan error, 1)
	go func() {
		if serverTLS != nil {
			// The certificate is in TLSConfig already.
			served <- httpSrv.ServeTLS(lis, "", "")
			return
		}
		served <- httpSrv.Serve(lis)
	}()
	// Printed for people and scripts: the URL to open.
	fmt.Printf("dashboard: serving on %s\n", sessions.PostLogoutURL())
	log.Info("serving", "addr", lis.Addr().String(), "url", sessions.PostLogoutURL(), "https", serverTLS != nil)

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
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
		log.Warn(shutdownCutShort, "shutdown_timeout", cfg.ShutdownTimeout.String())
	}
	return nil
}

// shutdownCutShort is logged when requests were still open when the
// shutdown timeout ran out, and were cut off.
const shutdownCutShort = "requests still open at the shutdown timeout; cut off"
