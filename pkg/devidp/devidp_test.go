package devidp_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/probation-recruitment/pipeline/pkg/devidp"
	"github.com/probation-recruitment/pipeline/pkg/region"
)

const dashboardRedirect = "http://127.0.0.1:8080/auth/callback"

// rp is a relying party of the provider, built only from maintained
// client libraries: go-oidc for discovery and verification, x/oauth2 for
// the code flow.
type rp struct {
	idp      *devidp.Provider
	oidc     *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, idp *devidp.Provider, c devidp.Client, redirectURI string) *rp {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), idp.Issuer())
	if err != nil {
		t.Fatalf("discover %s: %v", idp.Issuer(), err)
	}
	return &rp{
		idp:  idp,
		oidc: provider,
		oauth: oauth2.Config{
			ClientID:     c.ID,
			ClientSecret: c.Secret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  redirectURI,
			Scopes:       []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: c.ID}),
	}
}

// flow is one authorization request: its PKCE verifier, state and nonce.
type flow struct {
	verifier, state, nonce string
	authURL                string
}

func (r *rp) start(opts ...oauth2.AuthCodeOption) flow {
	f := flow{verifier: oauth2.GenerateVerifier(), state: oauth2.GenerateVerifier()[:16], nonce: oauth2.GenerateVerifier()[:16]}
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce)}, opts...)
	f.authURL = r.oauth.AuthCodeURL(f.state, opts...)
	return f
}

// signIn runs the code flow as userID up to the code.
func (r *rp) signIn(t *testing.T, hc *http.Client, f flow, userID string) string {
	t.Helper()
	to, err := r.idp.SignIn(t.Context(), hc, f.authURL, userID)
	if err != nil {
		t.Fatalf("sign in as %s: %v", userID, err)
	}
	if got := to.Scheme + "://" + to.Host + to.Path; got != r.oauth.RedirectURL {
		t.Fatalf("redirected to %s, want the client's redirect URI %s", got, r.oauth.RedirectURL)
	}
	if got := to.Query().Get("state"); got != f.state {
		t.Fatalf("state = %q, want %q", got, f.state)
	}
	code := to.Query().Get("code")
	if code == "" {
		t.Fatalf("redirect %s has no code", to)
	}
	return code
}

// login runs the whole code flow as userID and returns the tokens.
func (r *rp) login(t *testing.T, userID string) (*oauth2.Token, flow) {
	t.Helper()
	f := r.start()
	code := r.signIn(t, nil, f, userID)
	tok, err := r.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchange code: %v", err)
	}
	return tok, f
}

type claims struct {
	Name    string   `json:"name"`
	Role    string   `json:"role"`
	Regions []string `json:"regions"`
}

func (r *rp) verify(t *testing.T, raw string) (*oidc.IDToken, claims) {
	t.Helper()
	idt, err := r.verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	return idt, c
}

func idToken(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatal("token response has no id_token")
	}
	return raw
}

func keyID(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse JWS: %v", err)
	}
	return jws.Signatures[0].Header.KeyID
}

