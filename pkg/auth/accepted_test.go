package auth

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testHSKey = "0123456789abcdef0123456789abcdef-test-only"

// A remembered token is accepted only while a fresh check would accept it.
func TestAcceptedTokensKeepTheirValidity(t *testing.T) {
	t.Parallel()
	v, err := KeyConfig{HS256Key: testHSKey}.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	clock := start
	v.now = func() time.Time { return clock }
	sign := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testHSKey))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	verify := func(what, token, wantErr string) Claims {
		t.Helper()
		c, err := v.Verify(t.Context(), token)
		switch {
		case wantErr == "" && err != nil:
			t.Fatalf("%s: %v", what, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Fatalf("%s: got %v, want an error containing %q", what, err, wantErr)
		}
		return c
	}

	tok := sign(jwt.MapClaims{"sub": "alice", "role": "spoc", "regions": []string{"london"}, "iss": Issuer, "aud": Audience,
		"iat": start.Unix(), "exp": start.Add(time.Minute).Unix()})
	verify("fresh", tok, "")
	if len(v.accepted) != 1 {
		t.Fatalf("%d tokens remembered, want 1", len(v.accepted))
	}
	c := verify("remembered", tok, "")
	c.Regions[0] = "wales" // a caller's change must not reach the next one
	if c := verify("remembered again", tok, ""); c.Regions[0] != "london" || c.Subject != "alice" || c.Role != RoleSPOC {
		t.Fatalf("remembered claims = %+v", c)
	}
	clock = start.Add(time.Minute + leeway - time.Second)
	verify("within the leeway after exp", tok, "")
	clock = start.Add(time.Minute + leeway + time.Second)
	verify("past exp and the leeway", tok, "token expired")

	clock = start
	later := sign(jwt.MapClaims{"sub": "bob", "role": "admin", "iss": Issuer, "aud": Audience, "iat": start.Unix(),
		"nbf": start.Add(10 * time.Minute).Unix(), "exp": start.Add(time.Hour).Unix()})
	verify("before nbf", later, "token not valid yet")
	if _, ok := v.accepted[later]; ok {
		t.Fatal("a refused token was remembered")
	}
	clock = start.Add(10 * time.Minute)
	verify("at nbf", later, "")
	clock = start.Add(10*time.Minute - leeway - time.Second)
	verify("remembered, but before nbf and the leeway", later, "token not valid yet")
}

// The remembered tokens are bounded.
func TestAcceptedTokensAreBounded(t *testing.T) {
	t.Parallel()
	k := KeyConfig{HS256Key: testHSKey}
	v, err := k.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxAccepted + 10 {
		tok, err := s.Mint(Claims{Subject: "user-" + strconv.Itoa(i), Role: RoleAdmin}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		if len(v.accepted) > maxAccepted {
			t.Fatalf("%d tokens remembered, more than %d", len(v.accepted), maxAccepted)
		}
	}
}

// BenchmarkVerify compares a token's first check with a remembered one.
func BenchmarkVerify(b *testing.B) {
	k := KeyConfig{HS256Key: testHSKey}
	v, err := k.Verifier()
	if err != nil {
		b.Fatal(err)
	}
	s, err := k.Signer()
	if err != nil {
		b.Fatal(err)
	}
	tok, err := s.Mint(Claims{Subject: "dash-london", Role: RoleDashboard, Regions: []string{"london"}}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, remembered := range []bool{false, true} {
		b.Run(map[bool]string{false: "first", true: "remembered"}[remembered], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !remembered {
					clear(v.accepted)
				}
				if _, err := v.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
