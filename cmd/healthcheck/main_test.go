package main

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }))
	t.Cleanup(ready.Close)
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: nats", http.StatusServiceUnavailable)
	}))
	t.Cleanup(notReady.Close)

	var out strings.Builder
	if err := run([]string{ready.URL + "/healthz"}, &out); err != nil {
		t.Fatalf("ready service: %v", err)
	}
	if !strings.Contains(out.String(), "200 OK ok") {
		t.Errorf("ready service printed %q, want its status and answer", out.String())
	}
	err := run([]string{notReady.URL + "/healthz"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("service answering 503: err = %v, want one naming 503", err)
	}
	if err := run([]string{"-ca-file", "/nonexistent", ready.URL}, io.Discard); err == nil || !strings.Contains(err.Error(), "-ca-file") {
		t.Errorf("missing CA file: err = %v, want one naming -ca-file", err)
	}
	if err := run(nil, io.Discard); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no URL: err = %v, want the usage", err)
	}
}

func TestHealthcheckHTTPS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-ca-file", ca, srv.URL + "/healthz"}, io.Discard); err != nil {
		t.Errorf("https with its CA: %v", err)
	}
	// Without the CA the server's certificate is unknown: refused.
	if err := run([]string{srv.URL + "/healthz"}, io.Discard); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("https without its CA: err = %v, want a certificate error", err)
	}
}