func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestCodeFlowDashboard(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	idp := devidp.Start(t, dash)
	r := newRP(t, idp, dash, dashboardRedirect)

	tok, f := r.login(t, "dashboard-london")
	idt, c := r.verify(t, idToken(t, tok))
	if idt.Issuer != idp.Issuer() || idt.Subject != "dashboard-london" || !slices.Equal(idt.Audience, []string{devidp.DashboardClientID}) {
		t.Errorf("iss, sub, aud = %s, %s, %v", idt.Issuer, idt.Subject, idt.Audience)
	}
	if idt.Nonce != f.nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, f.nonce)
	}
	if c.Role != devidp.RoleDashboard || !slices.Equal(c.Regions, []string{"london"}) || c.Name == "" {
		t.Errorf("claims = %+v, want role dashboard, regions [london] and a name", c)
	}
	if life := idt.Expiry.Sub(idt.IssuedAt); life != devidp.DefaultIDTokenLifetime {
		t.Errorf("exp - iat = %v, want %v", life, devidp.DefaultIDTokenLifetime)
	}
	if kid := keyID(t, idToken(t, tok)); kid != idp.SigningKeyID() {
		t.Errorf("kid = %q, want the signing key %q", kid, idp.SigningKeyID())
	}

	t.Run("userinfo", func(t *testing.T) {
		info, err := r.oidc.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uc claims
		if err := info.Claims(&uc); err != nil {
			t.Fatal(err)
		}
		if info.Subject != "dashboard-london" || uc.Role != c.Role || !slices.Equal(uc.Regions, c.Regions) || uc.Name != c.Name {
			t.Errorf("userinfo = %s %+v, want the ID token's %+v", info.Subject, uc, c)
		}
	})

	t.Run("refresh", func(t *testing.T) {
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token despite offline_access")
		}
		fresh, err := r.oauth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		idt2, c2 := r.verify(t, idToken(t, fresh))
		if idt2.Subject != "dashboard-london" || c2.Role != devidp.RoleDashboard || !slices.Equal(c2.Regions, []string{"london"}) {
			t.Errorf("refreshed ID token: sub %s, claims %+v", idt2.Subject, c2)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
			t.Errorf("refresh token not rotated")
		}
		// Rotation: the refresh token just used is spent.
		_, err = r.oauth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if oauthErrorCode(err) != "invalid_grant" {
			t.Errorf("second use of a refresh token: %v, want invalid_grant", err)
		}
	})
}

func TestClaimsOfEachDemoUser(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	idp := devidp.Start(t, dash)
	r := newRP(t, idp, dash, dashboardRedirect)
	for _, u := range devidp.DemoUsers() {
		tok, _ := r.login(t, u.ID)
		idt, _ := r.verify(t, idToken(t, tok))
		var raw map[string]any
		if err := idt.Claims(&raw); err != nil {
			t.Fatal(err)
		}
		regions, ok := raw["regions"].([]any)
		if raw["sub"] != u.ID || raw["role"] != u.Role || raw["name"] != u.Name || !ok || len(regions) != len(u.Regions) {
			t.Errorf("%s: claims %v", u.ID, raw)
		}
	}
}

// op asks the storage for an ID token's user claims only while some scope
// is left after its filtering (it drops "profile" when it also issues an
// access token, unless the client asserts userinfo claims): role and
// regions must land with "openid" alone too.
func TestClaimsWithOpenIDScopeOnly(t *testing.T) {
	t.Parallel()
	cli := devidp.CLIClient()
	idp := devidp.Start(t, cli)
	r := newRP(t, idp, cli, "http://127.0.0.1:9999"+devidp.CLIRedirectPath)
	r.oauth.Scopes = []string{oidc.ScopeOpenID}
	tok, _ := r.login(t, "vetting-wales")
	idt, c := r.verify(t, idToken(t, tok))
	if idt.Subject != "vetting-wales" || c.Role != devidp.RoleVetting || !slices.Equal(c.Regions, []string{"wales"}) || c.Name == "" {
		t.Errorf("scope openid only: sub %s, claims %+v", idt.Subject, c)
	}
	if tok.RefreshToken != "" {
		t.Error("a refresh token without offline_access")
	}
}

func TestDemoUsers(t *testing.T) {
	t.Parallel()
	want := map[string]devidp.User{
		"spoc-london":      {Role: devidp.RoleSPOC, Regions: []string{"london"}},
		"vetting-wales":    {Role: devidp.RoleVetting, Regions: []string{"wales"}},
		"vetting-london":   {Role: devidp.RoleVetting, Regions: []string{"london"}},
		"admin":            {Role: devidp.RoleAdmin, Regions: []string{}},
		"dashboard-london": {Role: devidp.RoleDashboard, Regions: []string{"london"}},
		"approver-london":  {Role: devidp.RoleApprover, Regions: []string{"london"}},
		"approver-wales":   {Role: devidp.RoleApprover, Regions: []string{"wales"}},
	}
	for _, u := range devidp.DemoUsers() {
		for _, code := range u.Regions {
			if !region.Valid(code) {
				t.Errorf("%s: region %q is not a region code", u.ID, code)
			}
		}
		if w, ok := want[u.ID]; ok {
			if u.Role != w.Role || !slices.Equal(u.Regions, w.Regions) {
				t.Errorf("%s = %s %v, want %s %v", u.ID, u.Role, u.Regions, w.Role, w.Regions)
			}
			delete(want, u.ID)
		}
	}
	for id := range want {
		t.Errorf("DemoUsers lacks %s", id)
	}
}

