package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authCodeLifetime bounds the time between sign-in and the code exchange.
const authCodeLifetime = 5 * time.Minute

// storage is the op.Storage of the provider, all in memory.
type storage struct {
	users        map[string]User
	usersInOrder []User // as configured, for the sign-in page
	clients      map[string]*client
	lifetime     time.Duration

	mu            sync.Mutex
	authRequests  map[string]*authRequest
	codes         map[string]string // code → auth request ID
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
	sessions      map[string]session // browser session ID → who signed in
	keys          []*signingKey      // keys[0] signs; keys[1], if any, is the previous one
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

func newStorage(cfg Config) (*storage, error) {
	s := &storage{
		users:         make(map[string]User, len(cfg.Users)),
		clients:       make(map[string]*client, len(cfg.Clients)),
		lifetime:      cfg.IDTokenLifetime,
		authRequests:  make(map[string]*authRequest),
		codes:         make(map[string]string),
		accessTokens:  make(map[string]*accessToken),
		refreshTokens: make(map[string]*refreshToken),
		sessions:      make(map[string]session),
	}
	for _, u := range cfg.Users {
		u.Regions = slices.Clone(u.Regions)
		if u.Regions == nil {
			u.Regions = []string{}
		}
		s.users[u.ID] = u
		s.usersInOrder = append(s.usersInOrder, u)
	}
	for _, c := range cfg.Clients {
		s.clients[c.ID] = &client{Client: c, lifetime: cfg.IDTokenLifetime}
	}
	if _, err := s.rotate(); err != nil {
		return nil, err
	}
	return s, nil
}

// --- keys ---------------------------------------------------------------------

// signingKey is an RS256 key; RS256 is the algorithm every OpenID Connect
// relying party must support.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a signing key as the JWKS publishes it.
type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (s *storage) rotate() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("devidp: generate signing key: %w", err)
	}
	// A random kid, not a counter: a restarted provider must not reuse a kid
	// that a relying party has cached with the old key.
	k := &signingKey{id: randomID(8), key: key}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append([]*signingKey{k}, s.keys...)
	if len(s.keys) > 2 {
		s.keys = s.keys[:2]
	}
	return k.id, nil
}

func (s *storage) signingKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0].id
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0], nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]op.Key, len(s.keys))
	for i, k := range s.keys {
		keys[i] = publicKey{k}
	}
	return keys, nil
}

// --- clients --------------------------------------------------------------------

// client adapts a Client to op.Client.
type client struct {
	Client
	lifetime time.Duration
}

func (c *client) GetID() string                    { return c.ID }
func (c *client) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	switch {
	case c.Loopback:
		return op.ApplicationTypeNative // any loopback port (RFC 8252)
	case c.Secret == "":
		return op.ApplicationTypeUserAgent
	default:
		return op.ApplicationTypeWeb
	}
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // form post is accepted too (op.Config.AuthMethodPost)
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(authRequestID string) string {
	return pathSignIn + "?" + paramAuthRequest + "=" + authRequestID
}
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return c.lifetime }

// DevMode lets a public browser client use its registered http redirect
// URIs; they are still matched exactly (this client offers op no globs).
func (c *client) DevMode() bool { return c.Secret == "" && !c.Loopback }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion: op asks the storage for an ID token's
// user claims only while some scope is left after it drops profile, email,
// phone and address, which it does whenever it also issues an access token
// (always, in the code flow) unless this is true. "openid" is always left
// here, so role and regions land either way; true stops the filtering, so
// that a claim made to depend on a scope later cannot silently miss the ID
// token.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("devidp: unknown client %q", clientID)
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	c, ok := s.clients[clientID]
	if !ok || c.Secret == "" || c.Secret != clientSecret {
		return errors.New("devidp: unknown client or wrong secret")
	}
	return nil
}

// --- claims ---------------------------------------------------------------------

