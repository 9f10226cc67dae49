package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/structpb"
)

func init() {
	register(newLoginCmd)
	register(newLogoutCmd)
	register(newWhoamiCmd)
}

// Environment variables of `pipelinectl login` (flags win).
const (
	envIssuer   = "PIPELINE_OIDC_ISSUER"
	envClientID = "PIPELINE_OIDC_CLIENT_ID"
)

const loginLong = `Sign in to the organisation's identity provider (OpenID Connect) in a
browser, and keep the sign-in for the other commands, as ` + "`gh auth login`" + ` does.

pipelinectl listens on a free port of 127.0.0.1 for the provider's redirect,
opens the browser at the provider's sign-in page and waits for you to sign
in. The URL is always printed on stderr; --no-browser only prints it, for
you to open in a browser on this machine. The sign-in is the authorization
code flow with PKCE and a loopback redirect (RFC 8252); pipelinectl checks
that the redirect belongs to this sign-in (state) and verifies the ID token
(signature, issuer, audience = the client id, expiry, nonce).

The sign-in is kept in pipelinectl/credentials.json under your
configuration directory (~/.config on Linux or $XDG_CONFIG_HOME, ~/Library/
Application Support on macOS): issuer, client id, ID token, its expiry and
the refresh token, in a file only you can read or write (0600, in a 0700
directory); pipelinectl refuses a file others could read. Every command that
calls a service sends that ID token when no --token or PIPELINE_TOKEN is
given, and refreshes it first when it expires within a minute. When the
refresh fails the command says "signed out: run pipelinectl login" (exit 5).

The services must accept the provider: AUTH_OIDC_ISSUER names it and
AUTH_AUDIENCES includes the client id. By default pipelinectl signs in with
the development identity provider of make run (` + defaultIssuer + `, client
` + defaultClientID + `).`

func newLoginCmd(a *app) *cobra.Command {
	var (
		issuer, clientID string
		noBrowser        bool
		wait             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in with the organisation's identity provider, in a browser",
		Long:  loginLong,
		Example: `  pipelinectl login                                   # make run's development provider
  pipelinectl login --issuer https://login.example.org --client-id pipelinectl
  pipelinectl login --no-browser                      # print the URL; open it yourself
  pipelinectl whoami && pipelinectl applications list --region london`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if err := flagFromEnv(f, "issuer", envIssuer); err != nil {
				return err
			}
			if err := flagFromEnv(f, "client-id", envClientID); err != nil {
				return err
			}
			if err := checkIssuer(issuer); err != nil {
				return usagef("--issuer: %v", err)
			}
			if clientID == "" {
				return usagef("--client-id must not be empty")
			}
			if wait <= 0 {
				return usagef("--wait must be positive")
			}
			return a.login(cmd.Context(), issuer, clientID, noBrowser, wait)
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuer, "issuer", defaultIssuer, "the identity provider's issuer URL (env "+envIssuer+")")
	f.StringVar(&clientID, "client-id", defaultClientID, "pipelinectl's client id at the provider (env "+envClientID+")")
	f.BoolVar(&noBrowser, "no-browser", false, "do not open a browser: only print the URL to open")
	f.DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the sign-in in the browser")
	return cmd
}

// flagFromEnv sets a command's flag from the environment unless it was
// given, as setUp does for the global flags.
func flagFromEnv(f *pflag.FlagSet, name, env string) error {
	v, ok := os.LookupEnv(env)
	if !ok || v == "" || f.Changed(name) {
		return nil
	}
	if err := f.Set(name, v); err != nil {
		return usagef("%s=%q: %v", env, v, err)
	}
	return nil
}

func (a *app) login(ctx context.Context, issuer, clientID string, noBrowser bool, wait time.Duration) error {
	store, err := a.credentialStore()
	if err != nil {
		return err
	}
	p, err := discover(ctx, issuer, clientID, a.timeout)
	if err != nil {
		return err
	}
	si, err := startSignIn(p, a.timeout)
	if err != nil {
		return err
	}
	url := si.authURL()
	if noBrowser {
		a.notef("Open this URL in a browser on this machine to sign in to %s:\n\n  %s\n", issuer, url)
	} else {
		a.notef("Opening a browser to sign in to %s. If none opens, open this URL:\n\n  %s\n", issuer, url)
		if err := openBrowser(url); err != nil {
			a.notef("(could not open a browser: %v)", err)
		}
	}
	a.notef("Waiting up to %s for the sign-in (Ctrl-C to stop)...", wait)
	c, idt, err := si.wait(ctx, wait)
	if err != nil {
		return err
	}
	unlock, err := store.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := store.save(c); err != nil {
		return err
	}
	claims, _ := jwtClaims(c.IDToken) // verified above
	a.notef("Signed in to %s as %s: %s.", issuer, displayName(idt), describeAccess(claims))
	a.notef("The sign-in is kept in %s; commands use it when no --token or PIPELINE_TOKEN is given.", store.path())
	if c.RefreshToken == "" {
		a.notef("The identity provider gave no refresh token: sign in again after %s.", c.Expiry.Local().Format(time.DateTime))
	}
	return nil
}

func newLogoutCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the sign-in of pipelinectl login",
		Long: `Remove the sign-in that ` + "`pipelinectl login`" + ` keeps, and revoke its refresh
token at the identity provider when the provider offers revocation (RFC
7009), so that a copy of the file is of no use for long. The ID token
itself cannot be revoked: it stays valid until it expires (an hour at
most with the development provider).

Your browser may still be signed in to the identity provider; sign out
there too on a shared computer. Logging out when not signed in does
nothing and succeeds.`,
		Example: `  pipelinectl logout`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.logout(cmd.Context())
		},
	}
}

