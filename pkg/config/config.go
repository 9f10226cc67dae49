// Package config reads a service's configuration from environment
// variables, with working local defaults, once at start-up.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
)

// DevEd25519Seed is the private seed of the development key (base64 of
// "recruitment-pipeline-dev-key-01!"). It is public — it is in this source —
// so a service accepts what it signs only when told to
// (AUTH_ALLOW_DEV_KEY=true) and only while every address it listens on is
// loopback: on a developer's machine, never on a network.
const DevEd25519Seed = "cmVjcnVpdG1lbnQtcGlwZWxpbmUtZGV2LWtleS0wMSE="

// Common is the configuration every service shares. Each service embeds it
// and adds its own fields; defaults for addresses come from the service.
type Common struct {
	DatabaseURL string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/recruitment?sslmode=disable"`
	// DBSchema defaults to the service's name.
	DBSchema string `env:"DB_SCHEMA"`

	NATSURL           string        `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	NATSStream        string        `env:"NATS_STREAM" envDefault:"RECRUITMENT"`
	NATSSubjectPrefix string        `env:"NATS_SUBJECT_PREFIX" envDefault:"recruitment"`
	NATSReplicas      int           `env:"NATS_REPLICAS" envDefault:"1"`
	DuplicateWindow   time.Duration `env:"NATS_DUPLICATE_WINDOW" envDefault:"10m"`
	// The service's NATS user (docs/security.md, "NATS permissions"): a
	// user and password, its password preferably from a file; or a creds
	// file (JWT and seed); or an NKEY seed file. None: anonymous.
	NATSUser         string `env:"NATS_USER"`
	NATSPassword     string `env:"NATS_PASSWORD"`
	NATSPasswordFile string `env:"NATS_PASSWORD_FILE"`
	NATSCredsFile    string `env:"NATS_CREDS_FILE"`
	NATSNKeySeedFile string `env:"NATS_NKEY_SEED_FILE"`
	// TLS to NATS: the CA that signed the server's certificate (TLS is
	// then required), and a client certificate if the server asks for one.
	NATSCAFile   string `env:"NATS_CA_FILE"`
	NATSCertFile string `env:"NATS_CERT_FILE"`
	NATSKeyFile  string `env:"NATS_KEY_FILE"`

	GRPCAddr  string `env:"GRPC_ADDR"`
	AdminAddr string `env:"ADMIN_ADDR"`
	// HealthAddr serves grpc.health.v1 alone, in plain text, for the
	// kubelet's gRPC probes (grpcserver.Config.HealthAddr); empty: none.
	HealthAddr      string        `env:"GRPC_HEALTH_ADDR"`
	Reflection      bool          `env:"GRPC_REFLECTION" envDefault:"true"`
	DefaultDeadline time.Duration `env:"GRPC_DEFAULT_DEADLINE" envDefault:"10s"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// The gRPC server's certificate (TLS_CERT_FILE, TLS_KEY_FILE) and, for
	// mutual TLS, the CA its clients' certificates must chain to. Without a
	// certificate a service starts only with GRPC_INSECURE=true on a
	// loopback GRPC_ADDR (see ServerTLS).
	TLSCertFile     string `env:"TLS_CERT_FILE"`
	TLSKeyFile      string `env:"TLS_KEY_FILE"`
	TLSClientCAFile string `env:"TLS_CLIENT_CA_FILE"`
	GRPCInsecure    bool   `env:"GRPC_INSECURE" envDefault:"false"`
	// Profiling serves Go's profiles at /debug/pprof/ on the admin address.
	Profiling bool `env:"PROFILING" envDefault:"false"`

	// RequestLogRetention is how long a request id is remembered (and a
	// retry answered from the record rather than applied again); older
	// rows are pruned hourly. At least an hour.
	RequestLogRetention time.Duration `env:"REQUEST_LOG_RETENTION" envDefault:"168h"`

	// The gRPC server's limits (grpcserver.Config, docs/design.md §8).
	// MaxDeadline caps a unary call's deadline; the grace of a connection's
	// age is at least as long, so a call in flight when GOAWAY is sent ends
	// by itself.
	MaxDeadline          time.Duration `env:"GRPC_MAX_DEADLINE" envDefault:"1m"`
	MaxConcurrentStreams uint32        `env:"GRPC_MAX_CONCURRENT_STREAMS" envDefault:"100"`
	// MaxStreamsPerSubject caps the streams one token subject holds open
	// at once (grpcauth.MaxStreamsPerSubject).
	MaxStreamsPerSubject         int           `env:"GRPC_MAX_STREAMS_PER_SUBJECT" envDefault:"32"`
	KeepaliveMinTime             time.Duration `env:"GRPC_KEEPALIVE_MIN_TIME" envDefault:"30s"`
	KeepalivePermitWithoutStream bool          `env:"GRPC_KEEPALIVE_PERMIT_WITHOUT_STREAM" envDefault:"true"`
	KeepaliveTime                time.Duration `env:"GRPC_KEEPALIVE_TIME" envDefault:"1m"`
	KeepaliveTimeout             time.Duration `env:"GRPC_KEEPALIVE_TIMEOUT" envDefault:"20s"`
	MaxConnectionAge             time.Duration `env:"GRPC_MAX_CONNECTION_AGE" envDefault:"30m"`
	MaxConnectionAgeGrace        time.Duration `env:"GRPC_MAX_CONNECTION_AGE_GRACE" envDefault:"1m"`

	// AuthEd25519PublicKey verifies the tokens signed with the pipeline's
	// own key: services hold only the public half.
	AuthEd25519PublicKey string `env:"AUTH_ED25519_PUBLIC_KEY"`
	// AuthAllowDevKey accepts the public development key as well, if every
	// listen address is loopback.
	AuthAllowDevKey bool `env:"AUTH_ALLOW_DEV_KEY" envDefault:"false"`
	// AuthAudiences are the aud values a token may carry (one is enough).
	AuthAudiences []string `env:"AUTH_AUDIENCES" envDefault:"recruitment-pipeline"`
	// AuthMaxTokenLifetime caps a token's exp - iat.
	AuthMaxTokenLifetime time.Duration `env:"AUTH_MAX_TOKEN_LIFETIME" envDefault:"12h"`
	// The organisation's OpenID provider, and how its claims map to a role
	// and regions (see auth.OIDCConfig).
	AuthOIDCIssuer       string            `env:"AUTH_OIDC_ISSUER"`
	AuthOIDCRoleClaim    string            `env:"AUTH_OIDC_ROLE_CLAIM" envDefault:"role"`
	AuthOIDCRoleValues   map[string]string `env:"AUTH_OIDC_ROLE_VALUES"`
	AuthOIDCRegionsClaim string            `env:"AUTH_OIDC_REGIONS_CLAIM" envDefault:"regions"`
	AuthOIDCRegionPrefix string            `env:"AUTH_OIDC_REGION_PREFIX"`

	// AuditRetention is how long the audit trail of personal data is kept
	// (pkg/audit); older events are deleted hourly. 2 years (730 days) by
	// default: the controller's to set (docs/security.md).
	AuditRetention time.Duration `env:"AUDIT_RETENTION" envDefault:"17520h"`

	LogLevel  slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string     `env:"LOG_FORMAT" envDefault:"text"`
}

