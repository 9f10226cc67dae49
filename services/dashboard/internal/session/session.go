// Package session signs people in to the dashboard with their
// organisation's OpenID provider and keeps them signed in.
//
// Sign-in is the authorization code flow with PKCE (S256), the dashboard a
// confidential client: Begin sends the browser to the provider with a fresh
// state, nonce and code verifier, kept in a short-lived sealed cookie named
// after the state (so sign-ins in two tabs do not overwrite each other);
// Finish checks the state against that cookie, exchanges the code with the
// verifier, verifies the ID token (signature, issuer, audience = the
// client id, expiry) and its nonce, and starts the session.
//
// A session lives in the browser, in one cookie sealed with AES-256-GCM
// (Codec): the user's ID token, which the dashboard sends to the reporting
// service as the bearer of the user's own calls, and refresh token, which
// renews the ID token before it expires. Nothing is kept on the server, so
// any replica that holds the session key serves any request and a restart
// signs nobody out; the cost is that a session cannot be ended from the
// server side before its ID token expires (sign-out revokes the refresh
// token, so a copied cookie dies with its ID token at the latest).
//
// Refresh tokens may rotate (the development provider's do): a refresh
// spends the old one. Requests that arrive together with the same cookie
// share one refresh (per process), and a request that comes later with the
// cookie the browser had before gets the same renewed session for a while
// (recentRefresh). A refresh that fails while the old ID token is still
// good is not fatal: the request goes on with it, and a later one tries
// again. Only an expired ID token that cannot be renewed ends the session.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// The dashboard's sign-in paths.
const (
	SignInPath   = "/auth/signin"
	CallbackPath = "/auth/callback"
	SignOutPath  = "/auth/signout"
)

// Cookie names. The __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so no other host (a sibling subdomain) can set or
// shadow them.
const (
	CookieName       = "__Host-dashboard_session"
	flowCookiePrefix = "__Host-dashboard_signin_"
)

// SignedOutState is the state the provider hands back with its redirect
// after sign-out; the dashboard shows "you have signed out" for it.
const SignedOutState = "signed-out"

const (
	// DefaultMaxAge bounds a session from its sign-in, however often its
	// token is renewed: a working day, then sign in again.
	DefaultMaxAge = 12 * time.Hour
	// maxRefreshAhead is how long before its ID token expires a session is
	// renewed, at most; shorter tokens are renewed halfway through.
	maxRefreshAhead = 5 * time.Minute
	// minUsable is the least time an ID token must have left to be sent on
	// when renewing it failed: enough for a page's reporting calls.
	minUsable = 15 * time.Second
	// flowLifetime is how long a browser has to sign in at the provider.
	flowLifetime = 10 * time.Minute
	// recentRefresh is how long a renewed session is handed to requests
	// that come with the refresh token it replaced, and a failed renewal
	// stops new attempts with that token.
	recentRefresh = 2 * time.Minute
	failedRefresh = 15 * time.Second
	// discoveryRetry spaces attempts to reach a provider that is down.
	discoveryRetry = 5 * time.Second
	// providerTimeout bounds one call to the provider.
	providerTimeout = 10 * time.Second
	// maxCookie is the most a browser keeps of one cookie (name and value).
	maxCookie = 4096
)

// Errors of sign-in and of reading a session; the web layer turns them
// into pages.
var (
	// ErrNoSession: no session cookie, one this dashboard did not seal (or
	// sealed with a key it no longer has), or one that has ended.
	ErrNoSession = errors.New("not signed in")
	// ErrSignInState: the callback's state names no sign-in this browser
	// started (a forged or replayed callback, or one after flowLifetime).
	ErrSignInState = errors.New("sign-in state does not match a sign-in started in this browser")
	// ErrSignInFailed: the provider's answer could not be used (no code,
	// a refused exchange, an ID token that does not verify or whose nonce
	// is wrong).
	ErrSignInFailed = errors.New("sign-in failed")
	// ErrUnavailable: the provider cannot be reached.
	ErrUnavailable = errors.New("identity provider unavailable")
)

// ProviderError is the provider's refusal of a sign-in (the error
// parameter of its redirect, e.g. access_denied).
type ProviderError struct {
	Code, Description string
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("identity provider refused the sign-in: %s %s", e.Code, e.Description)
}