func (a *app) logout(ctx context.Context) error {
	store, err := a.credentialStore()
	if err != nil {
		return err
	}
	if _, err := os.Lstat(store.path()); errors.Is(err, fs.ErrNotExist) {
		a.notef("Not signed in (there is no %s).", store.path())
		return nil
	}
	unlock, err := store.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	// Read without the permission checks: a file others could read holds
	// exactly the tokens that most need revoking.
	c, err := store.read(false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.notef("(%v: removing it without revoking anything)", err)
	}
	if err := store.remove(); err != nil {
		return err
	}
	a.notef("Signed out: removed %s.", store.path())
	if c == nil || c.RefreshToken == "" {
		return nil
	}
	p, err := discover(ctx, c.Issuer, c.ClientID, a.timeout)
	if err == nil {
		err = p.revoke(ctx, c.RefreshToken)
	}
	if err != nil {
		a.notef("The refresh token was not revoked at %s (%v); it stays valid there until it expires.", c.Issuer, err)
		return nil
	}
	a.notef("Revoked the refresh token at %s.", c.Issuer)
	return nil
}

func newWhoamiCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the token identifies: subject, role, regions, issuer, expiry",
		Long: `Show who the calls are made as: the subject, name, role and regions of the
token, its issuer and audience, when it expires, and where it comes from
(--token or PIPELINE_TOKEN, else the sign-in of ` + "`pipelinectl login`" + `). It
prints no token.

The claims are read from the token as it is, without checking its
signature (the services do that), and nothing is refreshed: an expired
sign-in is refreshed by the next command that calls a service.`,
		Example: `  pipelinectl whoami
  pipelinectl whoami -o json
  PIPELINE_TOKEN=$(pipelinectl token --role admin --subject admin-1) pipelinectl whoami`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return a.whoami()
		},
	}
}

func (a *app) whoami() error {
	raw, source, refreshable := a.token, "--token or PIPELINE_TOKEN", false
	if raw == "" {
		store, err := a.credentialStore()
		if err != nil {
			return err
		}
		c, err := store.load()
		if errors.Is(err, fs.ErrNotExist) {
			return &authError{lines: []string{"not signed in: run pipelinectl login", "or pass a token with --token or PIPELINE_TOKEN"}}
		}
		if err != nil {
			return err
		}
		raw, source, refreshable = c.IDToken, "pipelinectl login ("+store.path()+")", c.RefreshToken != ""
	}
	claims, err := jwtClaims(raw)
	if err != nil {
		if a.token != "" {
			return usagef("the token is not a JWT: %v", err)
		}
		return signedOut("the stored ID token is malformed: %v", err)
	}
	expires := claims.unixTime("exp")
	in := "never"
	if !expires.IsZero() {
		if d := time.Until(expires).Round(time.Second); d > 0 {
			in = d.String()
		} else {
			in = "expired " + (-d).String() + " ago"
			if refreshable {
				in += " (the next call refreshes it)"
			}
		}
	}
	fields := []struct {
		name  string
		value any // string, []string or bool
	}{
		{"subject", claims.str("sub")},
		{"name", claims.str("name")},
		{"role", strings.Join(claims.list("role"), ",")},
		{"regions", claims.list("regions")},
		{"issuer", claims.str("iss")},
		{"audience", claims.list("aud")},
		{"expires_at", formatTime(expires)},
		{"expires_in", in},
		{"source", source},
		{"refreshable", refreshable},
	}
	v := view{record: true}
	asJSON := map[string]any{}
	row := make([]string, 0, len(fields))
	for _, f := range fields {
		v.columns = append(v.columns, f.name)
		switch x := f.value.(type) {
		case string:
			row = append(row, x)
			asJSON[f.name] = x
		case []string:
			row = append(row, strings.Join(x, ","))
			list := make([]any, len(x))
			for i, s := range x {
				list[i] = s
			}
			asJSON[f.name] = list
		case bool:
			row = append(row, fmtBool(x))
			asJSON[f.name] = x
		}
	}
	v.rows = [][]string{row}
	resp, err := structpb.NewStruct(asJSON)
	if err != nil {
		return fmt.Errorf("encode whoami: %w", err)
	}
	return a.emit(resp, v)
}

// describeAccess is "role spoc, regions london" for the sign-in message.
func describeAccess(c tokenClaims) string {
	role := strings.Join(c.list("role"), ",")
	if role == "" {
		role = "none"
	}
	regions := strings.Join(c.list("regions"), ",")
	if regions == "" {
		regions = "none"
	}
	return "role " + role + ", regions " + regions
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// tokenClaims are the claims of a JWT, read without checking its signature:
// for showing them, never for trusting them.
type tokenClaims map[string]any

func jwtClaims(raw string) (tokenClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("a JWT has three dot-separated parts")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("claims are not base64url: %w", err)
	}
	var c tokenClaims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("claims are not a JSON object: %w", err)
	}
	return c, nil
}

// tokenSubject is the sub claim of a JWT, unchecked.
func tokenSubject(raw string) (string, error) {
	c, err := jwtClaims(raw)
	if err != nil {
		return "", err
	}
	if c.str("sub") == "" {
		return "", errors.New("no subject")
	}
	return c.str("sub"), nil
}

func (c tokenClaims) str(name string) string {
	s, _ := c[name].(string)
	return s
}

// list reads a claim that is one string or a list of them (aud, a
// role claim that is a list of groups).
func (c tokenClaims) list(name string) []string {
	switch v := c[name].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (c tokenClaims) unixTime(name string) time.Time {
	if f, ok := c[name].(float64); ok {
		return time.Unix(int64(f), 0)
	}
	return time.Time{}
}
