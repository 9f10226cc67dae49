// Package devidp is a development OpenID Connect provider: the identity
// provider `make run` signs newcomers in with, and the one tests run
// in-process. It is built on the op package of github.com/zitadel/oidc/v3;
// this package only supplies the storage (users, clients, requests, tokens
// and keys, all in memory) and a sign-in page with a button per demo user.
//
// It is a development tool and nothing more: there are no passwords, the
// dashboard's client secret is public (DashboardClientSecret), and New
// refuses an issuer whose host is not loopback, so it cannot be put on a
// network by mistake. Nothing survives a restart: keys, sign-ins and refresh
// tokens live in memory only.
//
// The contract the services, the dashboard and pipelinectl rely on:
//
//   - Discovery at {issuer}/.well-known/openid-configuration; authorization
//     code flow with PKCE (S256 only, required of every client); the
//     refresh_token grant (refresh tokens rotate on use); userinfo;
//     end_session (RP-initiated sign-out).
//   - ID tokens are RS256 JWTs with iss, sub (the user's ID, e.g.
//     "spoc-london"), aud (the client ID), azp, exp, iat, auth_time, name,
//     role (absent when the user has none) and regions (an array, empty for
//     an admin). The userinfo endpoint answers the same sub, name, role and
//     regions.
//   - Access tokens are opaque: they are good for the userinfo endpoint and
//     nothing else. Services read the caller from the ID token.
//   - Rotate switches signing to a new key; the JWKS publishes the new key
//     and the one before it, so a token signed before one rotation still
//     verifies until it expires, and one signed two rotations ago does not.
package devidp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Role codes a user may hold (docs/design.md §6). New does not check a
// user's role against them, so that tests can issue tokens the services must
// refuse.
const (
	RoleSPOC      = "spoc"
	RoleVetting   = "vetting"
	RoleDashboard = "dashboard"
	RoleAdmin     = "admin"
	RoleApprover  = "approver"
	RoleEquality  = "equality"
)

// Claim names of the two private claims every ID token carries.
const (
	ClaimRole    = "role"
	ClaimRegions = "regions"
)

// Client IDs and the development secret of the clients this repository
// registers.
const (
	DashboardClientID = "recruitment-dashboard"
	// DashboardClientSecret is public on purpose: the provider is for
	// development only.
	DashboardClientSecret = "dev-only-dashboard-secret-not-for-production"
	CLIClientID           = "recruitment-cli"
	// CLIRedirectPath is the path of the CLI's loopback redirect URI; its
	// port is free (RFC 8252 §7.3).
	CLIRedirectPath = "/callback"
)

// DefaultIDTokenLifetime is the lifetime of ID and access tokens when
// Config.IDTokenLifetime is zero.
const DefaultIDTokenLifetime = time.Hour

// refreshTokenLifetime bounds how long a signed-in CLI or dashboard may keep
// refreshing without signing in again.
const refreshTokenLifetime = 24 * time.Hour

// User is a person who can sign in.
type User struct {
	// ID is the token subject (sub), e.g. "spoc-london".
	ID   string
	Name string
	// Role is one of the Role constants; empty means the ID token carries no
	// role claim.
	Role string
	// Regions are region codes (pkg/region); an admin has none and sees all.
	Regions []string
}

// Client is a relying party allowed to ask for sign-ins.
type Client struct {
	ID string
	// Name is shown on the sign-in page ("… is asking you to sign in");
	// the ID when empty.
	Name string
	// Secret authenticates a confidential client at the token endpoint
	// (HTTP Basic or form post). Empty means a public client, which must
	// use PKCE (every client here must anyway).
	Secret string
	// RedirectURIs are matched exactly, except for a Loopback client.
	RedirectURIs []string
	// Loopback marks a native client (RFC 8252): each of its redirect URIs
	// must be http on a loopback host, and a request may use any port on
	// 127.0.0.1, [::1] or localhost with the same path.
	Loopback bool
	// PostLogoutRedirectURIs are where end_session may send the browser back.
	PostLogoutRedirectURIs []string
}

