package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/stream"
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

// TestProvisionRemote: -provision creates the stream on a running server
// as the administrator, and is refused with a wrong password.
func TestProvisionRemote(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	passwords, err := passwordFiles(filepath.Join(dir, "users"))
	if err != nil {
		t.Fatal(err)
	}
	users, err := natsperm.Users("RECRUITMENT", "recruitment", passwords)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"), Users: users, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	sc := stream.Config{Name: "RECRUITMENT", SubjectPrefix: "recruitment", Replicas: 1}

	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := provisionRemote(ns.ClientURL(), wrong, "", sc); err == nil {
		t.Error("a wrong administrator password: want an error")
	}
	if err := provisionRemote(ns.ClientURL(), "", "", sc); err == nil || !strings.Contains(err.Error(), "-admin-password-file") {
		t.Errorf("no password file: err = %v, want one naming -admin-password-file", err)
	}

	if err := provisionRemote(ns.ClientURL(), filepath.Join(dir, "users", natsperm.Admin), "", sc); err != nil {
		t.Fatal(err)
	}
	// A service may now find the stream it may only read.
	nc, js, err := stream.Connect(ns.ClientURL(), "vetting", stream.Credentials{User: "vetting", Password: passwords["vetting"], InboxPrefix: stream.InboxPrefix("vetting")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := stream.Ensure(ctx, js, sc); err != nil {
		t.Errorf("the service's view of the provisioned stream: %v", err)
	}
}

// TestParseCluster: -cluster, -cluster-name and -routes are checked before
// the server starts; -routes alone is refused (it would be ignored).
func TestParseCluster(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, addr, clusterName, routes string
		wantRoutes                      int
		bad                             string
	}{
		{name: "devnats"},
		{name: "n1", addr: "127.0.0.1:6222", clusterName: "c", routes: "nats://127.0.0.1:6223,nats://127.0.0.1:6224", wantRoutes: 2},
		{name: "n1", addr: "127.0.0.1:6222", clusterName: "c"},
		{name: "", bad: "-name"},
		{name: "n1", routes: "nats://127.0.0.1:6223", bad: "-routes"},
		{name: "n1", addr: "6222", clusterName: "c", bad: "-cluster"},
		{name: "n1", addr: "127.0.0.1:6222", bad: "-cluster-name"},
		{name: "n1", addr: "127.0.0.1:6222", clusterName: "c", routes: "127.0.0.1:6223", bad: "-routes"},
	} {
		cl, err := parseCluster(c.name, c.addr, c.clusterName, c.routes)
		switch {
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("parseCluster(%q, %q, %q, %q) = %v; want an error naming %s", c.name, c.addr, c.clusterName, c.routes, err, c.bad)
		case c.bad == "" && err != nil:
			t.Errorf("parseCluster(%q, %q, %q, %q): %v", c.name, c.addr, c.clusterName, c.routes, err)
		case c.bad == "" && len(cl.routes) != c.wantRoutes:
			t.Errorf("parseCluster(..., %q): %d routes; want %d", c.routes, len(cl.routes), c.wantRoutes)
		}
	}
}
