// Package config reads a service's configuration from environment
// variables, with working local defaults, once at start-up.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
	"github.com/probation-recruitment/pipeline/pkg/stream"
)

// DevHS256Key signs and verifies tokens when no key is configured, so that
// `make run` works out of the box. Services log a warning when they use it.
const DevHS256Key = "local-development-only-key-do-not-use-in-production"

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

	GRPCAddr        string        `env:"GRPC_ADDR"`
	AdminAddr       string        `env:"ADMIN_ADDR"`
	Reflection      bool          `env:"GRPC_REFLECTION" envDefault:"true"`
	DefaultDeadline time.Duration `env:"GRPC_DEFAULT_DEADLINE" envDefault:"10s"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// Profiling serves Go's profiles at /debug/pprof/ on the admin address.
	Profiling bool `env:"PROFILING" envDefault:"false"`

	AuthHS256Key         string `env:"AUTH_HS256_KEY"`
	AuthEd25519PublicKey string `env:"AUTH_ED25519_PUBLIC_KEY"`

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

// UsesDevKey reports whether no signing key is configured, so the public
// development key is in force.
func (c Common) UsesDevKey() bool {
	return c.AuthHS256Key == "" && c.AuthEd25519PublicKey == ""
}

// Keys returns the token verification keys.
func (c Common) Keys() auth.KeyConfig {
	if c.UsesDevKey() {
		return auth.KeyConfig{HS256Key: DevHS256Key}
	}
	return auth.KeyConfig{HS256Key: c.AuthHS256Key, Ed25519PublicKey: c.AuthEd25519PublicKey}
}

// Server is the gRPC server configuration.
func (c Common) Server() grpcserver.Config {
	return grpcserver.Config{
		Addr: c.GRPCAddr, AdminAddr: c.AdminAddr, Reflection: c.Reflection,
		DefaultDeadline: c.DefaultDeadline, ShutdownTimeout: c.ShutdownTimeout, Profiling: c.Profiling,
	}
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
		slog.String("grpc_addr", c.GRPCAddr),
		slog.String("admin_addr", c.AdminAddr),
		slog.Bool("grpc_reflection", c.Reflection),
		slog.Bool("auth_dev_key", c.UsesDevKey()),
		slog.Bool("auth_hs256_key_set", c.AuthHS256Key != ""),
		slog.Bool("auth_ed25519_key_set", c.AuthEd25519PublicKey != ""),
	)
}

func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