// Config configures a Provider.
type Config struct {
	// Issuer is the provider's base URL, e.g. http://127.0.0.1:5556; its host
	// must be loopback and it must have no path.
	Issuer  string
	Users   []User
	Clients []Client
	// IDTokenLifetime is the lifetime of ID and access tokens;
	// DefaultIDTokenLifetime when zero.
	IDTokenLifetime time.Duration
}

// DemoUsers returns the users `make run` and the tests sign in as.
func DemoUsers() []User {
	return []User{
		{ID: "spoc-london", Name: "Sam Okafor", Role: RoleSPOC, Regions: []string{"london"}},
		{ID: "spoc-wales", Name: "Rhian Evans", Role: RoleSPOC, Regions: []string{"wales"}},
		{ID: "vetting-wales", Name: "Gareth Price", Role: RoleVetting, Regions: []string{"wales"}},
		// London's vetting contact point, so that "My cases" can be tried
		// in the region `make run` and the tests fill.
		{ID: "vetting-london", Name: "Amira Haddad", Role: RoleVetting, Regions: []string{"london"}},
		{ID: "dashboard-london", Name: "Priya Shah", Role: RoleDashboard, Regions: []string{"london"}},
		// Approvers of starts before vetting clears (ApproveEarlyStart).
		{ID: "approver-london", Name: "Jo Bennett", Role: RoleApprover, Regions: []string{"london"}},
		{ID: "approver-wales", Name: "Dafydd Morgan", Role: RoleApprover, Regions: []string{"wales"}},
		{ID: "admin", Name: "Alex Morgan", Role: RoleAdmin, Regions: []string{}},
		// Equality analysts: one for London's equality page, one national
		// (every region, which a national equality report needs).
		{ID: "equality-london", Name: "Jordan Ellis", Role: RoleEquality, Regions: []string{"london"}},
		{ID: "equality-national", Name: "Morgan Blake", Role: RoleEquality, Regions: []string{"north-east", "north-west",
			"yorkshire-humber", "greater-manchester", "east-midlands", "west-midlands", "east-of-england", "london",
			"kent-surrey-sussex", "south-central", "south-west", "wales"}},
	}
}

// DashboardClient is the dashboard: a confidential client with
// DashboardClientSecret, redirecting to redirectURI after sign-in and to the
// root of redirectURI's origin after sign-out.
func DashboardClient(redirectURI string) Client {
	c := Client{
		ID:           DashboardClientID,
		Name:         "Recruitment dashboard",
		Secret:       DashboardClientSecret,
		RedirectURIs: []string{redirectURI},
	}
	if u, err := url.Parse(redirectURI); err == nil && u.Scheme != "" && u.Host != "" {
		c.PostLogoutRedirectURIs = []string{u.Scheme + "://" + u.Host + "/"}
	}
	return c
}

// CLIClient is pipelinectl: a public native client whose redirect URI is
// http://127.0.0.1:<any port>/callback (CLIRedirectPath).
func CLIClient() Client {
	return Client{
		ID:           CLIClientID,
		Name:         "pipelinectl (command line)",
		RedirectURIs: []string{"http://127.0.0.1" + CLIRedirectPath},
		Loopback:     true,
	}
}

// Provider is a running development OpenID provider.
type Provider struct {
	issuer  string
	op      *op.Provider
	store   *storage
	handler http.Handler
}

// New checks cfg and builds a provider with a fresh signing key.
func New(cfg Config) (*Provider, error) {
	issuer, err := checkIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.IDTokenLifetime == 0 {
		cfg.IDTokenLifetime = DefaultIDTokenLifetime
	}
	if cfg.IDTokenLifetime < 0 {
		return nil, fmt.Errorf("devidp: IDTokenLifetime %v is negative", cfg.IDTokenLifetime)
	}
	if err := checkUsers(cfg.Users); err != nil {
		return nil, err
	}
	if err := checkClients(cfg.Clients); err != nil {
		return nil, err
	}
	store, err := newStorage(cfg)
	if err != nil {
		return nil, err
	}
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:]) // never fails (crypto/rand)
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		CryptoKeyId:              "devidp",
		DefaultLogoutRedirectURI: pathSignedOut,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
		SupportedScopes:          supportedScopes,
		SupportedClaims:          supportedClaims,
	}, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	p := &Provider{issuer: issuer, op: provider, store: store}
	p.handler = p.routes()
	return p, nil
}

