package auth_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/probation-recruitment/pipeline/pkg/auth"
)

const hsKey = "0123456789abcdef0123456789abcdef-test-only"

// edKeys returns a fresh Ed25519 key pair and its KeyConfig encoding.
func edKeys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey, auth.KeyConfig) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatalf("generate ed25519 key: %v", err)
	}
	return pub, priv, auth.KeyConfig{
		Ed25519PublicKey:  base64.StdEncoding.EncodeToString(pub),
		Ed25519PrivateKey: base64.StdEncoding.EncodeToString(priv.Seed()),
	}
}

func mustVerifier(t *testing.T, k auth.KeyConfig) *auth.Verifier {
	t.Helper()
	v, err := k.Verifier()
	if err != nil {
		t.Fatalf("build verifier: %v", err)
	}
	return v
}

func mustSigner(t *testing.T, k auth.KeyConfig) *auth.Signer {
	t.Helper()
	s, err := k.Signer()
	if err != nil {
		t.Fatalf("build signer: %v", err)
	}
	return s
}

// craft signs arbitrary claims, bypassing Signer's checks, to build the bad
// tokens a verifier must refuse.
func craft(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("craft token: %v", err)
	}
	return s
}

// goodClaims returns valid token claims to be spoiled one field at a time.
func goodClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub":     "alice",
		"role":    "spoc",
		"regions": []string{"london", "wales"},
		"iss":     auth.Issuer,
		"aud":     auth.Audience,
		"iat":     now.Unix(),
		"exp":     now.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, key string, val any) jwt.MapClaims {
	c[key] = val
	return c
}

func without(c jwt.MapClaims, key string) jwt.MapClaims {
	delete(c, key)
	return c
}

func TestKeyConfig(t *testing.T) {
	t.Parallel()
	pub, priv, ed := edKeys(t)
	otherPub, _, _ := edKeys(t)
	b64 := base64.StdEncoding.EncodeToString

	tests := []struct {
		name        string
		cfg         auth.KeyConfig
		verifierErr string // "" means the verifier builds
		signerErr   string // "" means the signer builds
	}{
		{name: "empty", cfg: auth.KeyConfig{}, verifierErr: "no key set", signerErr: "no key set"},
		{name: "hs256", cfg: auth.KeyConfig{HS256Key: hsKey}},
		{name: "hs256 too short", cfg: auth.KeyConfig{HS256Key: "short"}, verifierErr: "HS256Key: must be at least 32 bytes, got 5", signerErr: "HS256Key: must be at least 32 bytes"},
		{name: "hs256 and ed25519", cfg: auth.KeyConfig{HS256Key: hsKey, Ed25519PublicKey: ed.Ed25519PublicKey}, verifierErr: "exactly one", signerErr: "exactly one"},
		{name: "ed25519 pair", cfg: ed},
		{name: "ed25519 public only", cfg: auth.KeyConfig{Ed25519PublicKey: ed.Ed25519PublicKey}, signerErr: "Ed25519PrivateKey: required to sign"},
		{name: "ed25519 seed only", cfg: auth.KeyConfig{Ed25519PrivateKey: ed.Ed25519PrivateKey}},
		{name: "ed25519 public not base64", cfg: auth.KeyConfig{Ed25519PublicKey: "not base64!"}, verifierErr: "Ed25519PublicKey: not standard base64", signerErr: "Ed25519PrivateKey: required to sign"},
		{name: "ed25519 public wrong size", cfg: auth.KeyConfig{Ed25519PublicKey: b64(pub[:16])}, verifierErr: "Ed25519PublicKey: must decode to 32 bytes, got 16", signerErr: "required to sign"},
		{name: "ed25519 full private key instead of seed", cfg: auth.KeyConfig{Ed25519PrivateKey: b64(priv)}, verifierErr: "Ed25519PrivateKey: must decode to a 32-byte seed, got 64", signerErr: "Ed25519PrivateKey: must decode to a 32-byte seed"},
		{name: "ed25519 mismatched pair", cfg: auth.KeyConfig{Ed25519PublicKey: b64(otherPub), Ed25519PrivateKey: ed.Ed25519PrivateKey}, verifierErr: "does not match", signerErr: "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.cfg.Verifier()
			checkErr(t, "Verifier", err, tt.verifierErr)
			_, err = tt.cfg.Signer()
			checkErr(t, "Signer", err, tt.signerErr)
		})
	}
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != "" && err == nil:
		t.Errorf("%s: got no error, want one containing %q", what, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", what, err, want)
	}
}

func TestMintVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	_, _, ed := edKeys(t)
	tests := []struct {
		name string
		keys auth.KeyConfig
		in   auth.Claims
	}{
		{name: "hs256 spoc", keys: auth.KeyConfig{HS256Key: hsKey}, in: auth.Claims{Subject: "alice", Role: auth.RoleSPOC, Regions: []string{"london", "wales"}}},
		{name: "ed25519 vetting", keys: ed, in: auth.Claims{Subject: "bob", Role: auth.RoleVetting, Regions: []string{"north-east"}}},
		{name: "ed25519 verifier from public key only", keys: auth.KeyConfig{Ed25519PublicKey: ed.Ed25519PublicKey}, in: auth.Claims{Subject: "carol", Role: auth.RoleDashboard, Regions: []string{"south-west"}}},
		{name: "admin without regions", keys: auth.KeyConfig{HS256Key: hsKey}, in: auth.Claims{Subject: "root", Role: auth.RoleAdmin}},
		{name: "notifier without regions", keys: ed, in: auth.Claims{Subject: "notifier-1", Role: auth.RoleNotifier}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signKeys := tt.keys
			if signKeys.Ed25519PublicKey != "" && signKeys.Ed25519PrivateKey == "" {
				signKeys = ed
			}
			before := time.Now()
			tok, err := mustSigner(t, signKeys).Mint(tt.in, time.Hour)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			got, err := mustVerifier(t, tt.keys).Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != tt.in.Subject || got.Role != tt.in.Role || !slices.Equal(got.Regions, tt.in.Regions) {
				t.Errorf("Verify = %+v, want %+v", got, tt.in)
			}
			// exp has one-second precision.
			lo, hi := before.Add(time.Hour).Truncate(time.Second), time.Now().Add(time.Hour)
			if got.ExpiresAt.Before(lo) || got.ExpiresAt.After(hi) {
				t.Errorf("ExpiresAt = %v, want within [%v, %v]", got.ExpiresAt, lo, hi)
			}
		})
	}
}

func TestMintWritesExpectedClaims(t *testing.T) {
	t.Parallel()
	tok, err := mustSigner(t, auth.KeyConfig{HS256Key: hsKey}).Mint(auth.Claims{Subject: "root", Role: auth.RoleAdmin}, time.Minute)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	var mc jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &mc); err != nil {
		t.Fatalf("parse minted token: %v", err)
	}
	for _, k := range []string{"sub", "role", "regions", "exp", "iat", "iss"} {
		if _, ok := mc[k]; !ok {
			t.Errorf("minted token lacks claim %q: %v", k, mc)
		}
	}
	if regions, ok := mc["regions"].([]any); !ok || len(regions) != 0 {
		t.Errorf("regions = %#v, want an empty JSON array", mc["regions"])
	}
	if mc["iss"] != auth.Issuer {
		t.Errorf("iss = %v, want %q", mc["iss"], auth.Issuer)
	}
}

