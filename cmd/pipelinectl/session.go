package main

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// refreshBefore is how long before its expiry a stored ID token is
// refreshed, so that it does not expire on its way to a service.
const refreshBefore = time.Minute

// session is the stored sign-in of one run, read on the first call that
// needs a token (so that help and usage errors never touch the file).
type session struct {
	mu     sync.Mutex
	loaded bool
	creds  *loginCreds // nil: not signed in
}

// withBearer adds the bearer token to a call's options, and says which
// identity provider's sign-in it came from ("" for --token or none).
func (a *app) withBearer(ctx context.Context, opts []grpc.CallOption) ([]grpc.CallOption, string, error) {
	tok, issuer, err := a.bearer(ctx)
	if err != nil || tok == "" {
		return opts, issuer, err
	}
	return append(opts[:len(opts):len(opts)], grpc.PerRPCCredentials(a.bearerCredentials(tok))), issuer, nil
}

// bearer is the token of the next call: --token or PIPELINE_TOKEN when
// given; else the ID token `pipelinectl login` stored, refreshed first when
// it expires within refreshBefore; else none, and the service's
// Unauthenticated answer says how to sign in. issuer names the identity
// provider of a stored sign-in.
func (a *app) bearer(ctx context.Context) (token, issuer string, err error) {
	if a.token != "" {
		return a.token, "", nil
	}
	s := &a.session
	s.mu.Lock()
	defer s.mu.Unlock()
	store, err := a.credentialStore()
	if err != nil {
		return "", "", err
	}
	if !s.loaded {
		c, err := store.load()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
		s.creds, s.loaded = c, true
	}
	if s.creds == nil {
		return "", "", nil
	}
	if time.Until(s.creds.Expiry) <= refreshBefore {
		c, err := a.refreshSignIn(ctx, store)
		if err != nil {
			return "", "", err
		}
		s.creds = c
	}
	return s.creds.IDToken, s.creds.Issuer, nil
}

// refreshSignIn renews the stored sign-in under the store's lock. It reads
// the file again once it holds the lock: another pipelinectl may have
// refreshed in the meantime, spending the refresh token this one read (the
// provider rotates them), and then its fresh token is the one to use.
func (a *app) refreshSignIn(ctx context.Context, store credentialStore) (*loginCreds, error) {
	unlock, err := store.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := store.load()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, signedOut("%s was removed (by pipelinectl logout?)", store.path())
	}
	if err != nil {
		return nil, err
	}
	if time.Until(c.Expiry) > refreshBefore {
		return c, nil
	}
	if c.RefreshToken == "" {
		return nil, signedOut("the sign-in expired at %s and the identity provider gave no refresh token", c.Expiry.Format(time.RFC3339))
	}
	p, err := discover(ctx, c.Issuer, c.ClientID, a.timeout)
	if err != nil {
		return nil, err
	}
	fresh, err := p.refresh(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := store.save(fresh); err != nil {
		return nil, err
	}
	return fresh, nil
}
