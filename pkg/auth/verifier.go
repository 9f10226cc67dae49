package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/probation-recruitment/pipeline/pkg/region"
)

// leeway absorbs clock skew between the issuing host and the verifying one.
const leeway = 30 * time.Second

// DefaultMaxLifetime caps a token's lifetime (exp - iat) unless a service
// is configured otherwise: a stolen token is useful for at most this long.
const DefaultMaxLifetime = 12 * time.Hour

// SystemPrefix begins the subjects the services act as themselves
// ("system:offers") in events and history. No token may claim one, so no
// caller can pass for a service.
const SystemPrefix = "system:"

// subjectFormat is what a token's subject may look like: a user or client
// id of an identity provider, never free text, never empty, and never an
// email address (no "@"): the subject is written into every record's
// history and every event, which must hold no personal data.
var subjectFormat = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+=:/|-]{0,254}$`)

// VerifierConfig says which tokens a service accepts. At least one of Keys
// and OIDC must be set.
type VerifierConfig struct {
	// Keys verifies the tokens signed with the pipeline's own key (iss
	// Issuer): pipelinectl token, tests, and the development key.
	Keys KeyConfig
	// OIDC verifies the tokens of an organisation's identity provider.
	OIDC *OIDCConfig
	// Audiences are the aud values accepted; a token must name one. Empty
	// means Audience alone.
	Audiences []string
	// MaxLifetime caps exp - iat; zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
}

// Verifier checks bearer tokens: the signature, with the key of the issuer
// the token names (the pipeline's own key, or an OpenID provider's), and
// then the same rules whoever issued it: an accepted audience, an issue
// time not in the future, a lifetime within the cap, a well-formed subject
// that is not a service's, a known role and known regions. It is safe for
// concurrent use.
//
// It remembers the tokens it has accepted, so a caller that presents the
// same token on every call (a dashboard, pipelinectl) has it parsed and its
// signature checked once: that cost more CPU than most reports. A
// remembered token is accepted only within its validity (nbf and exp, with
// the leeway), as a fresh check would; a token that fails is never
// remembered.
type Verifier struct {
	keys        *keyIssuer
	oidc        *oidcIssuer
	audiences   []string
	maxLifetime time.Duration
	now         func() time.Time

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

// verified is what an issuer's check yields: the token's claims, mapped to
// a caller, and the registered claims the policy checks.
type verified struct {
	claims    Claims
	audience  []string
	issuedAt  time.Time
	notBefore time.Time
}

// NewVerifier builds the verifier cfg describes.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{audiences: cfg.Audiences, maxLifetime: cfg.MaxLifetime, now: time.Now, accepted: map[string]acceptedToken{}}
	if len(v.audiences) == 0 {
		v.audiences = []string{Audience}
	}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if cfg.Keys != (KeyConfig{}) {
		k, err := newKeyIssuer(cfg.Keys, func() time.Time { return v.now() })
		if err != nil {
			return nil, fmt.Errorf("build verifier: %w", err)
		}
		v.keys = k
	}
	if cfg.OIDC != nil {
		o, err := newOIDCIssuer(*cfg.OIDC, func() time.Time { return v.now() })
		if err != nil {
			return nil, fmt.Errorf("build verifier: %w", err)
		}
		v.oidc = o
	}
	if v.keys == nil && v.oidc == nil {
		return nil, errors.New("build verifier: no key and no OpenID provider configured")
	}
	return v, nil
}

// Verifier builds a verifier of the tokens signed with k, with the default
// audience and lifetime cap.
func (k KeyConfig) Verifier() (*Verifier, error) {
	if k == (KeyConfig{}) {
		return nil, errors.New("build verifier: no key set; configure HS256Key or Ed25519PublicKey")
	}
	return NewVerifier(VerifierConfig{Keys: k})
}

// Verify checks token as the Verifier's doc says. Every error wraps
// ErrUnauthenticated; the message never contains the token.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	now := v.now()
	v.mu.RLock()
	a, ok := v.accepted[token]
	v.mu.RUnlock()
	if ok && !now.Before(a.notBefore) && now.Before(a.expires) {
		c := a.claims
		c.Regions = slices.Clone(c.Regions)
		return c, nil
	}
	got, err := v.check(ctx, token, now)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	a = acceptedToken{claims: got.claims, expires: got.claims.ExpiresAt.Add(leeway)}
	if !got.notBefore.IsZero() {
		a.notBefore = got.notBefore.Add(-leeway)
	}
	a.claims.Regions = slices.Clone(got.claims.Regions)
	v.remember(token, a, now)
	return got.claims, nil
}

func (v *Verifier) check(ctx context.Context, token string, now time.Time) (verified, error) {
	var unverified jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil {
		return verified{}, errors.New("token malformed")
	}
	// The issuer only chooses whose key checks the signature; a token
	// naming one issuer cannot be checked with another's key.
	var got verified
	var err error
	switch {
	case v.keys != nil && unverified.Issuer == Issuer:
		got, err = v.keys.verify(token)
	case v.oidc != nil && unverified.Issuer == v.oidc.issuer:
		got, err = v.oidc.verify(ctx, token)
	default:
		return verified{}, errors.New("token has wrong issuer")
	}
	if err != nil {
		return verified{}, err
	}
	return got, v.policy(got, now)
}

// policy is the rules every token must meet whoever signed it.
func (v *Verifier) policy(got verified, now time.Time) error {
	if !slices.ContainsFunc(got.audience, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		return errors.New("token is not for this service (audience)")
	}
	switch {
	case got.issuedAt.IsZero():
		return errors.New("token has no issue time (iat)")
	case got.issuedAt.After(now.Add(leeway)):
		return errors.New("token issued in the future")
	case got.claims.ExpiresAt.Sub(got.issuedAt) > v.maxLifetime:
		return fmt.Errorf("token lifetime exceeds %s", v.maxLifetime)
	}
	return checkClaims(got.claims)
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

// WellFormedSubject reports whether s may stand for a person in records
// and events: a subject id as a token carries, never an email address or
// free text. Imported history names its approvers this way too.
func WellFormedSubject(s string) bool {
	return s != "" && !strings.Contains(s, "@") && subjectFormat.MatchString(s)
}

// checkClaims holds the claim rules shared by Mint and Verify, so a signer
// cannot produce a token the verifiers will refuse.
func checkClaims(c Claims) error {
	switch {
	case c.Subject == "":
		return errors.New("token has no subject")
	case strings.HasPrefix(strings.ToLower(c.Subject), SystemPrefix):
		return errors.New("token subject is reserved for the services")
	case strings.Contains(c.Subject, "@"):
		return errors.New("token subject must be an opaque id, not an email address")
	case !subjectFormat.MatchString(c.Subject):
		return errors.New("token subject is not a well-formed id")
	case !c.Role.Valid():
		return fmt.Errorf("token names unknown role %q", c.Role)
	case c.Role == RoleNotifier && len(c.Regions) > 0:
		// The notifier is not regional: regions on its token would read as
		// a limit that nothing enforces.
		return errors.New("token of the notifier role names regions; it must name none")
	}
	for _, r := range c.Regions {
		if !region.Valid(r) {
			return fmt.Errorf("token names unknown region %q", r)
		}
	}
	return nil
}

// keyIssuer verifies the tokens signed with the pipeline's own key.
type keyIssuer struct {
	alg    string
	key    any
	parser *jwt.Parser
}

func newKeyIssuer(k KeyConfig, now func() time.Time) (*keyIssuer, error) {
	hs := k.HS256Key != ""
	ed := k.Ed25519PublicKey != "" || k.Ed25519PrivateKey != ""
	var method jwt.SigningMethod
	var key any
	switch {
	case hs && ed:
		return nil, errors.New("both HS256Key and an Ed25519 key are set; configure exactly one")
	case hs:
		b, err := k.hs256Key()
		if err != nil {
			return nil, err
		}
		method, key = jwt.SigningMethodHS256, b
	default:
		pub, err := k.ed25519PublicKey()
		if err != nil {
			return nil, err
		}
		method, key = jwt.SigningMethodEdDSA, pub
	}
	return &keyIssuer{alg: method.Alg(), key: key, parser: jwt.NewParser(
		// One accepted algorithm per key type is what defeats alg
		// confusion and "none": the header cannot choose how the
		// signature is checked.
		jwt.WithValidMethods([]string{method.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	)}, nil
}

// keyClaims is the body of a token signed with the pipeline's key.
type keyClaims struct {
	jwt.RegisteredClaims
	Role    Role     `json:"role"`
	Regions []string `json:"regions"`
}

func (k *keyIssuer) verify(token string) (verified, error) {
	var kc keyClaims
	parsed, err := k.parser.ParseWithClaims(token, &kc, func(t *jwt.Token) (any, error) {
		// WithValidMethods has already checked the alg; this guards against
		// that option being dropped in a refactor.
		if t.Method.Alg() != k.alg {
			return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
		}
		return k.key, nil
	})
	if err != nil {
		return verified{}, errors.New(k.reason(parsed, err))
	}
	got := verified{
		claims:   Claims{Subject: kc.Subject, Role: kc.Role, Regions: kc.Regions, ExpiresAt: kc.ExpiresAt.Time},
		audience: kc.Audience,
	}
	if kc.IssuedAt != nil {
		got.issuedAt = kc.IssuedAt.Time
	}
	if kc.NotBefore != nil {
		got.notBefore = kc.NotBefore.Time
	}
	return got, nil
}

// reason turns a jwt error into a short message that is safe to return to the
// caller: it names what failed, never the token itself.
func (k *keyIssuer) reason(t *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if t != nil && t.Method != nil && t.Method.Alg() != k.alg {
			return fmt.Sprintf("token algorithm %q not accepted, want %q", t.Method.Alg(), k.alg)
		}
		return "token signature invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token has wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return err.Error()
	}
	return "token invalid"
}
