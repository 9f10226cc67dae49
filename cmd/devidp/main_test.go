package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRefusesNonLoopbackAddr(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:5556", ":5556", "192.0.2.1:5556"} {
		t.Setenv("DEVIDP_ADDR", addr)
		if err := run(t.Context(), io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("DEVIDP_ADDR=%s: %v, want a refusal", addr, err)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	t.Setenv("DEVIDP_ADDR", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, pw); pw.Close() }()
	issuers := make(chan string, 1)
	go func() { // reads the whole banner, so run never blocks on the pipe
		lines := bufio.NewScanner(pr)
		for lines.Scan() {
			if f := strings.Fields(lines.Text()); len(f) == 2 && f[0] == "issuer" {
				issuers <- f[1]
			}
		}
		close(issuers)
	}()
	var issuer string
	select {
	case issuer = <-issuers:
	case <-time.After(10 * time.Second):
	}
	if issuer == "" {
		t.Fatal("no issuer line in the banner")
	}
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc.Issuer != issuer {
		t.Errorf("discovery issuer %q (%v), want %q", doc.Issuer, err, issuer)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}