func TestPublicCLIClientOnAnyLoopbackPort(t *testing.T) {
	t.Parallel()
	cli := devidp.CLIClient()
	idp := devidp.Start(t, cli)
	// The port a CLI would listen on for the redirect: whatever is free.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	redirect := "http://" + l.Addr().String() + devidp.CLIRedirectPath
	r := newRP(t, idp, cli, redirect)

	tok, _ := r.login(t, "spoc-london")
	idt, c := r.verify(t, idToken(t, tok))
	if idt.Subject != "spoc-london" || !slices.Equal(idt.Audience, []string{devidp.CLIClientID}) || c.Role != devidp.RoleSPOC {
		t.Errorf("sub %s, aud %v, claims %+v", idt.Subject, idt.Audience, c)
	}
	if _, err := r.oauth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("public client refresh: %v", err)
	}

	for _, bad := range []string{
		"http://" + l.Addr().String() + "/elsewhere",  // another path
		"http://192.0.2.1:" + port(l) + "/callback",   // not loopback
		"https://127.0.0.1:" + port(l) + "/callback/", // another scheme and path
	} {
		br := newRP(t, idp, cli, bad)
		if to, err := idp.SignIn(t.Context(), nil, br.start().authURL, "spoc-london"); err == nil {
			t.Errorf("redirect URI %s accepted: redirected to %s", bad, to)
		}
	}
}

