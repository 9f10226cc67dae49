package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

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

// TestParseSync: -sync reads as nats-server's sync_interval does, and
// anything else is refused before the server starts.
func TestParseSync(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in       string
		interval time.Duration
		always   bool
		bad      bool
	}{
		{in: ""},
		{in: "always", always: true},
		{in: "1s", interval: time.Second},
		{in: "2m", interval: 2 * time.Minute},
		{in: "never", bad: true},
		{in: "0s", bad: true},
		{in: "-1s", bad: true},
	} {
		interval, always, err := parseSync(c.in)
		if (err != nil) != c.bad || interval != c.interval || always != c.always {
			t.Errorf("parseSync(%q) = %v, %v, %v; want %v, %v, error %v", c.in, interval, always, err, c.interval, c.always, c.bad)
		}
	}
}
