package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCConfig is an organisation's OpenID provider whose tokens a service
// accepts, and how its claims map to a caller.
//
// Services take the provider's ID tokens (or JWT access tokens) as bearer
// tokens, as the Kubernetes API server does: the token's aud must name one
// of the Verifier's audiences (the client ids of the dashboard and
// pipelinectl at that provider).
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document and keys
	// are fetched from it.
	Issuer string
	// RoleClaim names the claim holding the caller's role: a string or a
	// list of strings (such as groups). Default "role".
	RoleClaim string
	// RoleValues maps the claim's values to roles ("pipeline-spocs" →
	// spoc); a value not in it is ignored. Empty: the claim holds role
	// names.
	RoleValues map[string]Role
	// RegionsClaim names the claim holding the caller's regions: a list
	// (or one string) of region codes. Default "regions".
	RegionsClaim string
	// RegionPrefix, if set, keeps only the values that begin with it and
	// takes the rest of each as a region code ("pipeline-region-london").
	RegionPrefix string
	// HTTPClient fetches discovery and keys; nil is http.DefaultClient.
	HTTPClient *http.Client
}

// discoveryRetry is how long after a failed discovery the next token may
// try again: an unreachable provider must not be asked on every call.
const discoveryRetry = 5 * time.Second

// oidcIssuer verifies one provider's tokens. Discovery happens on the first
// token, not at start-up, so a service starts while its provider is down
// and serves its other callers meanwhile.
type oidcIssuer struct {
	cfg    OIDCConfig
	issuer string
	now    func() time.Time

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time
}

func newOIDCIssuer(cfg OIDCConfig, now func() time.Time) (*oidcIssuer, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("OIDC issuer: required")
	}
	if !strings.HasPrefix(cfg.Issuer, "https://") && !strings.HasPrefix(cfg.Issuer, "http://127.0.0.1") &&
		!strings.HasPrefix(cfg.Issuer, "http://localhost") {
		return nil, fmt.Errorf("OIDC issuer %q: must be https (plain http only on loopback, for development)", cfg.Issuer)
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "role"
	}
	if cfg.RegionsClaim == "" {
		cfg.RegionsClaim = "regions"
	}
	for value, r := range cfg.RoleValues {
		if !r.Valid() {
			return nil, fmt.Errorf("OIDC role values: %q maps to unknown role %q", value, r)
		}
	}
	return &oidcIssuer{cfg: cfg, issuer: cfg.Issuer, now: now}, nil
}

// idVerifier returns the provider's token verifier, discovering the
// provider first if that has not succeeded yet. go-oidc keeps the
// provider's keys and fetches them again when a token names a key id it
// does not hold: that is how a key rotation at the provider is followed.
func (o *oidcIssuer) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	if !o.failedAt.IsZero() && o.now().Sub(o.failedAt) < discoveryRetry {
		return nil, errors.New("identity provider unavailable; try again shortly")
	}
	if o.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	}
	// The provider outlives this call: its key fetches must not end with
	// the request that happened to discover it.
	ctx = context.WithoutCancel(ctx)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, o.issuer)
	if err != nil {
		o.failedAt = o.now()
		return nil, errors.New("identity provider unavailable; try again shortly")
	}
	// The audience is checked by the Verifier against every accepted one,
	// which go-oidc's single ClientID cannot express.
	o.verifier = p.VerifierContext(ctx, &oidc.Config{SkipClientIDCheck: true, Now: o.now})
	return o.verifier, nil
}

func (o *oidcIssuer) verify(ctx context.Context, token string) (verified, error) {
	iv, err := o.idVerifier(ctx)
	if err != nil {
		return verified{}, err
	}
	idt, err := iv.Verify(ctx, token)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return verified{}, errors.New("token expired")
		}
		// go-oidc's messages are safe (they never quote the token) but
		// long; the caller needs only to know it failed.
		return verified{}, errors.New("token signature, issuer or time invalid")
	}
	var raw struct {
		IssuedAt  *float64 `json:"iat"`
		NotBefore *float64 `json:"nbf"`
	}
	all := map[string]any{}
	if err := idt.Claims(&raw); err != nil {
		return verified{}, errors.New("token malformed")
	}
	if err := idt.Claims(&all); err != nil {
		return verified{}, errors.New("token malformed")
	}
	c := Claims{Subject: idt.Subject, ExpiresAt: idt.Expiry}
	if c.Role, err = o.role(all[o.cfg.RoleClaim]); err != nil {
		return verified{}, err
	}
	if c.Regions, err = o.regions(all[o.cfg.RegionsClaim]); err != nil {
		return verified{}, err
	}
	got := verified{claims: c, audience: idt.Audience}
	if raw.IssuedAt != nil {
		got.issuedAt = unixTime(*raw.IssuedAt)
	}
	if raw.NotBefore != nil {
		got.notBefore = unixTime(*raw.NotBefore)
	}
	return got, nil
}

// role maps the role claim's value(s) to exactly one role.
func (o *oidcIssuer) role(claim any) (Role, error) {
	var found []Role
	for _, v := range claimStrings(claim) {
		r := Role(v)
		if o.cfg.RoleValues != nil {
			var ok bool
			if r, ok = o.cfg.RoleValues[v]; !ok {
				continue
			}
		}
		if r.Valid() && !slices.Contains(found, r) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("token's %s claim names no role of this service", o.cfg.RoleClaim)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("token's %s claim names more than one role", o.cfg.RoleClaim)
}

// regions maps the regions claim's values to region codes.
func (o *oidcIssuer) regions(claim any) ([]string, error) {
	var out []string
	for _, v := range claimStrings(claim) {
		if o.cfg.RegionPrefix != "" {
			code, ok := strings.CutPrefix(v, o.cfg.RegionPrefix)
			if !ok {
				continue
			}
			v = code
		}
		out = append(out, v)
	}
	return out, nil
}

// claimStrings reads a claim that is one string or a list of strings.
func claimStrings(claim any) []string {
	switch v := claim.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func unixTime(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}