// Config configures a Manager.
type Config struct {
	// Issuer is the provider's issuer URL (discovery at
	// {Issuer}/.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	ClientSecret string
	// PublicURL is the dashboard's origin as browsers reach it
	// (scheme://host[:port], no path): the redirect URI is
	// PublicURL + CallbackPath, and the provider sends the browser back to
	// PublicURL + "/" after sign-out.
	PublicURL string
	Codec     *Codec
	// MaxAge is DefaultMaxAge when zero.
	MaxAge time.Duration
	// RefreshAhead, when set, replaces the default renewal point (at most
	// five minutes, at least halfway through the ID token's lifetime):
	// tests use it to renew at once.
	RefreshAhead time.Duration
	// HTTPClient calls the provider; nil is a client with a timeout.
	HTTPClient *http.Client
	Now        func() time.Time
	Log        *slog.Logger
}

// Session is a signed-in user, as the session cookie holds it.
type Session struct {
	// ID names the sign-in (random), for the logs.
	ID      string `json:"sid"`
	Subject string `json:"sub"`
	Name    string `json:"name,omitempty"`
	// Grant identifies what the ID token's claims allow (every claim but
	// the times and nonces): sessions with the same Subject and Grant see
	// the same figures, so they may share a live stream.
	Grant        string    `json:"grant"`
	IDToken      string    `json:"idt"`
	RefreshToken string    `json:"rt,omitempty"`
	IssuedAt     time.Time `json:"iat"`
	Expiry       time.Time `json:"exp"`
	Started      time.Time `json:"start"`
}

// Manager signs people in and reads their sessions. It is safe for
// concurrent use.
type Manager struct {
	cfg         Config
	redirectURL string
	httpClient  *http.Client
	now         func() time.Time
	log         *slog.Logger

	mu       sync.Mutex
	provider *provider
	failedAt time.Time

	refreshes singleflight.Group
	recentMu  sync.Mutex
	recent    map[string]refreshed
}

// provider is what discovery found.
type provider struct {
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	revocation string
}

// refreshed is the outcome of renewing one refresh token.
type refreshed struct {
	session *Session
	err     error
	at      time.Time
}

// New checks cfg and returns a Manager. The provider is discovered on the
// first sign-in, not here, so the dashboard starts while it is down.
func New(cfg Config) (*Manager, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("session: issuer, client id and client secret are required")
	}
	if cfg.Codec == nil {
		return nil, errors.New("session: no codec")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("session: public URL %q must be scheme://host[:port] with no path", cfg.PublicURL)
	}
	// Secure cookies travel over https only, or to a loopback host, which
	// browsers treat as a secure context.
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("session: public URL %q: plain http only on a loopback host (the session cookie is Secure)", cfg.PublicURL)
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = u.Scheme + "://" + u.Host
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: providerTimeout}
	}
	return &Manager{cfg: cfg, redirectURL: cfg.PublicURL + CallbackPath, httpClient: hc, now: cfg.Now, log: cfg.Log,
		recent: map[string]refreshed{}}, nil
}

// RedirectURL is the URI the provider must have registered for the client.
func (m *Manager) RedirectURL() string { return m.redirectURL }

// PostLogoutURL is where the provider sends the browser after sign-out:
// the dashboard's root URL.
func (m *Manager) PostLogoutURL() string { return m.cfg.PublicURL + "/" }

// providerContext carries the HTTP client to go-oidc and x/oauth2.
func (m *Manager) providerContext(ctx context.Context) context.Context {
	ctx = oidc.ClientContext(ctx, m.httpClient)
	return context.WithValue(ctx, oauth2.HTTPClient, m.httpClient)
}

// discover returns the provider, discovering it first if that has not
// succeeded yet.
func (m *Manager) discover(ctx context.Context) (*provider, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.provider != nil {
		return m.provider, nil
	}
	if !m.failedAt.IsZero() && m.now().Sub(m.failedAt) < discoveryRetry {
		return nil, ErrUnavailable
	}
	// The provider outlives this request: go-oidc fetches its keys again
	// with this context when they rotate.
	pctx := m.providerContext(context.WithoutCancel(ctx))
	dctx, cancel := context.WithTimeout(pctx, providerTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, m.cfg.Issuer)
	if err != nil {
		m.failedAt = m.now()
		m.log.Warn("identity provider discovery failed", "issuer", m.cfg.Issuer, "err", err)
		return nil, ErrUnavailable
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
		Revocation string `json:"revocation_endpoint"`
	}
	_ = p.Claims(&meta) // the fields are optional: without them, no provider sign-out or revocation
	m.provider = &provider{
		oauth: oauth2.Config{
			ClientID: m.cfg.ClientID, ClientSecret: m.cfg.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: m.redirectURL,
			Scopes: []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess},
		},
		verifier:   p.VerifierContext(pctx, &oidc.Config{ClientID: m.cfg.ClientID, Now: m.now}),
		endSession: meta.EndSession,
		revocation: meta.Revocation,
	}
	return m.provider, nil
}