// Load fills cfg (a pointer to a struct embedding Common) from the
// environment. Errors name the variable.
func Load(cfg any) error {
	err := env.Parse(cfg)
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	// The library names the Go field; an operator needs the variable.
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := envName(reflect.TypeOf(cfg), pe.Name)
			msgs = append(msgs, fmt.Sprintf("%s: %s, got %q", name, expected(pe), os.Getenv(name)))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("configuration: %s", strings.Join(msgs, "; "))
}

// expected says what a variable of pe's type must hold, in an operator's
// words rather than the parser's.
func expected(pe env.ParseError) string {
	switch pe.Type {
	case reflect.TypeFor[time.Duration]():
		return "must be a duration such as 500ms, 10s or 2m"
	case reflect.TypeFor[slog.Level]():
		return "must be debug, info, warn or error"
	}
	switch pe.Type.Kind() {
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be a whole number"
	}
	return pe.Err.Error()
}

// envName finds the variable of the struct field called field.
func envName(t reflect.Type, field string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == field && f.Tag.Get("env") != "" {
			return f.Tag.Get("env")
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if name := envName(f.Type, field); name != field {
				return name
			}
		}
	}
	return field
}

// Defaults sets the per-service defaults of fields left empty.
func (c *Common) Defaults(schema, grpcAddr, adminAddr string) {
	if c.DBSchema == "" {
		c.DBSchema = schema
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = grpcAddr
	}
	if c.AdminAddr == "" {
		c.AdminAddr = adminAddr
	}
}