// setUserinfo puts the user's claims on info whatever the scopes: op calls
// it for every ID token whose request had at least one scope left after its
// filtering, and a request here always has "openid" (CreateAuthRequest
// refuses one without), so role and regions land in every ID token and
// every userinfo answer. Subject must be set: op copies it over the ID
// token's sub.
func (s *storage) setUserinfo(info *oidc.UserInfo, userID string) error {
	u, ok := s.users[userID]
	if !ok {
		return fmt.Errorf("devidp: unknown user %q", userID)
	}
	info.Subject = u.ID
	info.Name = u.Name
	if u.Role != "" {
		info.AppendClaims(ClaimRole, u.Role)
	}
	info.AppendClaims(ClaimRegions, slices.Clone(u.Regions))
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest, called
// right after it for the same ID token, does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	return s.setUserinfo(info, req.GetSubject())
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.accessTokens[tokenID]
	s.mu.Unlock()
	if !ok || t.subject != subject || time.Now().After(t.expires) {
		return errors.New("devidp: access token unknown or expired")
	}
	return s.setUserinfo(info, t.subject)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.accessTokens[tokenID]
	s.mu.Unlock()
	if !ok || t.subject != subject || time.Now().After(t.expires) || !slices.Contains(t.audience, clientID) {
		return errors.New("devidp: access token unknown, expired or not for this client")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, t.subject); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

// GetPrivateClaimsFromScopes is only asked for JWT access tokens, which this
// provider does not issue.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID refuses: no client authenticates with a key.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("devidp: JWT client authentication is not supported")
}

// ValidateJWTProfileScopes refuses: the JWT profile grant is not supported.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("devidp: the JWT profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// --- authorization requests -------------------------------------------------------

// authRequest is an authorization request from /authorize until its code is
// exchanged.
type authRequest struct {
	id            string
	created       time.Time
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge

	// Set when the user has signed in.
	userID   string
	authTime time.Time
	done     bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return nil }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.done }

// CreateAuthRequest stores a request op has validated (client, redirect
// URI, response type, scopes). It adds what op leaves optional: openid must
// be asked for, and PKCE with S256 is required of every client, confidential
// ones included (OAuth 2.1). With prompt=none it signs the request in as the
// browser's session user, or answers login_required.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if !slices.Contains(req.Scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	a := &authRequest{
		id:            randomID(16),
		created:       time.Now(),
		clientID:      req.ClientID,
		redirectURI:   req.RedirectURI,
		state:         req.State,
		nonce:         req.Nonce,
		scopes:        slices.Clone(req.Scopes),
		responseType:  req.ResponseType,
		responseMode:  req.ResponseMode,
		codeChallenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		sess, ok := sessionFromContext(ctx)
		if !ok {
			return nil, oidc.ErrLoginRequired().WithDescription("no one is signed in to the development provider in this browser")
		}
		a.userID, a.authTime, a.done = sess.userID, sess.authTime, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return nil, errors.New("devidp: unknown or finished sign-in request")
	}
	return a, nil
}

// AuthRequestByCode finds a code's request. A failed exchange leaves the
// code in place: x/oauth2 (AuthStyleAutoDetect, the default with go-oidc's
// Endpoint) retries a refused exchange with the credentials in the body, and
// a code spent by the first try would hide the real error (a wrong PKCE
// verifier or secret) behind "invalid code". A successful exchange deletes
// it (DeleteAuthRequest), and it expires after authCodeLifetime.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errors.New("devidp: unknown or used code")
	}
	a, ok := s.authRequests[id]
	if !ok || time.Since(a.created) > authCodeLifetime {
		delete(s.codes, code)
		delete(s.authRequests, id)
		return nil, errors.New("devidp: code expired")
	}
	return a, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authRequests[id]; !ok {
		return errors.New("devidp: unknown sign-in request")
	}
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// completeSignIn marks request id as signed in by userID.
func (s *storage) completeSignIn(id, userID string, at time.Time) error {
	if _, ok := s.users[userID]; !ok {
		return fmt.Errorf("unknown user %q", userID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return errors.New("unknown or finished sign-in request")
	}
	a.userID, a.authTime, a.done = userID, at, true
	return nil
}

// --- tokens ---------------------------------------------------------------------

type accessToken struct {
	id        string
	clientID  string
	subject   string
	audience  []string
	scopes    []string
	expires   time.Time
	refreshID string
}

type refreshToken struct {
	token    string
	clientID string
	subject  string
	audience []string
	scopes   []string
	authTime time.Time
	amr      []string
	expires  time.Time
	accessID string
}

// refreshRequest is a refresh token as op's refresh grant sees it: a copy,
// so that narrowing the scopes of one refresh does not narrow the grant.
type refreshRequest struct{ refreshToken }

func (r *refreshRequest) GetAMR() []string             { return r.amr }
func (r *refreshRequest) GetAudience() []string        { return r.audience }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.authTime }
func (r *refreshRequest) GetClientID() string          { return r.clientID }
func (r *refreshRequest) GetScopes() []string          { return r.scopes }
func (r *refreshRequest) GetSubject() string           { return r.subject }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.scopes = sc }

