package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// loginCreds are what `pipelinectl login` keeps between runs: the ID token
// sent as the bearer, and the refresh token that renews it without a
// browser. The file is JSON (credentialsFile), mode 0600 in a 0700
// directory.
type loginCreds struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	IDToken  string `json:"id_token"`
	// RefreshToken is empty when the provider gave none; the sign-in then
	// ends when the ID token expires.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is the ID token's exp.
	Expiry time.Time `json:"expiry"`
}

const (
	credentialsFile = "credentials.json"
	// lockFile serialises the refreshes of concurrent pipelinectl runs: a
	// refresh token is good once (the provider rotates it), so two runs
	// refreshing with the same one would sign the slower one out.
	lockFile = "credentials.lock"
)

// credentialStore is the directory pipelinectl keeps a sign-in in:
// os.UserConfigDir()/pipelinectl (~/.config/pipelinectl on Linux,
// ~/Library/Application Support/pipelinectl on macOS).
type credentialStore struct{ dir string }

// credentialStore finds the store; a.configHome replaces the user's
// config directory in tests.
func (a *app) credentialStore() (credentialStore, error) {
	home := a.configHome
	if home == "" {
		var err error
		if home, err = os.UserConfigDir(); err != nil {
			return credentialStore{}, fmt.Errorf("find where to keep the sign-in: %w", err)
		}
	}
	return credentialStore{dir: filepath.Join(home, "pipelinectl")}, nil
}

func (s credentialStore) path() string { return filepath.Join(s.dir, credentialsFile) }

// load reads the stored sign-in. An absent file is an error wrapping
// fs.ErrNotExist. A file that anyone but its owner can read or write, that
// another user owns, or that sits in a directory others can write is
// refused (as ssh refuses such a private key): its tokens may be known to
// someone else.
func (s credentialStore) load() (*loginCreds, error) {
	return s.read(true)
}

// read is load, with the safety checks only when strict. `logout` reads
// without them: a token that may have leaked is the first to revoke.
func (s credentialStore) read(strict bool) (*loginCreds, error) {
	f, err := os.Open(s.path())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read the sign-in: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read the sign-in: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read the sign-in: %s is not a regular file", s.path())
	}
	if strict {
		if err := s.checkPrivate(fi); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the sign-in: %w", err)
	}
	var c loginCreds
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read the sign-in: %s is not valid JSON (%v); run `pipelinectl login` again", s.path(), err)
	}
	if c.Issuer == "" || c.ClientID == "" || c.IDToken == "" {
		return nil, fmt.Errorf("read the sign-in: %s lacks issuer, client_id or id_token; run `pipelinectl login` again", s.path())
	}
	return &c, nil
}

// checkPrivate refuses a credentials file others could have read or
// replaced.
func (s credentialStore) checkPrivate(fi fs.FileInfo) error {
	if why := notPrivate(fi, false); why != "" {
		return &authError{lines: []string{
			fmt.Sprintf("refusing to use %s: %s", s.path(), why),
			"its tokens may be known to someone else: run `pipelinectl logout` (which revokes them) and `pipelinectl login`",
		}}
	}
	di, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("read the sign-in: %w", err)
	}
	if why := notPrivate(di, true); why != "" {
		return &authError{lines: []string{
			fmt.Sprintf("refusing to use %s: its directory %s", s.path(), why),
			fmt.Sprintf("make the directory private (chmod 700 %s), then run `pipelinectl logout` and `pipelinectl login`", s.dir),
		}}
	}
	return nil
}

// save writes c atomically: a new file beside the old, synced, then
// renamed over it, so a reader (another pipelinectl) sees the old sign-in or
// the new one, never half of one. The directory is made 0700 and the file
// 0600.
func (s credentialStore) save(c *loginCreds) error {
	if err := s.makeDir(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save the sign-in: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".credentials-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("save the sign-in: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save the sign-in: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save the sign-in: %w", err)
	}
	// Without the sync a crash after the rename can leave an empty file:
	// the rotated refresh token would be lost and the user signed out.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save the sign-in: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the sign-in: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path()); err != nil {
		return fmt.Errorf("save the sign-in: %w", err)
	}
	syncDir(s.dir)
	return nil
}

// remove deletes the stored sign-in; an absent one is no error.
func (s credentialStore) remove() error {
	if err := os.Remove(s.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the sign-in: %w", err)
	}
	syncDir(s.dir)
	return nil
}

// makeDir creates the directory 0700, and makes an existing one private
// too: a group-writable directory would let another user swap the file.
func (s credentialStore) makeDir() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fmt.Errorf("make %s private: %w", s.dir, err)
	}
	return nil
}

// lock takes the store's lock, waiting for another pipelinectl that holds
// it (a refresh takes a second or so) until ctx ends.
func (s credentialStore) lock(ctx context.Context) (unlock func(), err error) {
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the sign-in: %w", err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock the sign-in: %w", err)
		}
		if ok {
			return func() { f.Close() }, nil // closing releases the lock
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock the sign-in (%s is held by another pipelinectl): %w", filepath.Join(s.dir, lockFile), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// syncDir makes a rename or removal in dir durable. It is best effort: some
// systems cannot sync a directory, and the change is made either way.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
