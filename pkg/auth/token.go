package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/probation-recruitment/pipeline/pkg/region"
)

// Issuer is the iss claim every token must carry. Checking it stops a token
// minted for another system with a shared key from being accepted here.
const Issuer = "recruitment-pipeline"

// leeway absorbs clock skew between the minting host and the verifying one.
const leeway = 30 * time.Second

// minHS256KeyLen is the RFC 7518 §3.2 minimum: a shorter HMAC key is
// guessable offline from any captured token.
const minHS256KeyLen = 32

// KeyConfig names the token keys, as read from service configuration.
// Exactly one of HS256Key or the Ed25519 pair is used.
//
// HS256Key is the raw shared secret, at least 32 bytes. Ed25519PublicKey and
// Ed25519PrivateKey are standard base64 of the raw 32-byte public key and the
// 32-byte private seed. Verifying services need only the public key; a
// verifier given only the private seed derives the public key from it.
type KeyConfig struct {
	HS256Key          string
	Ed25519PublicKey  string
	Ed25519PrivateKey string
}

// Verifier checks bearer tokens against one key. It is safe for concurrent use.
//
// It remembers the tokens it has accepted, so a caller that presents the
// same token on every call (a dashboard, pipelinectl) has it parsed and
// its signature checked once: that cost more CPU than most reports. A
// remembered token is accepted only within its validity (nbf and exp, with
// the leeway), as a fresh check would; a token that fails is never
// remembered.
type Verifier struct {
	alg    string
	key    any
	parser *jwt.Parser
	now    func() time.Time

	mu       sync.RWMutex
	accepted map[string]acceptedToken
}

// acceptedToken is a token's claims and when they may be used (the leeway
// applied), for as long as the Verifier remembers it.
type acceptedToken struct {
	claims             Claims
	notBefore, expires time.Time
}

// maxAccepted bounds the tokens a Verifier remembers; past it, the expired
// ones are dropped, or all if none has expired.
const maxAccepted = 4096

// Signer mints tokens with one key, for pipelinectl and tests. It is safe for
// concurrent use.
type Signer struct {
	method jwt.SigningMethod
	key    any
}

// Verifier builds the token verifier for the configured key.
func (k KeyConfig) Verifier() (*Verifier, error) {
	hs := k.HS256Key != ""
	ed := k.Ed25519PublicKey != "" || k.Ed25519PrivateKey != ""
	switch {
	case hs && ed:
		return nil, errors.New("build verifier: both HS256Key and an Ed25519 key are set; configure exactly one")
	case !hs && !ed:
		return nil, errors.New("build verifier: no key set; configure HS256Key or Ed25519PublicKey")
	case hs:
		key, err := k.hs256Key()
		if err != nil {
			return nil, fmt.Errorf("build verifier: %w", err)
		}
		return newVerifier(jwt.SigningMethodHS256, key), nil
	}
	pub, err := k.ed25519PublicKey()
	if err != nil {
		return nil, fmt.Errorf("build verifier: %w", err)
	}
	return newVerifier(jwt.SigningMethodEdDSA, pub), nil
}

// Signer builds the token signer for the configured HS256 key or Ed25519
// private key.
func (k KeyConfig) Signer() (*Signer, error) {
	hs := k.HS256Key != ""
	ed := k.Ed25519PrivateKey != ""
	switch {
	case hs && (ed || k.Ed25519PublicKey != ""):
		return nil, errors.New("build signer: both HS256Key and an Ed25519 key are set; configure exactly one")
	case hs:
		key, err := k.hs256Key()
		if err != nil {
			return nil, fmt.Errorf("build signer: %w", err)
		}
		return &Signer{method: jwt.SigningMethodHS256, key: key}, nil
	case ed:
		priv, err := decodeEd25519Seed(k.Ed25519PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("build signer: %w", err)
		}
		// A mismatched pair would mint tokens that this same config's
		// verifier rejects; catch it at start-up instead.
		if k.Ed25519PublicKey != "" {
			if _, err := k.ed25519PublicKey(); err != nil {
				return nil, fmt.Errorf("build signer: %w", err)
			}
		}
		return &Signer{method: jwt.SigningMethodEdDSA, key: priv}, nil
	case k.Ed25519PublicKey != "":
		return nil, errors.New("build signer: Ed25519PrivateKey: required to sign, only the public key is set")
	}
	return nil, errors.New("build signer: no key set; configure HS256Key or Ed25519PrivateKey")
}

func (k KeyConfig) hs256Key() ([]byte, error) {
	if len(k.HS256Key) < minHS256KeyLen {
		return nil, fmt.Errorf("HS256Key: must be at least %d bytes, got %d", minHS256KeyLen, len(k.HS256Key))
	}
	return []byte(k.HS256Key), nil
}

