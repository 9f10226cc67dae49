package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The identity provider `pipelinectl login` signs in with unless told
// otherwise: the development one `make run` serves (cmd/devidp), and the
// client id pipelinectl is registered under there.
const (
	defaultIssuer   = "http://127.0.0.1:5556"
	defaultClientID = "recruitment-cli"
	// callbackPath is the path of the loopback redirect URI; the provider
	// accepts any port for it (RFC 8252 §7.3).
	callbackPath = "/callback"
)

// loginScopes: openid for an ID token, profile for the name, and
// offline_access for a refresh token.
var loginScopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}

// provider is an OpenID provider as pipelinectl uses it: discovered, with a
// verifier of the ID tokens it issues to clientID.
type provider struct {
	issuer, clientID string
	endpoint         oauth2.Endpoint
	verifier         *oidc.IDTokenVerifier
	// revocationURL is empty when the provider offers no revocation.
	revocationURL string
	hc            *http.Client
}

// checkIssuer accepts an https issuer, or plain http on a loopback host
// (the development provider), as the services do: a token fetched over
// plain http from elsewhere could be read on the way.
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("issuer %q is not an http(s) URL", issuer)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("issuer %q must be https (plain http only on a loopback host, for development)", issuer)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// discover reads the provider's discovery document. Every request to the
// provider, the key fetches go-oidc makes later included, is bounded by
// timeout.
func discover(ctx context.Context, issuer, clientID string, timeout time.Duration) (*provider, error) {
	if err := checkIssuer(issuer); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: timeout}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, hc), timeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, &idpError{issuer: issuer, action: "discover the identity provider", err: err}
	}
	var extra struct {
		RevocationEndpoint string `json:"revocation_endpoint"`
	}
	_ = p.Claims(&extra) // a malformed optional field means no revocation
	return &provider{
		issuer:        issuer,
		clientID:      clientID,
		endpoint:      p.Endpoint(),
		verifier:      p.Verifier(&oidc.Config{ClientID: clientID}),
		revocationURL: extra.RevocationEndpoint,
		hc:            hc,
	}, nil
}

// oauth is the OAuth client of a sign-in redirecting to redirectURL ("" for
// a refresh).
func (p *provider) oauth(redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.clientID, Endpoint: p.endpoint, RedirectURL: redirectURL, Scopes: loginScopes}
}

// withClient makes x/oauth2 use the provider's bounded HTTP client.
func (p *provider) withClient(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.hc)
}

// credentials checks the ID token of a token response — signature, issuer,
// audience (the client id), expiry, and nonce when the request carried one
// — and makes the credentials to keep. subject, when not empty, must be
// the token's: a refresh must not turn one person into another.
func (p *provider) credentials(ctx context.Context, tok *oauth2.Token, nonce, subject string) (*loginCreds, *oidc.IDToken, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, errors.New("the identity provider's answer has no ID token")
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the identity provider's ID token failed verification: %w", err)
	}
	if nonce != "" && idt.Nonce != nonce {
		return nil, nil, errors.New("the ID token's nonce is not this sign-in's: refused (a token from another sign-in was replayed)")
	}
	if subject != "" && idt.Subject != subject {
		return nil, nil, fmt.Errorf("the refreshed ID token is for %q, not %q: refused", idt.Subject, subject)
	}
	return &loginCreds{
		Issuer:       p.issuer,
		ClientID:     p.clientID,
		IDToken:      raw,
		RefreshToken: tok.RefreshToken,
		Expiry:       idt.Expiry.UTC(),
	}, idt, nil
}

// refresh trades c's refresh token for a new ID token. The provider rotates
// refresh tokens, so the one in the answer replaces c's (RFC 6749 §6 lets
// it keep the old one: then c's stays).
func (p *provider) refresh(ctx context.Context, c *loginCreds) (*loginCreds, error) {
	ctx, cancel := context.WithTimeout(ctx, p.hc.Timeout)
	defer cancel()
	tok, err := p.oauth("").TokenSource(p.withClient(ctx), &oauth2.Token{RefreshToken: c.RefreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, signedOut("the identity provider refused the refresh token (%s)", oauthErrorText(re))
		}
		return nil, &idpError{issuer: p.issuer, action: "refresh the sign-in", err: err}
	}
	subject, err := tokenSubject(c.IDToken)
	if err != nil {
		return nil, signedOut("the stored ID token is malformed: %v", err)
	}
	fresh, _, err := p.credentials(ctx, tok, "", subject)
	if err != nil {
		return nil, signedOut("%v", err)
	}
	if fresh.RefreshToken == "" {
		fresh.RefreshToken = c.RefreshToken
	}
	return fresh, nil
}

// revoke asks the provider to forget a refresh token (RFC 7009), as a
// public client: the client id in the form, no secret.
func (p *provider) revoke(ctx context.Context, refreshToken string) error {
	if p.revocationURL == "" {
		return errors.New("the identity provider offers no revocation")
	}
	ctx, cancel := context.WithTimeout(ctx, p.hc.Timeout)
	defer cancel()
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {p.clientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.revocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the identity provider answered %s", resp.Status)
	}
	return nil
}

// oauthErrorText is an OAuth error response in a few words, without the
// request it answered.
func oauthErrorText(re *oauth2.RetrieveError) string {
	switch {
	case re.ErrorCode != "" && re.ErrorDescription != "":
		return re.ErrorCode + ": " + re.ErrorDescription
	case re.ErrorCode != "":
		return re.ErrorCode
	}
	return re.Response.Status
}

// idpError is a failure talking to the identity provider: exit 7 when it
// could not be reached, 1 otherwise (it answered something unusable).
type idpError struct {
	issuer, action string
	err            error
}

func (e *idpError) Error() string { return e.action + " at " + e.issuer + ": " + e.err.Error() }
func (e *idpError) Unwrap() error { return e.err }

// unreachable says whether the provider did not answer at all.
func (e *idpError) unreachable() bool {
	var ne net.Error
	return errors.As(e.err, &ne) || errors.Is(e.err, context.DeadlineExceeded)
}

// authError is a failure to sign in or to use the sign-in: exit 5, as a
// refused token is. lines[0] is the message, the rest say what to do.
type authError struct{ lines []string }

func (e *authError) Error() string { return strings.Join(e.lines, "; ") }

// signedOut is the end of a sign-in that only a new `pipelinectl login`
// can mend; format says why.
func signedOut(format string, args ...any) error {
	return &authError{lines: []string{"signed out: run pipelinectl login", fmt.Sprintf(format, args...)}}
}