// FormActionOrigins are the origins a form of the dashboard may end up at:
// the sign-out form's redirect goes on to the provider's end_session
// endpoint, and browsers hold redirects after a form to the page's
// Content-Security-Policy form-action.
func (m *Manager) FormActionOrigins() []string {
	origins := []string{origin(m.cfg.Issuer)}
	m.mu.Lock()
	if m.provider != nil && m.provider.endSession != "" {
		origins = append(origins, origin(m.provider.endSession))
	}
	m.mu.Unlock()
	slices.Sort(origins)
	return slices.Compact(origins)
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// flow is a sign-in under way, sealed in its cookie.
type flow struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Created  time.Time `json:"created"`
}

// flowCookieName names a sign-in's cookie after its state.
func flowCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return flowCookiePrefix + hex.EncodeToString(sum[:8])
}

// Begin starts a sign-in that returns to next (a path on this dashboard;
// anything else becomes "/"): it sets the sign-in's cookie and returns the
// provider's authorization URL to send the browser to.
func (m *Manager) Begin(w http.ResponseWriter, r *http.Request, next string) (string, error) {
	p, err := m.discover(r.Context())
	if err != nil {
		return "", err
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: SafeReturnPath(next), Created: m.now()}
	b, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	name := flowCookieName(f.State)
	http.SetCookie(w, &http.Cookie{Name: name, Value: m.cfg.Codec.Seal(name, b), Path: "/",
		MaxAge: int(flowLifetime / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return p.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), nil
}

// Finish completes a sign-in at the callback: it starts the session (sets
// its cookie) and returns the path to go back to.
func (m *Manager) Finish(w http.ResponseWriter, r *http.Request) (string, error) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		return "", ErrSignInState
	}
	name := flowCookieName(state)
	c, err := r.Cookie(name)
	if err != nil {
		return "", ErrSignInState
	}
	// Once read, the sign-in is over whatever happens next: a callback is
	// good once.
	http.SetCookie(w, expired(name))
	var f flow
	plain, err := m.cfg.Codec.Open(name, c.Value)
	if err != nil || json.Unmarshal(plain, &f) != nil ||
		subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 || m.now().Sub(f.Created) > flowLifetime {
		return "", ErrSignInState
	}
	if e := q.Get("error"); e != "" {
		return "", &ProviderError{Code: e, Description: q.Get("error_description")}
	}
	code := q.Get("code")
	if code == "" {
		return "", fmt.Errorf("%w: no code in the callback", ErrSignInFailed)
	}
	p, err := m.discover(r.Context())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(m.providerContext(r.Context()), providerTimeout)
	defer cancel()
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return "", fmt.Errorf("%w: code exchange refused: %s %s", ErrSignInFailed, re.ErrorCode, re.ErrorDescription)
		}
		m.log.Warn("code exchange failed", "err", err)
		return "", ErrUnavailable
	}
	s, err := m.fromTokens(ctx, p, tok)
	if err != nil {
		return "", err
	}
	if s.nonce == "" || subtle.ConstantTimeCompare([]byte(s.nonce), []byte(f.Nonce)) != 1 {
		return "", fmt.Errorf("%w: ID token nonce does not match the sign-in's", ErrSignInFailed)
	}
	s.ID, s.Started = random(), m.now()
	if err := m.write(w, &s.Session); err != nil {
		return "", err
	}
	m.log.Info("signed in", "sub", s.Subject, "session", s.ID)
	return f.Next, nil
}

// verifiedSession is a session built from a token response, and the nonce
// its ID token carried.
type verifiedSession struct {
	Session
	nonce string
}

// volatileClaims change with every token of the same grant.
var volatileClaims = []string{"iat", "exp", "nbf", "auth_time", "nonce", "at_hash", "c_hash", "jti", "sid", "rat", "uti"}

