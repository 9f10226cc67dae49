package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
