package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the iss claim of the tokens signed with the pipeline's own key
// (pipelinectl token, tests). Checking it stops a token minted for another
// system with a shared key from being accepted here.
const Issuer = "recruitment-pipeline"

// Audience is the aud claim of the tokens signed with the pipeline's own
// key, and the audience every service accepts unless configured otherwise.
const Audience = "recruitment-pipeline"

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

// Signer mints tokens with one key, for pipelinectl and tests. It is safe for
// concurrent use.
type Signer struct {
	method jwt.SigningMethod
	key    any
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

// GenerateEd25519 returns a new Ed25519 key pair: the private seed signs
// (pipelinectl token, a token service), the public key is all a service
// needs to verify.
func GenerateEd25519() (KeyConfig, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return KeyConfig{}, fmt.Errorf("generate Ed25519 key: %w", err)
	}
	return KeyConfig{
		Ed25519PublicKey:  base64.StdEncoding.EncodeToString(pub),
		Ed25519PrivateKey: base64.StdEncoding.EncodeToString(priv.Seed()),
	}, nil
}

// Public returns the configuration with the Ed25519 public key only (derived
// from the seed when only the seed is set): what a verifying service holds.
func (k KeyConfig) Public() (KeyConfig, error) {
	pub, err := k.ed25519PublicKey()
	if err != nil {
		return KeyConfig{}, err
	}
	if pub == nil {
		return KeyConfig{}, errors.New("Ed25519PublicKey: no Ed25519 key set")
	}
	return KeyConfig{Ed25519PublicKey: base64.StdEncoding.EncodeToString(pub)}, nil
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

// Mint signs a token for c valid for ttl from now; c.ExpiresAt is ignored.
// It refuses what every verifier would refuse: a lifetime beyond
// DefaultMaxLifetime, a reserved or malformed subject.
func (s *Signer) Mint(c Claims, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > DefaultMaxLifetime {
		return "", fmt.Errorf("mint token: ttl must be positive and at most %s, got %s", DefaultMaxLifetime, ttl)
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
	tok := jwt.NewWithClaims(s.method, keyClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
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
