// Package bearer provides the dashboard's gRPC credentials: a token given
// to it, or one it mints itself for the dashboard role and re-mints before
// it expires (for a developer's machine, where the signing key is known).
package bearer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
)

// lifetime is how long a minted token lives; renewAhead is how long before
// its expiry a new one is minted, so a call never carries a token that
// expires on the way (the services allow 30s of clock skew, no more).
const (
	lifetime   = time.Hour
	renewAhead = 5 * time.Minute
)

// Static returns credentials that send token on every call.
func Static(token string) credentials.PerRPCCredentials {
	return grpcauth.BearerToken(token)
}

// Minter mints dashboard tokens for a fixed set of regions. It is safe for
// concurrent use and implements credentials.PerRPCCredentials.
type Minter struct {
	signer  *auth.Signer
	claims  auth.Claims
	now     func() time.Time
	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewMinter returns credentials minting tokens with signer for subject,
// role dashboard, over regions. It mints the first token at once, so a bad
// key fails at start-up.
func NewMinter(signer *auth.Signer, subject string, regions []string, now func() time.Time) (*Minter, error) {
	m := &Minter{signer: signer, now: now,
		claims: auth.Claims{Subject: subject, Role: auth.RoleDashboard, Regions: regions}}
	if _, err := m.Token(); err != nil {
		return nil, err
	}
	return m, nil
}

// Token returns a token valid for at least renewAhead.
func (m *Minter) Token() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.token != "" && m.now().Add(renewAhead).Before(m.expires) {
		return m.token, nil
	}
	tok, err := m.signer.Mint(m.claims, lifetime)
	if err != nil {
		return "", fmt.Errorf("mint dashboard token: %w", err)
	}
	m.token, m.expires = tok, m.now().Add(lifetime)
	return tok, nil
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (m *Minter) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, err := m.Token()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials; the
// services listen in plaintext on a private network, as pkg/auth's own
// bearer credentials assume.
func (*Minter) RequireTransportSecurity() bool { return false }
