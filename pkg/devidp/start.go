package devidp

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Start serves a provider with DemoUsers and clients on 127.0.0.1 (an
// httptest server; the issuer is its URL) until the test ends.
func Start(t testing.TB, clients ...Client) *Provider {
	t.Helper()
	return StartConfig(t, Config{Clients: clients})
}

// StartConfig is Start with a whole Config: Issuer is replaced by the test
// server's URL, and Users default to DemoUsers.
func StartConfig(t testing.TB, cfg Config) *Provider {
	t.Helper()
	var handler http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r)
	}))
	cfg.Issuer = "http://" + srv.Listener.Addr().String()
	if cfg.Users == nil {
		cfg.Users = DemoUsers()
	}
	p, err := New(cfg)
	if err != nil {
		srv.Listener.Close()
		t.Fatalf("devidp.Start: %v", err)
	}
	handler = p.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}