// Handler serves the provider: discovery, JWKS (/keys), /authorize, the
// token endpoint (/oauth/token), /userinfo, /end_session, /revoke,
// /oauth/introspect and the sign-in page (/signin).
func (p *Provider) Handler() http.Handler { return p.handler }

// Issuer is the provider's issuer URL, as ID tokens carry it.
func (p *Provider) Issuer() string { return p.issuer }

// Rotate signs from now on with a new key under a new key ID, which it
// returns. The JWKS then publishes the new key and the previous one; the one
// before that is dropped, and tokens it signed no longer verify.
func (p *Provider) Rotate() (kid string, err error) {
	return p.store.rotate()
}

// SigningKeyID is the key ID (kid) new tokens are signed with.
func (p *Provider) SigningKeyID() string {
	return p.store.signingKeyID()
}

// IssueIDToken signs an ID token for userID as audience clientID, valid for
// lifetime (negative: already expired), built and signed exactly as the
// token endpoint builds them. It is for tests of verifiers, which need
// tokens for every user, expired ones and ones for another audience without
// a sign-in each.
func (p *Provider) IssueIDToken(ctx context.Context, clientID, userID string, lifetime time.Duration) (string, error) {
	client, err := p.store.GetClientByClientID(ctx, clientID)
	if err != nil {
		return "", err
	}
	if _, ok := p.store.users[userID]; !ok {
		return "", fmt.Errorf("devidp: unknown user %q", userID)
	}
	req := &idTokenRequest{clientID: clientID, subject: userID, authTime: time.Now()}
	return op.CreateIDToken(ctx, p.issuer, req, lifetime, "", "", p.store, client)
}

var (
	supportedScopes = []string{"openid", "profile", "offline_access"}
	supportedClaims = []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "name", ClaimRole, ClaimRegions}
)

// checkIssuer refuses an issuer a browser elsewhere could reach: the
// provider signs anyone in as anyone.
func checkIssuer(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("devidp: issuer %q: %w", issuer, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("devidp: issuer %q must be an http or https URL", issuer)
	}
	if !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("devidp: issuer %q: host %q is not loopback; the development provider signs anyone in as anyone and must not be reachable from another machine", issuer, u.Hostname())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("devidp: issuer %q must be scheme://host:port with no path, query or user", issuer)
	}
	return u.Scheme + "://" + u.Host, nil
}

// isLoopbackHost reports whether host (no port) names this machine only.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackAddr reports whether a listen address (host:port) is on a
// loopback interface; cmd/devidp refuses any other.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopbackHost(host)
}

func checkUsers(users []User) error {
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if u.ID == "" {
			return errors.New("devidp: a user has no ID")
		}
		if seen[u.ID] {
			return fmt.Errorf("devidp: user %q is listed twice", u.ID)
		}
		seen[u.ID] = true
	}
	if len(users) == 0 {
		return errors.New("devidp: no users (DemoUsers gives some)")
	}
	return nil
}

func checkClients(clients []Client) error {
	seen := make(map[string]bool, len(clients))
	for _, c := range clients {
		if c.ID == "" {
			return errors.New("devidp: a client has no ID")
		}
		if seen[c.ID] {
			return fmt.Errorf("devidp: client %q is listed twice", c.ID)
		}
		seen[c.ID] = true
		if len(c.RedirectURIs) == 0 {
			return fmt.Errorf("devidp: client %q has no redirect URI", c.ID)
		}
		for _, uri := range slices.Concat(c.RedirectURIs, c.PostLogoutRedirectURIs) {
			u, err := url.Parse(uri)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
				return fmt.Errorf("devidp: client %q: %q is not an absolute http(s) URI without fragment", c.ID, uri)
			}
			if c.Loopback && (u.Scheme != "http" || !isLoopbackHost(u.Hostname())) {
				return fmt.Errorf("devidp: loopback client %q: %q is not an http URI on a loopback host", c.ID, uri)
			}
		}
	}
	return nil
}