func port(l net.Listener) string {
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	cli := devidp.CLIClient()
	idp := devidp.Start(t, dash, cli)
	r := newRP(t, idp, dash, dashboardRedirect)

	t.Run("unregistered redirect URI", func(t *testing.T) {
		for _, bad := range []string{"http://127.0.0.1:8080/auth/callback/evil", "http://127.0.0.1:8081/auth/callback", "http://evil.example/auth/callback"} {
			br := newRP(t, idp, dash, bad)
			to, err := idp.SignIn(t.Context(), nil, br.start().authURL, "admin")
			if err == nil || to != nil {
				t.Errorf("%s: redirected to %v, err %v; want refused without a redirect", bad, to, err)
			}
		}
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		f := r.start()
		code := r.signIn(t, nil, f, "admin")
		_, err := r.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if oauthErrorCode(err) != "invalid_grant" {
			t.Errorf("wrong verifier: %v, want invalid_grant", err)
		}
		// A code is good for one successful exchange.
		if _, err := r.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier)); err != nil {
			t.Fatalf("right verifier: %v", err)
		}
		if _, err := r.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier)); oauthErrorCode(err) != "invalid_grant" {
			t.Errorf("code used twice: %v, want invalid_grant", err)
		}
	})
	t.Run("no PKCE verifier", func(t *testing.T) {
		f := r.start()
		code := r.signIn(t, nil, f, "admin")
		if _, err := r.oauth.Exchange(t.Context(), code); oauthErrorCode(err) != "invalid_request" {
			t.Errorf("no verifier: %v, want invalid_request", err)
		}
	})
	t.Run("no PKCE challenge", func(t *testing.T) {
		for name, authURL := range map[string]string{
			"none":  r.oauth.AuthCodeURL("s"),
			"plain": r.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("code_challenge_method", "plain")),
		} {
			to, err := idp.SignIn(t.Context(), nil, authURL, "admin")
			if err == nil || to == nil || to.Query().Get("error") != "invalid_request" {
				t.Errorf("%s: redirected to %v, err %v; want invalid_request", name, to, err)
			}
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		f := r.start()
		code := r.signIn(t, nil, f, "admin")
		wrong := r.oauth
		wrong.ClientSecret = "guess"
		if _, err := wrong.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier)); oauthErrorCode(err) != "invalid_client" {
			t.Errorf("wrong secret: %v, want invalid_client", err)
		}
	})
	t.Run("code of another client", func(t *testing.T) {
		f := r.start()
		code := r.signIn(t, nil, f, "admin")
		other := newRP(t, idp, cli, dashboardRedirect)
		if _, err := other.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier)); err == nil {
			t.Error("the CLI exchanged the dashboard's code")
		}
	})
	t.Run("token for another audience", func(t *testing.T) {
		raw, err := idp.IssueIDToken(t.Context(), devidp.CLIClientID, "admin", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.verifier.Verify(t.Context(), raw); err == nil {
			t.Error("the dashboard's verifier accepted an ID token for the CLI")
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		if to, err := idp.SignIn(t.Context(), nil, r.start().authURL, "mallory"); err == nil {
			t.Errorf("signed in as an unknown user: %s", to)
		}
	})
	t.Run("non-loopback Host header", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, idp.Issuer()+"/.well-known/openid-configuration", nil)
		req.Host = "idp.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host idp.example: %s, want 421", resp.Status)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	idp := devidp.Start(t, dash)
	r := newRP(t, idp, dash, dashboardRedirect)

	k1 := idp.SigningKeyID()
	tok1, _ := r.login(t, "spoc-london")
	raw1 := idToken(t, tok1)
	r.verify(t, raw1) // the verifier caches the JWKS: [k1]

	k2, err := idp.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if k2 == k1 || idp.SigningKeyID() != k2 {
		t.Fatalf("rotate: kid %q → %q, signing with %q", k1, k2, idp.SigningKeyID())
	}
	tok2, _ := r.login(t, "spoc-london")
	raw2 := idToken(t, tok2)
	if kid := keyID(t, raw2); kid != k2 {
		t.Errorf("token after rotation has kid %q, want %q", kid, k2)
	}
	// go-oidc does not know k2, fetches the JWKS again and finds it.
	r.verify(t, raw2)
	// The previous key is still published: tokens signed before one
	// rotation verify until they expire, here and in a fresh verifier.
	r.verify(t, raw1)
	fresh := r.oidc.Verifier(&oidc.Config{ClientID: dash.ID})
	if _, err := fresh.Verify(t.Context(), raw1); err != nil {
		t.Errorf("token of the previous key, fresh verifier: %v", err)
	}
	if got := jwksKeyIDs(t, idp); !slices.Equal(got, []string{k2, k1}) {
		t.Errorf("JWKS after one rotation = %v, want [%s %s]", got, k2, k1)
	}

	k3, err := idp.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	raw3, err := idp.IssueIDToken(t.Context(), dash.ID, "spoc-london", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r.verify(t, raw3) // refetches: [k3 k2]
	if got := jwksKeyIDs(t, idp); !slices.Equal(got, []string{k3, k2}) {
		t.Errorf("JWKS after two rotations = %v, want [%s %s]", got, k3, k2)
	}
	if _, err := r.verifier.Verify(t.Context(), raw1); err == nil {
		t.Error("a token signed two rotations ago still verifies")
	}
	if _, err := r.verifier.Verify(t.Context(), raw2); err != nil {
		t.Errorf("a token signed one rotation ago: %v", err)
	}
}

func jwksKeyIDs(t *testing.T, idp *devidp.Provider) []string {
	t.Helper()
	resp, err := http.Get(idp.Issuer() + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		if k.Algorithm != "RS256" || k.Use != "sig" || !k.IsPublic() {
			t.Errorf("JWKS key %s: alg %s, use %s, public %v", k.KeyID, k.Algorithm, k.Use, k.IsPublic())
		}
		ids = append(ids, k.KeyID)
	}
	return ids
}

func TestIssueIDToken(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	idp := devidp.Start(t, dash)
	r := newRP(t, idp, dash, dashboardRedirect)

	raw, err := idp.IssueIDToken(t.Context(), dash.ID, "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	idt, c := r.verify(t, raw)
	if idt.Subject != "admin" || c.Role != devidp.RoleAdmin || c.Regions == nil || len(c.Regions) != 0 {
		t.Errorf("admin token: sub %s, claims %+v (regions must be [], not absent)", idt.Subject, c)
	}
	expired, err := idp.IssueIDToken(t.Context(), dash.ID, "admin", -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var tee *oidc.TokenExpiredError
	if _, err := r.verifier.Verify(t.Context(), expired); !errors.As(err, &tee) {
		t.Errorf("expired token: %v, want a TokenExpiredError", err)
	}
	if _, err := idp.IssueIDToken(t.Context(), dash.ID, "mallory", time.Hour); err == nil {
		t.Error("issued a token for an unknown user")
	}
	if _, err := idp.IssueIDToken(t.Context(), "nobody", "admin", time.Hour); err == nil {
		t.Error("issued a token for an unknown client")
	}
}

func TestUsersWithoutRoleOrRegions(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	idp := devidp.StartConfig(t, devidp.Config{
		Users:           []devidp.User{{ID: "nobody", Name: "No Role"}},
		Clients:         []devidp.Client{dash},
		IDTokenLifetime: 5 * time.Minute,
	})
	r := newRP(t, idp, dash, dashboardRedirect)
	tok, _ := r.login(t, "nobody")
	idt, _ := r.verify(t, idToken(t, tok))
	var raw map[string]any
	if err := idt.Claims(&raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["role"]; ok {
		t.Errorf("a user with no role got a role claim: %v", raw)
	}
	if regions, ok := raw["regions"].([]any); !ok || len(regions) != 0 {
		t.Errorf("regions = %v, want []", raw["regions"])
	}
	if life := idt.Expiry.Sub(idt.IssuedAt); life != 5*time.Minute {
		t.Errorf("lifetime %v, want the configured 5m", life)
	}
}

func TestSessionAndSignOut(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	idp := devidp.Start(t, dash)
	r := newRP(t, idp, dash, dashboardRedirect)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	// Nobody signed in: prompt=none cannot sign anyone in.
	if to, err := idp.SignIn(t.Context(), browser, r.start(oauth2.SetAuthURLParam("prompt", "none")).authURL, ""); err == nil || to.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none before sign-in: %v, %v; want login_required", to, err)
	}

	f := r.start()
	code := r.signIn(t, browser, f, "vetting-wales")
	tok, err := r.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}

	// Signed in: prompt=none goes through as the same user, with no page.
	silent := r.start(oauth2.SetAuthURLParam("prompt", "none"))
	code = r.signIn(t, browser, silent, "")
	tok2, err := r.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(silent.verifier))
	if err != nil {
		t.Fatal(err)
	}
	if idt, _ := r.verify(t, idToken(t, tok2)); idt.Subject != "vetting-wales" {
		t.Errorf("silent sign-in as %s, want vetting-wales", idt.Subject)
	}

	// The sign-in page says who is signed in.
	page := signInPage(t, browser, r.start().authURL)
	if !strings.Contains(page, "signed in to this provider as Gareth Price") {
		t.Errorf("sign-in page does not say who is signed in:\n%s", page)
	}

	// Sign out with the dashboard's post-logout URI.
	var endSession struct {
		URL string `json:"end_session_endpoint"`
	}
	if err := r.oidc.Claims(&endSession); err != nil || endSession.URL == "" {
		t.Fatalf("end_session_endpoint: %q, %v", endSession.URL, err)
	}
	q := url.Values{
		"id_token_hint":            {idToken(t, tok)},
		"post_logout_redirect_uri": {"http://127.0.0.1:8080/"},
		"state":                    {"bye"},
	}
	to, err := idp.SignIn(t.Context(), browser, endSession.URL+"?"+q.Encode(), "")
	if err != nil {
		t.Fatalf("end_session: %v", err)
	}
	if to.Host != "127.0.0.1:8080" || to.Path != "/" || to.Query().Get("state") != "bye" {
		t.Errorf("end_session redirected to %s, want http://127.0.0.1:8080/?state=bye", to)
	}

	if to, err := idp.SignIn(t.Context(), browser, r.start(oauth2.SetAuthURLParam("prompt", "none")).authURL, ""); err == nil || to.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none after sign-out: %v, %v; want login_required", to, err)
	}
	if _, err := r.oauth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh after sign-out: %v, want invalid_grant", err)
	}

	q.Set("post_logout_redirect_uri", "http://evil.example/")
	if to, err := idp.SignIn(t.Context(), browser, endSession.URL+"?"+q.Encode(), ""); err == nil {
		t.Errorf("end_session redirected to an unregistered URI: %s", to)
	}
}