func TestMintRefusesInvalidClaims(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, auth.KeyConfig{HS256Key: hsKey})
	tests := []struct {
		name string
		c    auth.Claims
		ttl  time.Duration
		want string
	}{
		{name: "no subject", c: auth.Claims{Role: auth.RoleSPOC}, ttl: time.Hour, want: "no subject"},
		{name: "unknown role", c: auth.Claims{Subject: "a", Role: "root"}, ttl: time.Hour, want: `unknown role "root"`},
		{name: "unknown region", c: auth.Claims{Subject: "a", Role: auth.RoleSPOC, Regions: []string{"atlantis"}}, ttl: time.Hour, want: `unknown region "atlantis"`},
		{name: "zero ttl", c: auth.Claims{Subject: "a", Role: auth.RoleSPOC}, ttl: 0, want: "ttl must be positive"},
		{name: "ttl over the cap", c: auth.Claims{Subject: "a", Role: auth.RoleAdmin}, ttl: 13 * time.Hour, want: "at most 12h"},
		{name: "a service's subject", c: auth.Claims{Subject: "system:vetting", Role: auth.RoleAdmin}, ttl: time.Hour, want: "reserved for the services"},
		{name: "an email address", c: auth.Claims{Subject: "spoc.london@justice.example", Role: auth.RoleSPOC}, ttl: time.Hour, want: "not an email address"},
		{name: "a regional notifier", c: auth.Claims{Subject: "notifier-1", Role: auth.RoleNotifier, Regions: []string{"london"}}, ttl: time.Hour, want: "notifier role names regions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Mint(tt.c, tt.ttl)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Mint error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	edPub, edPriv, ed := edKeys(t)
	_, otherEdPriv, _ := edKeys(t)
	hsVerifier := mustVerifier(t, auth.KeyConfig{HS256Key: hsKey})
	edVerifier := mustVerifier(t, auth.KeyConfig{Ed25519PublicKey: ed.Ed25519PublicKey})
	hs := []byte(hsKey)
	past := time.Now().Add(-2 * time.Minute).Unix() // beyond the 30s leeway

	noneToken := craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodClaims())
	goodHS := craft(t, jwt.SigningMethodHS256, hs, goodClaims())
	head, rest, _ := strings.Cut(goodHS, ".")
	_, sig, _ := strings.Cut(rest, ".")
	adminPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","role":"admin","regions":[],"iss":"recruitment-pipeline","exp":9999999999}`))

	tests := []struct {
		name  string
		v     *auth.Verifier
		token string
		want  string
	}{
		{name: "expired", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "exp", past)), want: "token expired"},
		{name: "hs256 wrong key", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), goodClaims()), want: "token signature invalid"},
		{name: "ed25519 wrong key", v: edVerifier, token: craft(t, jwt.SigningMethodEdDSA, otherEdPriv, goodClaims()), want: "token signature invalid"},
		{name: "hs256 token to ed25519 verifier", v: edVerifier, token: goodHS, want: `token algorithm "HS256" not accepted`},
		{name: "ed25519 token to hs256 verifier", v: hsVerifier, token: craft(t, jwt.SigningMethodEdDSA, edPriv, goodClaims()), want: `token algorithm "EdDSA" not accepted`},
		// The classic confusion attack: HMAC keyed with the public key.
		{name: "hs256 keyed with ed25519 public key", v: edVerifier, token: craft(t, jwt.SigningMethodHS256, []byte(edPub), goodClaims()), want: "not accepted"},
		{name: "alg none", v: hsVerifier, token: noneToken, want: `token algorithm "none" not accepted`},
		{name: "tampered payload", v: hsVerifier, token: head + "." + adminPayload + "." + sig, want: "token signature invalid"},
		{name: "missing exp", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, without(goodClaims(), "exp")), want: "exp claim is required"},
		{name: "wrong issuer", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "iss", "someone-else")), want: "wrong issuer"},
		{name: "missing issuer", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, without(goodClaims(), "iss")), want: "wrong issuer"},
		{name: "missing audience", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, without(goodClaims(), "aud")), want: "audience"},
		{name: "another service's audience", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "aud", []string{"payroll"})), want: "audience"},
		{name: "missing issue time", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, without(goodClaims(), "iat")), want: "no issue time"},
		{name: "issued in the future", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "iat", time.Now().Add(2*time.Minute).Unix())), want: "issued in the future"},
		{name: "lifetime over 12h", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "exp", time.Now().Add(13*time.Hour).Unix())), want: "lifetime exceeds 12h"},
		{name: "a service's subject", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "sub", "system:offers")), want: "reserved for the services"},
		{name: "a service's subject in capitals", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "sub", "SYSTEM:vetting")), want: "reserved for the services"},
		{name: "free text subject", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "sub", "Alice Smith")), want: "not a well-formed id"},
		{name: "an email address as subject", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "sub", "alice.smith@example.org")), want: "not an email address"},
		{name: "an address without a dot as subject", v: edVerifier, token: craft(t, jwt.SigningMethodEdDSA, edPriv, with(goodClaims(), "sub", "alice@localhost")), want: "not an email address"},
		{name: "control characters in subject", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "sub", "alice\nadmin")), want: "not a well-formed id"},
		{name: "missing sub", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, without(goodClaims(), "sub")), want: "no subject"},
		{name: "bad role", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "role", "superuser")), want: `unknown role "superuser"`},
		{name: "missing role", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, without(goodClaims(), "role")), want: `unknown role ""`},
		{name: "unknown region", v: edVerifier, token: craft(t, jwt.SigningMethodEdDSA, edPriv, with(goodClaims(), "regions", []string{"london", "atlantis"})), want: `token names unknown region "atlantis"`},
		{name: "a notifier with regions", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "role", "notifier")), want: "notifier role names regions"},
		{name: "regions not an array", v: hsVerifier, token: craft(t, jwt.SigningMethodHS256, hs, with(goodClaims(), "regions", "london")), want: "token malformed"},
		{name: "garbage", v: hsVerifier, token: "not-a-jwt", want: "token malformed"},
		{name: "empty", v: edVerifier, token: "", want: "token malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := tt.v.Verify(t.Context(), tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", c)
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("error %v does not wrap ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error echoes the token: %q", err)
			}
		})
	}
}

func TestVerifyAllowsClockSkew(t *testing.T) {
	t.Parallel()
	tok := craft(t, jwt.SigningMethodHS256, []byte(hsKey), with(goodClaims(), "exp", time.Now().Add(-10*time.Second).Unix()))
	if _, err := mustVerifier(t, auth.KeyConfig{HS256Key: hsKey}).Verify(t.Context(), tok); err != nil {
		t.Fatalf("token 10s past exp rejected despite leeway: %v", err)
	}
}

func TestGenerateAndPublic(t *testing.T) {
	t.Parallel()
	k, err := auth.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := auth.KeyConfig{Ed25519PrivateKey: k.Ed25519PrivateKey}.Public()
	if err != nil || pub.Ed25519PublicKey != k.Ed25519PublicKey || pub.Ed25519PrivateKey != "" {
		t.Fatalf("Public() = %+v, %v; want only the public key %s", pub, err, k.Ed25519PublicKey)
	}
	tok, err := mustSigner(t, k).Mint(auth.Claims{Subject: "a", Role: auth.RoleAdmin}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, pub).Verify(t.Context(), tok); err != nil {
		t.Errorf("a token signed with the seed fails with the public key alone: %v", err)
	}
	if _, err := (auth.KeyConfig{HS256Key: hsKey}).Public(); err == nil {
		t.Error("Public() of an HS256 key: want an error")
	}
}