// Auth is the token verification the configuration asks for, and whether
// the public development key is among what it accepts. With neither a key
// nor an OpenID provider it is an error — a service fails closed — and so
// is the development key anywhere but on loopback.
func (c Common) Auth() (cfg auth.VerifierConfig, devKey bool, err error) {
	cfg = auth.VerifierConfig{Audiences: c.AuthAudiences, MaxLifetime: c.AuthMaxTokenLifetime}
	keys := auth.KeyConfig{Ed25519PublicKey: c.AuthEd25519PublicKey}
	if c.AuthAllowDevKey {
		for _, a := range []struct{ name, addr string }{{"GRPC_ADDR", c.GRPCAddr}, {"ADMIN_ADDR", c.AdminAddr}, {"GRPC_HEALTH_ADDR", c.HealthAddr}} {
			if a.addr != "" && !Loopback(a.addr) {
				return cfg, false, fmt.Errorf("AUTH_ALLOW_DEV_KEY: the public development key is allowed only while every listen address is loopback; %s is %q", a.name, a.addr)
			}
		}
		if keys.Ed25519PublicKey != "" {
			return cfg, false, errors.New("AUTH_ALLOW_DEV_KEY: set it or AUTH_ED25519_PUBLIC_KEY, not both (the pipeline signs with one key)")
		}
		keys = auth.KeyConfig{Ed25519PrivateKey: DevEd25519Seed}
		devKey = true
	}
	if keys != (auth.KeyConfig{}) {
		cfg.Keys = keys
	}
	if c.AuthOIDCIssuer != "" {
		roles := map[string]auth.Role{}
		for value, r := range c.AuthOIDCRoleValues {
			roles[value] = auth.Role(r)
		}
		if len(roles) == 0 {
			roles = nil
		}
		cfg.OIDC = &auth.OIDCConfig{
			Issuer: c.AuthOIDCIssuer, RoleClaim: c.AuthOIDCRoleClaim, RoleValues: roles,
			RegionsClaim: c.AuthOIDCRegionsClaim, RegionPrefix: c.AuthOIDCRegionPrefix,
		}
	}
	if cfg.Keys == (auth.KeyConfig{}) && cfg.OIDC == nil {
		return cfg, false, errors.New("no token verification configured: set AUTH_ED25519_PUBLIC_KEY (the pipeline's signing key) or AUTH_OIDC_ISSUER (your identity provider); " +
			"on a developer's machine, AUTH_ALLOW_DEV_KEY=true with loopback listen addresses")
	}
	return cfg, devKey, nil
}

// CheckProfiling refuses PROFILING=true unless the admin address is
// loopback: Go's profiles show the program's memory and goroutines, and
// taking one costs CPU, so they are for someone on the machine itself.
func (c Common) CheckProfiling() error {
	if c.Profiling && !Loopback(c.AdminAddr) {
		return fmt.Errorf("PROFILING: the profiles are served only on a loopback admin address; ADMIN_ADDR is %q", c.AdminAddr)
	}
	return nil
}

// ServerTLS is the gRPC server's TLS configuration: the certificate of
// TLS_CERT_FILE and TLS_KEY_FILE, with client certificates required and
// verified against TLS_CLIENT_CA_FILE when it is set. Without a
// certificate it returns nil (plain text) only when GRPC_INSECURE=true and
// GRPC_ADDR is loopback: bearer tokens and personal data cross this link,
// so plain text is for a developer's machine, never a network. Otherwise,
// and for a file that cannot be read, it returns an error naming the
// variable.
func (c Common) ServerTLS() (*tls.Config, error) {
	files := tlsconfig.Server{CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile, ClientCAFile: c.TLSClientCAFile,
		Vars: [3]string{"TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE"}}
	switch {
	case files.Enabled() && c.GRPCInsecure:
		return nil, errors.New("GRPC_INSECURE: set it or TLS_CERT_FILE and TLS_KEY_FILE, not both")
	case files.Enabled() || c.TLSClientCAFile != "":
		return files.Config()
	case !c.GRPCInsecure:
		return nil, errors.New("TLS_CERT_FILE and TLS_KEY_FILE are required: gRPC is served over TLS " +
			"(on a developer's machine, GRPC_INSECURE=true with a loopback GRPC_ADDR serves plain text)")
	case !Loopback(c.GRPCAddr):
		return nil, fmt.Errorf("GRPC_INSECURE: plain-text gRPC is allowed only on a loopback address; GRPC_ADDR is %q (set TLS_CERT_FILE and TLS_KEY_FILE)", c.GRPCAddr)
	}
	return nil, nil
}

// Loopback reports whether a listen address binds only a loopback
// interface ("127.0.0.1:50051", "[::1]:9051", "localhost:8080"); an empty
// host (":50051") binds every interface.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is the gRPC server configuration.
func (c Common) Server() grpcserver.Config {
	return grpcserver.Config{
		Addr: c.GRPCAddr, AdminAddr: c.AdminAddr, HealthAddr: c.HealthAddr, Reflection: c.Reflection,
		DefaultDeadline: c.DefaultDeadline, ShutdownTimeout: c.ShutdownTimeout, Profiling: c.Profiling,
		MaxDeadline: c.MaxDeadline, MaxConcurrentStreams: c.MaxConcurrentStreams,
		KeepaliveMinTime: c.KeepaliveMinTime, KeepalivePermitWithoutStream: c.KeepalivePermitWithoutStream,
		KeepaliveTime: c.KeepaliveTime, KeepaliveTimeout: c.KeepaliveTimeout,
		MaxConnectionAge: c.MaxConnectionAge, MaxConnectionAgeGrace: c.MaxConnectionAgeGrace,
	}
}

