package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
)

// TestPasswordFiles: a password per user, random, readable only by its
// owner, and kept across restarts (the services read the same files).
func TestPasswordFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "users")
	first, err := passwordFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, user := range natsperm.Names() {
		p := first[user]
		if len(p) < 32 || seen[p] {
			t.Errorf("%s's password %q: want a distinct random one", user, p)
		}
		seen[p] = true
		info, err := os.Stat(filepath.Join(dir, user))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s's password file has mode %v; want 0600", user, info.Mode().Perm())
		}
	}
	again, err := passwordFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for user, p := range first {
		if again[user] != p {
			t.Errorf("%s's password changed on restart", user)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "vetting"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := passwordFiles(dir); err == nil {
		t.Error("an empty password file: want an error")
	}
}