func signInPage(t *testing.T, hc *http.Client, authURL string) string {
	t.Helper()
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/signin" {
		t.Fatalf("authorize URL led to %s %s, want the sign-in page", resp.Status, resp.Request.URL)
	}
	return string(body)
}

func TestSignInPage(t *testing.T) {
	t.Parallel()
	dash := devidp.DashboardClient(dashboardRedirect)
	idp := devidp.Start(t, dash)
	r := newRP(t, idp, dash, dashboardRedirect)

	page := signInPage(t, http.DefaultClient, r.start().authURL)
	for _, want := range []string{`<html lang="en">`, "<title>Sign in", "<main>", "<h1>Sign in</h1>", "Recruitment dashboard</strong> is asking"} {
		if !strings.Contains(page, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	for _, u := range devidp.DemoUsers() {
		if !strings.Contains(page, `value="`+u.ID+`">Sign in as `+u.Name+` <span`) {
			t.Errorf("sign-in page has no button for %s", u.ID)
		}
	}

	resp, err := http.Get(idp.Issuer() + "/signin?authRequestID=nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown sign-in request: %s, want 400", resp.Status)
	}
}

func TestNewRefusesNonLoopbackIssuer(t *testing.T) {
	t.Parallel()
	cfg := func(issuer string) devidp.Config {
		return devidp.Config{Issuer: issuer, Users: devidp.DemoUsers(), Clients: []devidp.Client{devidp.CLIClient()}}
	}
	for _, issuer := range []string{
		"http://example.com:5556",
		"http://10.0.0.1:5556",
		"http://0.0.0.0:5556", // every interface, not loopback
		"http://[::]:5556",
		"http://127.0.0.1.example.com:5556",
		"http://127.0.0.1:5556/idp",
		"ftp://127.0.0.1:5556",
		"",
	} {
		if _, err := devidp.New(cfg(issuer)); err == nil {
			t.Errorf("New accepted issuer %q", issuer)
		}
	}
	for _, issuer := range []string{"http://127.0.0.1:5556", "http://[::1]:5556", "http://localhost:5556", "https://127.0.0.2:443"} {
		if _, err := devidp.New(cfg(issuer)); err != nil {
			t.Errorf("New refused loopback issuer %q: %v", issuer, err)
		}
	}
}

func TestNewRefusesBadClients(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]devidp.Client{
		"no ID":                  {RedirectURIs: []string{"http://127.0.0.1/cb"}},
		"no redirect URI":        {ID: "x"},
		"relative redirect URI":  {ID: "x", RedirectURIs: []string{"/cb"}},
		"loopback client remote": {ID: "x", Loopback: true, RedirectURIs: []string{"http://example.com/cb"}},
	} {
		cfg := devidp.Config{Issuer: "http://127.0.0.1:5556", Users: devidp.DemoUsers(), Clients: []devidp.Client{c}}
		if _, err := devidp.New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:5556": true, "[::1]:5556": true, "localhost:5556": true,
		"0.0.0.0:5556": false, ":5556": false, "192.168.1.2:5556": false, "127.0.0.1": false,
	} {
		if got := devidp.IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}
