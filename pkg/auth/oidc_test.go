package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/devidp"
)

// The tests below verify tokens from a real OpenID provider (pkg/devidp,
// zitadel's op) served in the test, as a service would.

var dashboardAudience = []string{devidp.DashboardClientID}

func oidcVerifier(t *testing.T, cfg auth.OIDCConfig, audiences ...string) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{OIDC: &cfg, Audiences: audiences})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func issue(t *testing.T, p *devidp.Provider, client, user string, lifetime time.Duration) string {
	t.Helper()
	tok, err := p.IssueIDToken(t.Context(), client, user, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantRefused(t *testing.T, v *auth.Verifier, what, token, reason string) {
	t.Helper()
	c, err := v.Verify(t.Context(), token)
	switch {
	case err == nil:
		t.Errorf("%s: accepted as %+v", what, c)
	case !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), reason):
		t.Errorf("%s: %v, want Unauthenticated saying %q", what, err, reason)
	}
}

func TestOIDCTokens(t *testing.T) {
	t.Parallel()
	p := devidp.StartConfig(t, devidp.Config{
		Clients: []devidp.Client{devidp.DashboardClient("http://127.0.0.1:8080/auth/callback"), devidp.CLIClient()},
		Users: append(devidp.DemoUsers(),
			devidp.User{ID: "no-role", Name: "N", Regions: []string{"london"}},
			devidp.User{ID: "system:offers", Name: "S", Role: devidp.RoleAdmin},
			devidp.User{ID: "ada.lovelace@justice.example", Name: "Ada", Role: devidp.RoleSPOC, Regions: []string{"london"}},
			devidp.User{ID: "atlantis-spoc", Name: "A", Role: devidp.RoleSPOC, Regions: []string{"atlantis"}}),
	})
	v := oidcVerifier(t, auth.OIDCConfig{Issuer: p.Issuer()}, dashboardAudience...)

	c, err := v.Verify(t.Context(), issue(t, p, devidp.DashboardClientID, "dashboard-london", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "dashboard-london" || c.Role != auth.RoleDashboard || len(c.Regions) != 1 || c.Regions[0] != "london" {
		t.Errorf("claims = %+v", c)
	}
	if c, err := v.Verify(t.Context(), issue(t, p, devidp.DashboardClientID, "admin", time.Hour)); err != nil || c.Role != auth.RoleAdmin {
		t.Errorf("admin: %+v, %v", c, err)
	}

	wantRefused(t, v, "a token for another client", issue(t, p, devidp.CLIClientID, "spoc-london", time.Hour), "audience")
	wantRefused(t, v, "an expired token", issue(t, p, devidp.DashboardClientID, "spoc-london", -time.Minute), "token expired")
	wantRefused(t, v, "a user with no role", issue(t, p, devidp.DashboardClientID, "no-role", time.Hour), "names no role")
	wantRefused(t, v, "a service's subject", issue(t, p, devidp.DashboardClientID, "system:offers", time.Hour), "reserved for the services")
	wantRefused(t, v, "an email address as subject", issue(t, p, devidp.DashboardClientID, "ada.lovelace@justice.example", time.Hour), "not an email address")
	wantRefused(t, v, "an unknown region", issue(t, p, devidp.DashboardClientID, "atlantis-spoc", time.Hour), `unknown region "atlantis"`)
	wantRefused(t, v, "a lifetime over the cap", issue(t, p, devidp.DashboardClientID, "spoc-london", 13*time.Hour), "lifetime exceeds 12h")

	// A token that claims the provider as issuer but is signed with another
	// key (the provider's kid, so only the signature can give it away).
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": p.Issuer(), "sub": "admin", "aud": devidp.DashboardClientID, "role": "admin", "regions": []string{},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	forged.Header["kid"] = p.SigningKeyID()
	signed, err := forged.SignedString(forger)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, v, "a forged token", signed, "signature")

	// Another provider's token: its issuer is not trusted here.
	other := devidp.Start(t, devidp.DashboardClient("http://127.0.0.1:8080/auth/callback"))
	wantRefused(t, v, "another provider's token", issue(t, other, devidp.DashboardClientID, "admin", time.Hour), "wrong issuer")
}

// TestOIDCKeyRotation: after the provider rotates its key, tokens signed
// with the new one verify (the verifier fetches the keys again for an
// unknown kid); tokens signed with a key the provider no longer publishes
// do not.
func TestOIDCKeyRotation(t *testing.T) {
	t.Parallel()
	p := devidp.Start(t, devidp.DashboardClient("http://127.0.0.1:8080/auth/callback"))
	v := oidcVerifier(t, auth.OIDCConfig{Issuer: p.Issuer()}, dashboardAudience...)
	first := issue(t, p, devidp.DashboardClientID, "spoc-london", time.Hour)
	if _, err := v.Verify(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := p.Rotate(); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), issue(t, p, devidp.DashboardClientID, "spoc-wales", time.Hour)); err != nil {
			t.Fatalf("a token signed with the rotated key: %v", err)
		}
	}
	// first is remembered as accepted; a fresh verifier shows the key is gone.
	fresh := oidcVerifier(t, auth.OIDCConfig{Issuer: p.Issuer()}, dashboardAudience...)
	wantRefused(t, fresh, "a token signed with a retired key", first, "signature")
}

