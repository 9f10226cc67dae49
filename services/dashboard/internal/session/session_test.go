package session

import (
	"strings"
	"testing"
	"time"
)

// After sign-in the browser goes back to the page it came from, and only to
// a page of this dashboard: never to another site (an open redirect would
// let a link through the dashboard's sign-in land somewhere that looks
// like it).
func TestSafeReturnPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/":                                    "/",
		"/regions/london":                      "/regions/london",
		"/regions/london?stage=sift#stuck":     "/regions/london?stage=sift#stuck",
		"/regions/london/stuck.csv?severity=a": "/regions/london/stuck.csv?severity=a",
		"":                                     "/",
		"regions/london":                       "/",
		"https://evil.example/":                "/",
		"http://evil.example":                  "/",
		"//evil.example/path":                  "/",
		"///evil.example":                      "/",
		`/\evil.example`:                       "/",
		`/regions\..\..\evil`:                  "/",
		"/\t/evil.example":                     "/",
		"/\n/evil.example":                     "/",
		"javascript:alert(1)":                  "/",
		"/auth/signin?next=/":                  "/",
		"/auth/callback?code=x":                "/",
		"/%2F%2Fevil.example":                  "/%2F%2Fevil.example", // a path, not a host
		"/" + strings.Repeat("a", 3000):        "/",
	} {
		if got := SafeReturnPath(in); got != want {
			t.Errorf("SafeReturnPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewChecksItsConfig(t *testing.T) {
	t.Parallel()
	codec, err := NewCodec(RandomKey())
	if err != nil {
		t.Fatal(err)
	}
	ok := Config{Issuer: "http://127.0.0.1:5556", ClientID: "recruitment-dashboard", ClientSecret: "s", PublicURL: "http://127.0.0.1:8080", Codec: codec}
	if _, err := New(ok); err != nil {
		t.Fatalf("loopback http: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"plain http off loopback": func(c *Config) { c.PublicURL = "http://dashboard.example.org" },
		"a path":                  func(c *Config) { c.PublicURL = "https://dashboard.example.org/dash" },
		"no scheme":               func(c *Config) { c.PublicURL = "dashboard.example.org" },
		"no secret":               func(c *Config) { c.ClientSecret = "" },
		"no issuer":               func(c *Config) { c.Issuer = "" },
		"no codec":                func(c *Config) { c.Codec = nil },
	} {
		c := ok
		change(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	https := ok
	https.PublicURL = "https://dashboard.example.org/"
	m, err := New(https)
	if err != nil {
		t.Fatal(err)
	}
	if m.RedirectURL() != "https://dashboard.example.org/auth/callback" || m.PostLogoutURL() != "https://dashboard.example.org/" {
		t.Errorf("redirect %s, post-logout %s", m.RedirectURL(), m.PostLogoutURL())
	}
}

// Tokens are renewed five minutes before they expire, or halfway through
// when they live less than ten minutes.
func TestRefreshAt(t *testing.T) {
	t.Parallel()
	codec, _ := NewCodec(RandomKey())
	m, err := New(Config{Issuer: "http://127.0.0.1:5556", ClientID: "c", ClientSecret: "s", PublicURL: "http://127.0.0.1:8080", Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for lifetime, want := range map[time.Duration]time.Duration{
		time.Hour:        55 * time.Minute,
		10 * time.Minute: 5 * time.Minute,
		2 * time.Minute:  time.Minute,
	} {
		s := &Session{IssuedAt: iat, Expiry: iat.Add(lifetime)}
		if got := m.RefreshAt(s).Sub(iat); got != want {
			t.Errorf("token living %s renewed after %s, want %s", lifetime, got, want)
		}
	}
}