// ed25519PublicKey returns the public key, derived from the seed when only the
// seed is configured, and refuses a pair that does not match.
func (k KeyConfig) ed25519PublicKey() (ed25519.PublicKey, error) {
	var pub ed25519.PublicKey
	if k.Ed25519PublicKey != "" {
		raw, err := base64.StdEncoding.DecodeString(k.Ed25519PublicKey)
		if err != nil {
			return nil, fmt.Errorf("Ed25519PublicKey: not standard base64: %w", err)
		}
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519PublicKey: must decode to %d bytes, got %d", ed25519.PublicKeySize, len(raw))
		}
		pub = ed25519.PublicKey(raw)
	}
	if k.Ed25519PrivateKey == "" {
		return pub, nil
	}
	priv, err := decodeEd25519Seed(k.Ed25519PrivateKey)
	if err != nil {
		return nil, err
	}
	derived := priv.Public().(ed25519.PublicKey)
	if pub != nil && !pub.Equal(derived) {
		return nil, errors.New("Ed25519PublicKey: does not match Ed25519PrivateKey")
	}
	return derived, nil
}

func decodeEd25519Seed(s string) (ed25519.PrivateKey, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("Ed25519PrivateKey: not standard base64: %w", err)
	}
	if len(raw) != ed25519.SeedSize {
		return nil, fmt.Errorf("Ed25519PrivateKey: must decode to a %d-byte seed, got %d bytes", ed25519.SeedSize, len(raw))
	}
	return ed25519.NewKeyFromSeed(raw), nil
}

func newVerifier(m jwt.SigningMethod, key any) *Verifier {
	v := &Verifier{alg: m.Alg(), key: key, now: time.Now, accepted: map[string]acceptedToken{}}
	v.parser = jwt.NewParser(
		// One accepted algorithm per key type is what defeats alg
		// confusion and "none": the header cannot choose how the
		// signature is checked.
		jwt.WithValidMethods([]string{m.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	)
	return v
}

// tokenClaims is the JWT body: registered claims plus role and regions.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role    Role     `json:"role"`
	Regions []string `json:"regions"`
}

// Verify checks token's signature, algorithm, issuer and expiry, and that its
// claims name a known role, a subject and only known regions. Every error
// wraps ErrUnauthenticated; the message never contains the token.
func (v *Verifier) Verify(token string) (Claims, error) {
	now := v.now()
	v.mu.RLock()
	a, ok := v.accepted[token]
	v.mu.RUnlock()
	if ok && !now.Before(a.notBefore) && now.Before(a.expires) {
		c := a.claims
		c.Regions = slices.Clone(c.Regions)
		return c, nil
	}
	var tc tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		// WithValidMethods has already checked the alg; this guards against
		// that option being dropped in a refactor.
		if t.Method.Alg() != v.alg {
			return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
		}
		return v.key, nil
	})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %s", ErrUnauthenticated, v.reason(parsed, err))
	}
	c := Claims{
		Subject:   tc.Subject,
		Role:      tc.Role,
		Regions:   tc.Regions,
		ExpiresAt: tc.ExpiresAt.Time,
	}
	if err := checkClaims(c); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	a = acceptedToken{claims: c, expires: tc.ExpiresAt.Add(leeway)}
	if tc.NotBefore != nil {
		a.notBefore = tc.NotBefore.Add(-leeway)
	}
	a.claims.Regions = slices.Clone(c.Regions)
	v.remember(token, a, now)
	return c, nil
}

func (v *Verifier) remember(token string, a acceptedToken, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.accepted) >= maxAccepted {
		for t, old := range v.accepted {
			if !now.Before(old.expires) {
				delete(v.accepted, t)
			}
		}
		if len(v.accepted) >= maxAccepted {
			clear(v.accepted)
		}
	}
	v.accepted[token] = a
}

// reason turns a jwt error into a short message that is safe to return to the
// caller: it names what failed, never the token itself.
func (v *Verifier) reason(t *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if t != nil && t.Method != nil && t.Method.Alg() != v.alg {
			return fmt.Sprintf("token algorithm %q not accepted, want %q", t.Method.Alg(), v.alg)
		}
		return "token signature invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token has wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return err.Error()
	}
	return "token invalid"
}

// validate holds the claim rules shared by Mint and Verify, so a signer
// cannot produce a token the verifiers will refuse.
func checkClaims(c Claims) error {
	if c.Subject == "" {
		return errors.New("token has no subject")
	}
	if !c.Role.Valid() {
		return fmt.Errorf("token names unknown role %q", c.Role)
	}
	for _, r := range c.Regions {
		if !region.Valid(r) {
			return fmt.Errorf("token names unknown region %q", r)
		}
	}
	return nil
}

// Mint signs a token for c valid for ttl from now; c.ExpiresAt is ignored.
func (s *Signer) Mint(c Claims, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("mint token: ttl must be positive, got %s", ttl)
	}
	if err := checkClaims(c); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	regions := c.Regions
	if regions == nil {
		// Keep "regions" an array in the token, never null, for non-Go readers.
		regions = []string{}
	}
	now := time.Now()
	tok := jwt.NewWithClaims(s.method, tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			Issuer:    Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Role:    c.Role,
		Regions: regions,
	})
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("mint token: sign: %w", err)
	}
	return signed, nil
}