// TestOIDCClaimMapping: an identity provider's own claim values (groups)
// map to a role and regions by configuration.
func TestOIDCClaimMapping(t *testing.T) {
	t.Parallel()
	p := devidp.StartConfig(t, devidp.Config{
		Clients: []devidp.Client{devidp.CLIClient()},
		Users: []devidp.User{
			{ID: "u1", Name: "U1", Role: "grp-resourcing", Regions: []string{"pipeline-region-london", "all-staff", "pipeline-region-wales"}},
			{ID: "u2", Name: "U2", Role: "grp-canteen", Regions: []string{"pipeline-region-london"}},
		},
	})
	v := oidcVerifier(t, auth.OIDCConfig{
		Issuer: p.Issuer(), RoleValues: map[string]auth.Role{"grp-resourcing": auth.RoleSPOC}, RegionPrefix: "pipeline-region-",
	}, devidp.CLIClientID)
	c, err := v.Verify(t.Context(), issue(t, p, devidp.CLIClientID, "u1", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != auth.RoleSPOC || strings.Join(c.Regions, ",") != "london,wales" {
		t.Errorf("mapped claims = %+v, want spoc in london,wales", c)
	}
	wantRefused(t, v, "a group that maps to no role", issue(t, p, devidp.CLIClientID, "u2", time.Hour), "names no role")
	if _, err := auth.NewVerifier(auth.VerifierConfig{OIDC: &auth.OIDCConfig{Issuer: p.Issuer(), RoleValues: map[string]auth.Role{"g": "root"}}}); err == nil {
		t.Error("a mapping to an unknown role was accepted")
	}
	if _, err := auth.NewVerifier(auth.VerifierConfig{OIDC: &auth.OIDCConfig{Issuer: "http://idp.example.org"}}); err == nil {
		t.Error("a plain-http issuer off loopback was accepted")
	}
}

// TestOIDCProviderDown: while the provider cannot be reached its tokens are
// refused with a clear reason, the pipeline's own tokens still verify, and
// once it is back its tokens verify again.
func TestOIDCProviderDown(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p, err := devidp.New(devidp.Config{Issuer: srv.URL, Users: devidp.DemoUsers(),
		Clients: []devidp.Client{devidp.DashboardClient("http://127.0.0.1:8080/auth/callback")}})
	if err != nil {
		t.Fatal(err)
	}
	handler = p.Handler()
	keys, err := auth.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, OIDC: &auth.OIDCConfig{Issuer: p.Issuer()},
		Audiences: []string{auth.Audience, devidp.DashboardClientID}})
	if err != nil {
		t.Fatal(err)
	}
	tok := issue(t, p, devidp.DashboardClientID, "spoc-london", time.Hour)
	wantRefused(t, v, "while the provider is down", tok, "identity provider unavailable")
	own, err := mustSigner(t, keys).Mint(auth.Claims{Subject: "automation", Role: auth.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), own); err != nil {
		t.Errorf("the pipeline's own token while the provider is down: %v", err)
	}
	up.Store(true)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := v.Verify(t.Context(), tok)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider is back but its token is still refused: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