// fromTokens verifies a token response's ID token and builds a session
// from it (without ID or start).
func (m *Manager) fromTokens(ctx context.Context, p *provider, tok *oauth2.Token) (verifiedSession, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return verifiedSession{}, fmt.Errorf("%w: the provider's answer has no ID token", ErrSignInFailed)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return verifiedSession{}, fmt.Errorf("%w: ID token: %v", ErrSignInFailed, err)
	}
	all := map[string]any{}
	if err := idt.Claims(&all); err != nil {
		return verifiedSession{}, fmt.Errorf("%w: ID token claims: %v", ErrSignInFailed, err)
	}
	var iat time.Time
	if f, ok := all["iat"].(float64); ok {
		iat = time.Unix(int64(f), 0)
	}
	name := idt.Subject
	for _, claim := range []string{"name", "preferred_username", "email"} {
		if v, ok := all[claim].(string); ok && v != "" {
			name = v
			break
		}
	}
	for _, c := range volatileClaims {
		delete(all, c)
	}
	grant, err := json.Marshal(all) // map keys marshal sorted: the same claims, the same bytes
	if err != nil {
		return verifiedSession{}, err
	}
	sum := sha256.Sum256(grant)
	return verifiedSession{
		Session: Session{Subject: idt.Subject, Name: name, Grant: hex.EncodeToString(sum[:12]), IDToken: raw,
			RefreshToken: tok.RefreshToken, IssuedAt: iat, Expiry: idt.Expiry},
		nonce: idt.Nonce,
	}, nil
}

// RefreshAt is when s is due to be renewed: the next request after it
// renews the ID token.
func (m *Manager) RefreshAt(s *Session) time.Time {
	ahead := m.cfg.RefreshAhead
	if ahead == 0 {
		ahead = maxRefreshAhead
		if !s.IssuedAt.IsZero() {
			ahead = min(ahead, s.Expiry.Sub(s.IssuedAt)/2)
		}
	}
	return s.Expiry.Add(-ahead)
}

// Load returns the request's session, renewing its ID token first when it
// is due (the renewed session's cookie is set on w, so call Load before
// writing anything). It is ErrNoSession when there is none to use.
func (m *Manager) Load(w http.ResponseWriter, r *http.Request) (*Session, error) {
	s, err := m.read(r)
	if err != nil {
		return nil, err
	}
	now := m.now()
	if now.Before(m.RefreshAt(s)) {
		return s, nil
	}
	if s.RefreshToken != "" {
		renewed, err := m.refresh(r.Context(), s)
		if err == nil {
			if err := m.write(w, renewed); err != nil {
				return nil, err
			}
			return renewed, nil
		}
		m.log.Warn("renewing the session's token failed", "sub", s.Subject, "session", s.ID, "err", err)
	}
	if now.Add(minUsable).Before(s.Expiry) {
		return s, nil // good for a while yet; a later request tries again
	}
	return nil, ErrNoSession
}

// read opens the session cookie, without renewing.
func (m *Manager) read(r *http.Request) (*Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil, ErrNoSession
	}
	plain, err := m.cfg.Codec.Open(CookieName, c.Value)
	if err != nil {
		// Forged, changed, or sealed with a key no longer held.
		m.log.Info("refused a session cookie", "err", err, "remote", r.RemoteAddr)
		return nil, ErrNoSession
	}
	var s Session
	if err := json.Unmarshal(plain, &s); err != nil || s.Subject == "" || s.IDToken == "" {
		return nil, ErrNoSession
	}
	if !m.now().Before(s.Started.Add(m.cfg.MaxAge)) {
		return nil, ErrNoSession
	}
	return &s, nil
}

// refresh renews s's ID token with its refresh token: once per refresh
// token in this process, however many requests ask at once or soon after.
func (m *Manager) refresh(ctx context.Context, s *Session) (*Session, error) {
	sum := sha256.Sum256([]byte(s.RefreshToken))
	key := string(sum[:])
	if r, ok := m.recentRefresh(key); ok {
		return r.session, r.err
	}
	v, _, _ := m.refreshes.Do(key, func() (any, error) {
		if r, ok := m.recentRefresh(key); ok {
			return r, nil
		}
		r := refreshed{at: m.now()}
		r.session, r.err = m.renew(ctx, s)
		m.recentMu.Lock()
		defer m.recentMu.Unlock()
		for k, old := range m.recent {
			if m.now().Sub(old.at) > recentRefresh {
				delete(m.recent, k)
			}
		}
		m.recent[key] = r
		return r, nil
	})
	r := v.(refreshed)
	return r.session, r.err
}