// idTokenRequest is an ID token asked for directly (IssueIDToken).
type idTokenRequest struct {
	clientID, subject string
	authTime          time.Time
}

func (r *idTokenRequest) GetAMR() []string       { return nil }
func (r *idTokenRequest) GetAudience() []string  { return []string{r.clientID} }
func (r *idTokenRequest) GetAuthTime() time.Time { return r.authTime }
func (r *idTokenRequest) GetClientID() string    { return r.clientID }
func (r *idTokenRequest) GetScopes() []string    { return []string{oidc.ScopeOpenID, oidc.ScopeProfile} }
func (r *idTokenRequest) GetSubject() string     { return r.subject }

// clientOf names the client a token request is for.
func clientOf(req op.TokenRequest) (clientID string, authTime time.Time, amr []string) {
	switch r := req.(type) {
	case *authRequest:
		return r.clientID, r.authTime, r.GetAMR()
	case *refreshRequest:
		return r.clientID, r.authTime, r.amr
	}
	return "", time.Time{}, nil
}

// newAccessToken stores an access token; s.mu must be held.
func (s *storage) newAccessToken(clientID, refreshID string, req op.TokenRequest) *accessToken {
	t := &accessToken{
		id:        randomID(16),
		clientID:  clientID,
		subject:   req.GetSubject(),
		audience:  slices.Clone(req.GetAudience()),
		scopes:    slices.Clone(req.GetScopes()),
		expires:   time.Now().Add(s.lifetime),
		refreshID: refreshID,
	}
	s.accessTokens[t.id] = t
	return t
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	clientID, _, _ := clientOf(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newAccessToken(clientID, "", req)
	return t.id, t.expires, nil
}

// CreateAccessAndRefreshTokens issues a refresh token with the code flow
// (offline_access) and rotates it on every refresh grant: the old one stops
// working, so a leaked one is good once at most.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	clientID, authTime, amr := clientOf(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		old, ok := s.refreshTokens[current]
		if !ok || old.clientID != clientID {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		delete(s.refreshTokens, current)
		delete(s.accessTokens, old.accessID)
	}
	rt := &refreshToken{
		token:    randomID(32),
		clientID: clientID,
		subject:  req.GetSubject(),
		audience: slices.Clone(req.GetAudience()),
		scopes:   slices.Clone(req.GetScopes()),
		authTime: authTime,
		amr:      amr,
		expires:  time.Now().Add(refreshTokenLifetime),
	}
	at := s.newAccessToken(clientID, rt.token, req)
	rt.accessID = at.id
	s.refreshTokens[rt.token] = rt
	return at.id, rt.token, at.expires, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || time.Now().After(rt.expires) {
		return nil, op.ErrInvalidRefreshToken
	}
	cp := *rt
	cp.scopes = slices.Clone(rt.scopes)
	return &refreshRequest{cp}, nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || rt.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.accessTokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.accessTokens, tokenOrID)
		return nil
	}
	if rt, ok := s.refreshTokens[tokenOrID]; ok {
		if rt.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refreshTokens, tokenOrID)
		delete(s.accessTokens, rt.accessID)
	}
	return nil // an unknown token is already as revoked as it gets (RFC 7009 §2.2)
}

// --- sessions -------------------------------------------------------------------

// session is a browser signed in to the provider.
type session struct {
	userID   string
	authTime time.Time
}

func (s *storage) newSession(userID string, at time.Time) string {
	id := randomID(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[id] = session{userID: userID, authTime: at}
	return id
}

func (s *storage) session(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	return sess, ok
}

func (s *storage) endSession(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
}

// TerminateSession ends what a sign-out names: the user's tokens for the
// client and every browser session of the user.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	if userID == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.accessTokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.accessTokens, id)
		}
	}
	for token, rt := range s.refreshTokens {
		if rt.subject == userID && rt.clientID == clientID {
			delete(s.refreshTokens, token)
		}
	}
	for id, sess := range s.sessions {
		if sess.userID == userID {
			delete(s.sessions, id)
		}
	}
	return nil
}

func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	return req.RedirectURI, s.TerminateSession(ctx, req.UserID, req.ClientID)
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
