package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

func TestSessionConfig(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString(session.RandomKey())
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loopback := settings{HTTPAddr: "127.0.0.1:8080", OIDCIssuer: "http://127.0.0.1:5556", OIDCClientID: "recruitment-dashboard", OIDCClientSecret: "s"}

	// On a developer's machine: a random key (with a warning) and the
	// listen address as the public URL.
	s := loopback
	cfg, warn, err := s.sessionConfig()
	if err != nil || warn == "" || cfg.Codec == nil || cfg.PublicURL != "http://127.0.0.1:8080" || cfg.ClientSecret != "s" {
		t.Errorf("loopback without a key: %+v, %q, %v", cfg, warn, err)
	}
	s = loopback
	s.OIDCClientSecret, s.OIDCClientSecretFile = "", secretFile
	if cfg, _, err := s.sessionConfig(); err != nil || cfg.ClientSecret != "from-a-file" {
		t.Errorf("secret from a file: %q, %v", cfg.ClientSecret, err)
	}

	// Anywhere else: a key and a public URL, or no start.
	for name, change := range map[string]func(*settings){
		"no session key off loopback": func(s *settings) { s.HTTPAddr, s.PublicURL = "0.0.0.0:8080", "https://dashboard.example.org" },
		"no public URL off loopback":  func(s *settings) { s.HTTPAddr, s.SessionKey = "0.0.0.0:8080", key },
		"no issuer":                   func(s *settings) { s.OIDCIssuer = "" },
		"no client secret":            func(s *settings) { s.OIDCClientSecret = "" },
		"secret twice":                func(s *settings) { s.OIDCClientSecretFile = secretFile },
		"a short session key":         func(s *settings) { s.SessionKey = base64.StdEncoding.EncodeToString([]byte("short")) },
	} {
		s := loopback
		change(&s)
		if _, _, err := s.sessionConfig(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s = loopback
	s.HTTPAddr, s.PublicURL, s.SessionKey = "0.0.0.0:8080", "https://dashboard.example.org", key
	if cfg, warn, err := s.sessionConfig(); err != nil || warn != "" || cfg.PublicURL != "https://dashboard.example.org" {
		t.Errorf("production settings: %+v, %q, %v", cfg, warn, err)
	}
	s = loopback
	s.OIDCClientSecret, s.SessionKey = "very-secret-value", key
	if v := s.LogValue().String(); strings.Contains(v, "very-secret-value") || strings.Contains(v, key) {
		t.Errorf("the start-up log shows a secret: %s", v)
	}
}

// TestTransportSettings: the reporting client speaks TLS unless plain text
// to loopback is asked for, and every refusal names its variable.
func TestTransportSettings(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	for _, tt := range []struct {
		name    string
		s       settings
		secure  bool
		wantErr string
	}{
		{name: "system roots", s: settings{ReportingAddr: "reporting.internal:443"}, secure: true},
		{name: "own CA and client certificate", s: settings{ReportingAddr: "reporting:50055", ReportingCAFile: certs.CA,
			ReportingCertFile: certs.Client.Cert, ReportingKeyFile: certs.Client.Key}, secure: true},
		{name: "insecure on loopback", s: settings{ReportingAddr: "127.0.0.1:50055", ReportingInsecure: true}},
		{name: "insecure to another machine", s: settings{ReportingAddr: "reporting:50055", ReportingInsecure: true},
			wantErr: `REPORTING_INSECURE: plain text is allowed only to a loopback address; REPORTING_ADDR is "reporting:50055"`},
		{name: "insecure and a CA", s: settings{ReportingAddr: "127.0.0.1:50055", ReportingInsecure: true, ReportingCAFile: certs.CA}, wantErr: "not both"},
		{name: "client certificate without key", s: settings{ReportingAddr: "reporting:50055", ReportingCertFile: certs.Client.Cert},
			wantErr: "REPORTING_KEY_FILE: required with REPORTING_CERT_FILE"},
		{name: "missing CA", s: settings{ReportingAddr: "reporting:50055", ReportingCAFile: certs.CA + ".missing"}, wantErr: "REPORTING_CA_FILE: open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			transport, perCall, err := tt.s.reportingCredentials()
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("reportingCredentials() = %v, want an error containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case (transport.Info().SecurityProtocol == "tls") != tt.secure || perCall.RequireTransportSecurity() != tt.secure:
				t.Errorf("protocol %q, token requires TLS %v; want TLS %v", transport.Info().SecurityProtocol, perCall.RequireTransportSecurity(), tt.secure)
			}
		})
	}

	s := settings{TLSCertFile: certs.Server.Cert}
	if _, err := s.serverTLS(); err == nil || !strings.Contains(err.Error(), "DASHBOARD_TLS_KEY_FILE: required") {
		t.Errorf("a certificate without its key: %v", err)
	}
	s = settings{HTTPAddr: "127.0.0.1:8443", TLSCertFile: certs.Server.Cert, TLSKeyFile: certs.Server.Key,
		OIDCIssuer: "http://127.0.0.1:5556", OIDCClientSecret: "s"}
	if cfg, err := s.serverTLS(); err != nil || cfg == nil {
		t.Errorf("HTTPS: %v, %v", cfg, err)
	}
	if cfg, _, err := s.sessionConfig(); err != nil || cfg.PublicURL != "https://127.0.0.1:8443" {
		t.Errorf("the default public URL over HTTPS is %q (%v), want https://127.0.0.1:8443", cfg.PublicURL, err)
	}
}
