package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

func TestLoadDefaultsAndOverrides(t *testing.T) {
	t.Setenv("NATS_URL", "nats://nats.internal:4222")
	t.Setenv("GRPC_DEFAULT_DEADLINE", "3s")
	t.Setenv("DATABASE_URL", "postgres://svc:s3cret@db:5432/recruitment")
	var c struct {
		Common
		Extra string `env:"EXTRA" envDefault:"x"`
	}
	if err := Load(&c); err != nil {
		t.Fatal(err)
	}
	c.Defaults("applications", "127.0.0.1:50051", "127.0.0.1:9051")
	if c.NATSURL != "nats://nats.internal:4222" || c.DefaultDeadline != 3*time.Second || c.Extra != "x" {
		t.Errorf("loaded %+v", c)
	}
	if c.DBSchema != "applications" || c.GRPCAddr != "127.0.0.1:50051" {
		t.Errorf("service defaults not applied: %+v", c.Common)
	}
	if _, _, err := c.Auth(); err == nil || !strings.Contains(err.Error(), "no token verification configured") {
		t.Errorf("with no key configured a service must refuse to start: Auth() = %v", err)
	}
	if logged := c.LogValue().String(); strings.Contains(logged, "s3cret") || !strings.Contains(logged, "xxxxx") {
		t.Errorf("LogValue must mask the password: %s", logged)
	}
}

// A DATABASE_URL with a service role's password, in any form pgx reads,
// reaches the start-up log masked.
func TestLogValueMasksDatabasePasswords(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"postgres://recruitment_offers:s3cret@db:5432/recruitment?sslmode=verify-full", "postgres://recruitment_offers:xxxxx@db:5432/recruitment?sslmode=verify-full"},
		{"postgres://recruitment_offers@db/recruitment?password=s3cret&sslmode=require", "postgres://recruitment_offers@db/recruitment?password=xxxxx&sslmode=require"},
		{"host=db user=recruitment_offers password=s3cret dbname=recruitment", "host=db user=recruitment_offers password=xxxxx dbname=recruitment"},
		{"host=db password='s3cret with \\' quote' dbname=recruitment", "host=db password=xxxxx dbname=recruitment"},
		{"postgres://recruitment_offers@db/recruitment", "postgres://recruitment_offers@db/recruitment"},
	} {
		logged := Common{DatabaseURL: tt.url}.LogValue().String()
		if strings.Contains(logged, "s3cret") || !strings.Contains(logged, "database_url="+tt.want) {
			t.Errorf("DATABASE_URL %q logged as %s; want database_url=%s", tt.url, logged, tt.want)
		}
	}
}

