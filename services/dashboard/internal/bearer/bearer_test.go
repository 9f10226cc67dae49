package bearer

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/region"
)

const key = "bearer-test-signing-key-of-32-bytes-or-more"

func TestMinterMintsDashboardTokensAndRenewsThem(t *testing.T) {
	t.Parallel()
	keys := auth.KeyConfig{HS256Key: key}
	signer, err := keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := keys.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m, err := NewMinter(signer, "dashboard-web", region.All, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	md, err := m.GetRequestMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(md["authorization"], "Bearer ")
	if !ok {
		t.Fatalf("metadata = %v, want a bearer token", md)
	}
	c, err := verifier.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != auth.RoleDashboard || c.Subject != "dashboard-web" || !slices.Equal(c.Regions, region.All) {
		t.Errorf("claims = %+v, want role dashboard over every region", c)
	}

	first := m.expires
	now = now.Add(lifetime - renewAhead - time.Minute)
	if _, err := m.Token(); err != nil || m.expires != first {
		t.Errorf("a token with more than %s left was renewed (err %v)", renewAhead, err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := m.Token(); err != nil || !m.expires.After(first) {
		t.Errorf("a token about to expire was not renewed (err %v)", err)
	}
}

func TestNewMinterFailsOnABadClaim(t *testing.T) {
	t.Parallel()
	signer, err := auth.KeyConfig{HS256Key: key}.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMinter(signer, "dashboard-web", []string{"atlantis"}, time.Now); err == nil {
		t.Error("a token for an unknown region was minted")
	}
}