// NATSCredentials are service's credentials for NATS, with its own inbox
// prefix (stream.InboxPrefix). A password file's content, less a final
// newline, is the password.
func (c Common) NATSCredentials(service string) (stream.Credentials, error) {
	creds := stream.Credentials{
		User: c.NATSUser, Password: c.NATSPassword, CredsFile: c.NATSCredsFile, NKeySeedFile: c.NATSNKeySeedFile,
		CAFile: c.NATSCAFile, CertFile: c.NATSCertFile, KeyFile: c.NATSKeyFile, InboxPrefix: stream.InboxPrefix(service),
	}
	if c.NATSPasswordFile != "" {
		if c.NATSPassword != "" {
			return creds, errors.New("NATS_PASSWORD_FILE: set it or NATS_PASSWORD, not both")
		}
		b, err := os.ReadFile(c.NATSPasswordFile)
		if err != nil {
			return creds, fmt.Errorf("NATS_PASSWORD_FILE: %w", err)
		}
		creds.Password = strings.TrimRight(string(b), "\r\n")
		if creds.Password == "" {
			return creds, fmt.Errorf("NATS_PASSWORD_FILE: %s is empty", c.NATSPasswordFile)
		}
	}
	return creds, nil
}

// Stream is the JetStream stream configuration.
func (c Common) Stream() stream.Config {
	return stream.Config{Name: c.NATSStream, SubjectPrefix: c.NATSSubjectPrefix, Replicas: c.NATSReplicas, DuplicateWindow: c.DuplicateWindow}
}

// Logger returns the service's logger.
func (c Common) Logger(service string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("service", service)
}

// LogValue shows the configuration with secrets masked, for the start-up log.
func (c Common) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", maskURL(c.DatabaseURL)),
		slog.String("db_schema", c.DBSchema),
		slog.String("nats_url", maskURL(c.NATSURL)),
		slog.String("nats_stream", c.NATSStream),
		slog.String("nats_subject_prefix", c.NATSSubjectPrefix),
		slog.String("nats_user", c.NATSUser),
		slog.Bool("nats_password_set", c.NATSPassword != "" || c.NATSPasswordFile != ""),
		slog.String("nats_creds_file", c.NATSCredsFile),
		slog.String("nats_nkey_seed_file", c.NATSNKeySeedFile),
		slog.String("nats_ca_file", c.NATSCAFile),
		slog.String("nats_cert_file", c.NATSCertFile),
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("admin_addr", c.AdminAddr),
		slog.String("grpc_health_addr", c.HealthAddr),
		slog.Bool("grpc_reflection", c.Reflection),
		slog.String("tls_cert_file", c.TLSCertFile),
		slog.String("tls_client_ca_file", c.TLSClientCAFile),
		slog.Bool("grpc_insecure", c.GRPCInsecure),
		slog.Bool("auth_allow_dev_key", c.AuthAllowDevKey),
		slog.Bool("auth_ed25519_key_set", c.AuthEd25519PublicKey != ""),
		slog.String("auth_oidc_issuer", c.AuthOIDCIssuer),
		slog.Any("auth_audiences", c.AuthAudiences),
		slog.Duration("auth_max_token_lifetime", c.AuthMaxTokenLifetime),
		slog.Duration("grpc_max_deadline", c.MaxDeadline),
		slog.Any("grpc_max_concurrent_streams", c.MaxConcurrentStreams),
		slog.Int("grpc_max_streams_per_subject", c.MaxStreamsPerSubject),
		slog.Duration("grpc_max_connection_age", c.MaxConnectionAge),
	)
}

// maskURL hides the secrets a connection string may hold, for the log: a
// URL's password (postgres://user:secret@db), its password and sslpassword
// parameters (postgres://db/x?password=secret), a NATS URL's token
// (nats://token@host) in each URL of a comma-separated list, and the
// password of a key/value string (host=db password='a secret').
func maskURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return dsnSecret.ReplaceAllString(raw, "${1}=xxxxx")
	}
	urls := strings.Split(raw, ",")
	for i, one := range urls {
		u, err := url.Parse(strings.TrimSpace(one))
		if err != nil {
			return "(unparseable)"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else if u.User != nil && (u.Scheme == "nats" || u.Scheme == "tls") {
			u.User = url.User("xxxxx")
		}
		q := u.Query()
		masked := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, "xxxxx")
				masked = true
			}
		}
		if masked {
			u.RawQuery = q.Encode()
		}
		urls[i] = u.String()
	}
	return strings.Join(urls, ",")
}

// dsnSecret is a password in a key/value connection string: a bare value
// or a quoted one with escapes (libpq's syntax).
var dsnSecret = regexp.MustCompile(`(?i)\b(\w*password)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)