func (m *Manager) recentRefresh(key string) (refreshed, bool) {
	m.recentMu.Lock()
	defer m.recentMu.Unlock()
	r, ok := m.recent[key]
	if !ok {
		return refreshed{}, false
	}
	limit := recentRefresh
	if r.err != nil {
		limit = failedRefresh
	}
	return r, m.now().Sub(r.at) <= limit
}

// renew runs the refresh grant.
func (m *Manager) renew(ctx context.Context, s *Session) (*Session, error) {
	p, err := m.discover(ctx)
	if err != nil {
		return nil, err
	}
	// Other requests wait on this one: the first one's going away must not
	// fail theirs.
	ctx, cancel := context.WithTimeout(m.providerContext(context.WithoutCancel(ctx)), providerTimeout)
	defer cancel()
	tok, err := p.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: s.RefreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh grant: %w", err)
	}
	fresh, err := m.fromTokens(ctx, p, tok)
	if err != nil {
		return nil, err
	}
	// OpenID Connect Core §12.2: the same user, or it is not a renewal.
	if fresh.Subject != s.Subject {
		return nil, fmt.Errorf("%w: renewed ID token is for another subject", ErrSignInFailed)
	}
	out := fresh.Session
	out.ID, out.Started = s.ID, s.Started
	if out.RefreshToken == "" {
		out.RefreshToken = s.RefreshToken // the provider does not rotate them
	}
	return &out, nil
}

// write seals s into the session cookie, which lasts until the session's
// MaxAge.
func (m *Manager) write(w http.ResponseWriter, s *Session) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	value := m.cfg.Codec.Seal(CookieName, b)
	if len(CookieName)+len(value) > maxCookie {
		return fmt.Errorf("session cookie would be %d bytes, more than browsers keep (%d): the provider's ID token is too large", len(CookieName)+len(value), maxCookie)
	}
	left := s.Started.Add(m.cfg.MaxAge).Sub(m.now())
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: max(1, int(left/time.Second)),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

// SignOut ends the request's session: it clears the cookie, revokes the
// refresh token at the provider (when it offers revocation), and returns
// where to send the browser: the provider's end_session endpoint, which
// ends the provider's own session and sends the browser back to the
// dashboard, or the dashboard's signed-out page when the provider has no
// such endpoint.
func (m *Manager) SignOut(w http.ResponseWriter, r *http.Request) string {
	local := "/?state=" + SignedOutState
	s, err := m.read(r)
	http.SetCookie(w, expired(CookieName))
	if err != nil {
		return local
	}
	m.log.Info("signed out", "sub", s.Subject, "session", s.ID)
	p, err := m.discover(r.Context())
	if err != nil {
		return local
	}
	if p.revocation != "" && s.RefreshToken != "" {
		if err := m.revoke(r.Context(), p, s.RefreshToken); err != nil {
			m.log.Warn("revoking the refresh token failed", "sub", s.Subject, "err", err)
		}
	}
	if p.endSession == "" {
		return local
	}
	u, err := url.Parse(p.endSession)
	if err != nil {
		return local
	}
	q := u.Query()
	q.Set("id_token_hint", s.IDToken)
	q.Set("client_id", m.cfg.ClientID)
	q.Set("post_logout_redirect_uri", m.PostLogoutURL())
	q.Set("state", SignedOutState)
	u.RawQuery = q.Encode()
	return u.String()
}

// revoke revokes a refresh token (RFC 7009), authenticating as the client.
func (m *Manager) revoke(ctx context.Context, p *provider, token string) error {
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(m.cfg.ClientID), url.QueryEscape(m.cfg.ClientSecret))
	resp, err := m.httpClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint answered %s", resp.Status)
	}
	return nil
}

func expired(name string) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// random is 32 random bytes, base64url.
func random() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SafeReturnPath is p if it is a path on this site to come back to after
// sign-in, and "/" otherwise: no scheme or host ("https://evil.example",
// "//evil.example", "/\evil.example" — browsers read the last two as
// hosts), no control characters, nothing under /auth/ (which would loop).
func SafeReturnPath(p string) string {
	if p == "" || len(p) > 2048 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "/auth/") || u.Path == "/auth" {
		return "/"
	}
	return p
}

// IsLoopbackHost reports whether host (no port) names this machine only.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