func TestLoadNamesBadVariable(t *testing.T) {
	for _, tt := range []struct{ name, value, want string }{
		{"GRPC_DEFAULT_DEADLINE", "soon", `GRPC_DEFAULT_DEADLINE: must be a duration such as 500ms, 10s or 2m, got "soon"`},
		{"PROFILING", "maybe", `PROFILING: must be true or false, got "maybe"`},
		{"NATS_REPLICAS", "three", `NATS_REPLICAS: must be a whole number, got "three"`},
		{"GRPC_MAX_CONCURRENT_STREAMS", "-1", `GRPC_MAX_CONCURRENT_STREAMS: must be a whole number, got "-1"`},
		{"GRPC_MAX_CONNECTION_AGE", "30", `GRPC_MAX_CONNECTION_AGE: must be a duration such as 500ms, 10s or 2m, got "30"`},
		{"LOG_LEVEL", "loud", `LOG_LEVEL: must be debug, info, warn or error, got "loud"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			var c Common
			if err := Load(&c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error containing %s", err, tt.want)
			}
		})
	}
}

// TestAuthFailsClosed: the public development key is accepted only when
// asked for and only on loopback; with no key at all a service refuses to
// start.
func TestAuthFailsClosed(t *testing.T) {
	t.Parallel()
	pub := "MCowBQYDK2VwAyEA" // not a key: the check under test comes first
	tests := []struct {
		name    string
		c       Common
		devKey  bool
		wantErr string
	}{
		{name: "nothing set", c: Common{GRPCAddr: "127.0.0.1:50051"}, wantErr: "no token verification configured"},
		{name: "dev key on loopback", c: Common{AuthAllowDevKey: true, GRPCAddr: "127.0.0.1:50051", AdminAddr: "[::1]:9051"}, devKey: true},
		{name: "dev key on localhost", c: Common{AuthAllowDevKey: true, GRPCAddr: "localhost:50051"}, devKey: true},
		{name: "dev key on every interface", c: Common{AuthAllowDevKey: true, GRPCAddr: ":50051"}, wantErr: `GRPC_ADDR is ":50051"`},
		{name: "dev key with a public admin address", c: Common{AuthAllowDevKey: true, GRPCAddr: "127.0.0.1:50051", AdminAddr: "0.0.0.0:9051"}, wantErr: "ADMIN_ADDR"},
		{name: "dev key with a public health probe address", c: Common{AuthAllowDevKey: true, GRPCAddr: "127.0.0.1:50051", HealthAddr: "0.0.0.0:8086"}, wantErr: "GRPC_HEALTH_ADDR"},
		{name: "dev key on a LAN address", c: Common{AuthAllowDevKey: true, GRPCAddr: "192.168.1.10:50051"}, wantErr: "loopback"},
		{name: "dev key and a real key", c: Common{AuthAllowDevKey: true, AuthEd25519PublicKey: pub, GRPCAddr: "127.0.0.1:1"}, wantErr: "not both"},
		{name: "a public key anywhere", c: Common{AuthEd25519PublicKey: pub, GRPCAddr: ":50051"}},
		{name: "an identity provider anywhere", c: Common{AuthOIDCIssuer: "https://idp.example.org", GRPCAddr: ":50051"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, devKey, err := tt.c.Auth()
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Auth() = %v, want an error containing %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Auth() = %v", err)
			case devKey != tt.devKey:
				t.Errorf("devKey = %v, want %v", devKey, tt.devKey)
			case tt.devKey && cfg.Keys.Ed25519PrivateKey != DevEd25519Seed:
				t.Errorf("the development key is not the one configured: %+v", cfg.Keys)
			}
		})
	}
}

// TestServerLimits: the gRPC server's limits have working defaults, each
// can be set, and Server hands them all to the server.
func TestServerLimits(t *testing.T) {
	t.Setenv("GRPC_MAX_DEADLINE", "2m")
	t.Setenv("GRPC_MAX_STREAMS_PER_SUBJECT", "4")
	var c Common
	if err := Load(&c); err != nil {
		t.Fatal(err)
	}
	want := grpcserver.Config{
		Reflection: true, DefaultDeadline: 10 * time.Second, ShutdownTimeout: 15 * time.Second,
		MaxDeadline: 2 * time.Minute, MaxConcurrentStreams: 100,
		KeepaliveMinTime: 30 * time.Second, KeepalivePermitWithoutStream: true,
		KeepaliveTime: time.Minute, KeepaliveTimeout: 20 * time.Second,
		MaxConnectionAge: 30 * time.Minute, MaxConnectionAgeGrace: time.Minute,
	}
	if got := c.Server(); got != want {
		t.Errorf("Server() = %+v\nwant       %+v", got, want)
	}
	if c.MaxStreamsPerSubject != 4 {
		t.Errorf("MaxStreamsPerSubject = %d, want 4", c.MaxStreamsPerSubject)
	}
	// The defaults alone: the grace lets every unary call in flight at
	// GOAWAY run to its cap, and the default deadline is within the cap.
	var defaults Common
	if err := env.ParseWithOptions(&defaults, env.Options{Environment: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if defaults.MaxConnectionAgeGrace < defaults.MaxDeadline || defaults.DefaultDeadline > defaults.MaxDeadline {
		t.Errorf("defaults: grace %s, max deadline %s, default deadline %s; want default <= max <= grace",
			defaults.MaxConnectionAgeGrace, defaults.MaxDeadline, defaults.DefaultDeadline)
	}
}

func TestCheckProfiling(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c  Common
		ok bool
	}{
		{Common{Profiling: false, AdminAddr: "0.0.0.0:9051"}, true},
		{Common{Profiling: true, AdminAddr: "127.0.0.1:9051"}, true},
		{Common{Profiling: true, AdminAddr: "0.0.0.0:9051"}, false},
		{Common{Profiling: true, AdminAddr: ":9051"}, false},
		{Common{Profiling: true, AdminAddr: ""}, false},
	} {
		if err := tt.c.CheckProfiling(); (err == nil) != tt.ok {
			t.Errorf("PROFILING=%v ADMIN_ADDR=%q: %v, want ok=%v", tt.c.Profiling, tt.c.AdminAddr, err, tt.ok)
		}
	}
}

// TestNATSCredentials: the password comes from its file (less the final
// newline) and never reaches the start-up log; conflicting settings are
// refused naming the variable.
func TestNATSCredentials(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("n4ts-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Common{NATSUser: "vetting", NATSPasswordFile: file, NATSCAFile: "/ca.pem"}
	creds, err := c.NATSCredentials("vetting")
	if err != nil {
		t.Fatal(err)
	}
	if creds.User != "vetting" || creds.Password != "n4ts-s3cret" || creds.CAFile != "/ca.pem" || creds.InboxPrefix != "_INBOX_vetting" {
		t.Errorf("NATSCredentials = %+v", creds)
	}
	c.NATSPassword = "n4ts-s3cret"
	for _, logged := range []string{c.LogValue().String(), Common{NATSPassword: "n4ts-s3cret"}.LogValue().String()} {
		if strings.Contains(logged, "n4ts-s3cret") || !strings.Contains(logged, "nats_password_set=true") {
			t.Errorf("LogValue must say a password is set, never what it is: %s", logged)
		}
	}
	for _, tt := range []struct {
		c    Common
		want string
	}{
		{Common{NATSUser: "vetting", NATSPassword: "a", NATSPasswordFile: file}, "NATS_PASSWORD_FILE: set it or NATS_PASSWORD"},
		{Common{NATSUser: "vetting", NATSPasswordFile: filepath.Join(t.TempDir(), "missing")}, "NATS_PASSWORD_FILE"},
	} {
		if _, err := tt.c.NATSCredentials("vetting"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NATSCredentials(%+v) = %v, want an error containing %q", tt.c, err, tt.want)
		}
	}
}

// TestServerTLS: gRPC is TLS unless plain text is asked for on loopback;
// every refusal names the variable to set.
func TestServerTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	withCert := Common{GRPCAddr: ":50051", TLSCertFile: certs.Server.Cert, TLSKeyFile: certs.Server.Key}
	for _, tt := range []struct {
		name    string
		c       Common
		tls     bool
		mtls    bool
		wantErr string
	}{
		{name: "certificate", c: withCert, tls: true},
		{name: "certificate and client CA", c: func() Common { c := withCert; c.TLSClientCAFile = certs.CA; return c }(), tls: true, mtls: true},
		{name: "insecure on loopback", c: Common{GRPCAddr: "127.0.0.1:50051", GRPCInsecure: true}},
		{name: "insecure on localhost", c: Common{GRPCAddr: "localhost:50051", GRPCInsecure: true}},
		{name: "nothing", c: Common{GRPCAddr: "127.0.0.1:50051"}, wantErr: "TLS_CERT_FILE and TLS_KEY_FILE are required"},
		{name: "insecure on every interface", c: Common{GRPCAddr: ":50051", GRPCInsecure: true}, wantErr: `GRPC_INSECURE: plain-text gRPC is allowed only on a loopback address; GRPC_ADDR is ":50051"`},
		{name: "insecure on a LAN address", c: Common{GRPCAddr: "10.1.2.3:50051", GRPCInsecure: true}, wantErr: "GRPC_INSECURE"},
		{name: "insecure and a certificate", c: func() Common { c := withCert; c.GRPCInsecure = true; return c }(), wantErr: "not both"},
		{name: "certificate without key", c: Common{GRPCAddr: ":1", TLSCertFile: certs.Server.Cert}, wantErr: "TLS_KEY_FILE: required with TLS_CERT_FILE"},
		{name: "client CA alone", c: Common{GRPCAddr: "127.0.0.1:1", GRPCInsecure: true, TLSClientCAFile: certs.CA}, wantErr: "TLS_CLIENT_CA_FILE"},
		{name: "missing certificate file", c: Common{GRPCAddr: ":1", TLSCertFile: certs.CA + ".missing", TLSKeyFile: certs.Server.Key}, wantErr: "TLS_CERT_FILE: open"},
		{name: "key of another certificate", c: Common{GRPCAddr: ":1", TLSCertFile: certs.Server.Cert, TLSKeyFile: certs.Client.Key}, wantErr: "TLS_CERT_FILE and TLS_KEY_FILE: not a matching"},
		{name: "client CA not PEM", c: func() Common { c := withCert; c.TLSClientCAFile = certs.Server.Key; return c }(), wantErr: "TLS_CLIENT_CA_FILE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.c.ServerTLS()
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ServerTLS() = %v, want an error containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("ServerTLS() = %v", err)
			case (cfg != nil) != tt.tls:
				t.Fatalf("ServerTLS() = %v, want TLS %v", cfg, tt.tls)
			case cfg != nil && (cfg.MinVersion < tls.VersionTLS12 || (cfg.ClientAuth == tls.RequireAndVerifyClientCert) != tt.mtls):
				t.Errorf("MinVersion %x, ClientAuth %v; want at least TLS 1.2, client certificates %v", cfg.MinVersion, cfg.ClientAuth, tt.mtls)
			}
		})
	}
}

// TestMaskURL: no form of connection string puts its secret in the log.
func TestMaskURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ raw, want string }{
		{"postgres://svc:s3cret@db:5432/recruitment?sslmode=verify-full&sslrootcert=/etc/ca.crt",
			"postgres://svc:xxxxx@db:5432/recruitment?sslmode=verify-full&sslrootcert=/etc/ca.crt"},
		{"postgres://svc@db/recruitment?password=s3cret&sslmode=require", "postgres://svc@db/recruitment?password=xxxxx&sslmode=require"},
		{"postgres://svc@db/recruitment?sslpassword=s3cret", "postgres://svc@db/recruitment?sslpassword=xxxxx"},
		{"postgres://postgres@127.0.0.1:5432/recruitment?sslmode=disable", "postgres://postgres@127.0.0.1:5432/recruitment?sslmode=disable"},
		{"host=db user=svc password=s3cret sslmode=verify-full", "host=db user=svc password=xxxxx sslmode=verify-full"},
		{`host=db password='s3 \'cret' dbname=x`, "host=db password=xxxxx dbname=x"},
		{"nats://s3cret@nats:4222", "nats://xxxxx@nats:4222"},
		{"nats://u:s3cret@a:4222,nats://u:s3cret@b:4222", "nats://u:xxxxx@a:4222,nats://u:xxxxx@b:4222"},
		{"postgres://svc:s3cret@db:bad port/x", "(unparseable)"},
	} {
		if got := maskURL(tt.raw); got != tt.want {
			t.Errorf("maskURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if strings.Contains(maskURL(tt.raw), "s3") {
			t.Errorf("maskURL(%q) shows the secret", tt.raw)
		}
	}
}
