package e2e

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// natsProcess is a NATS server run as a process of the test: cmd/devnats,
// with the production users and permissions, on a port and data folder
// that stay the same across restarts. Unlike testenv.NATS, the test can
// kill it (SIGKILL), freeze it (SIGSTOP) and start it again where its
// clients look for it, and lose the end of its data folder.
type natsProcess struct {
	url, addr string
	// store is the JetStream folder; users holds a password file per user.
	store, users string
	args         []string
	// duplicates is the stream's duplicate window, "" for the default; the
	// services must be told it, or they refuse the stream.
	duplicates string
	logs       *syncBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// natsOptions configure startNATSProcess.
type natsOptions struct {
	// duplicateWindow of the stream; zero is the default (10m).
	duplicateWindow time.Duration
	// sync is the server's sync_interval ("always" or a duration); "" is
	// the server's default (2m).
	sync string
}

// startNATSProcess runs devnats on a free loopback port and waits until it
// has provisioned the stream. It is killed when the test ends.
func startNATSProcess(t *testing.T, opts natsOptions) *natsProcess {
	t.Helper()
	dir := t.TempDir()
	n := newNATSNode(t, opts, filepath.Join(dir, "jetstream"), filepath.Join(dir, "users"))
	n.start(t)
	return n
}

// newNATSNode is a devnats process to be started on a free loopback port,
// keeping its streams in store and its users' passwords in users; it is
// killed when the test ends.
func newNATSNode(t *testing.T, opts natsOptions, store, users string, args ...string) *natsProcess {
	t.Helper()
	addr := stableAddr(t)
	n := &natsProcess{url: "nats://" + addr, addr: addr, store: store, users: users, logs: &syncBuffer{}}
	n.args = append([]string{"-addr", addr, "-store", n.store, "-users", n.users}, args...)
	if opts.duplicateWindow != 0 {
		n.duplicates = opts.duplicateWindow.String()
		n.args = append(n.args, "-duplicate-window", n.duplicates)
	}
	if opts.sync != "" {
		n.args = append(n.args, "-sync", opts.sync)
	}
	t.Cleanup(func() {
		n.mu.Lock()
		cmd, exited := n.cmd, n.exited
		n.mu.Unlock()
		if cmd == nil {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("nats %s logs:\n%s", n.addr, n.logs.String())
		}
	})
	return n
}

// start runs the server and waits until it says the stream is provisioned.
func (n *natsProcess) start(t *testing.T) {
	t.Helper()
	n.awaitProvisioned(t, n.launch(t))
}

// launch runs the server and returns how many times it had said the
// stream was provisioned before, for awaitProvisioned.
func (n *natsProcess) launch(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(binary(t, "devnats", "cmd/devnats"), n.args...)
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	before := strings.Count(n.logs.String(), "provisioned")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	return before
}

// awaitProvisioned waits until the launched server says the stream is
// provisioned, once more than before, for a minute (a cluster's server
// waits for the others).
func (n *natsProcess) awaitProvisioned(t *testing.T, before int) {
	t.Helper()
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(n.logs.String(), "provisioned") == before {
		select {
		case <-exited:
			t.Fatalf("nats %s exited before it was ready; logs:\n%s", n.addr, n.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats %s not ready after a minute; logs:\n%s", n.addr, n.logs.String())
		}
	}
}

func (n *natsProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("nats: signal %v: %v", sig, err)
	}
}

// kill ends the server at once, as a crash of the process would: what it
// had written to its files stays, in the operating system's cache if not
// yet on disk.
func (n *natsProcess) kill(t *testing.T) {
	t.Helper()
	n.signal(t, syscall.SIGKILL)
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	<-exited
}

// freeze stops the server (SIGSTOP): its connections stay open and
// nothing answers, as with a server stalled on a full disk or a paused VM.
func (n *natsProcess) freeze(t *testing.T) { t.Helper(); n.signal(t, syscall.SIGSTOP) }

// thaw continues a frozen server.
func (n *natsProcess) thaw(t *testing.T) { t.Helper(); n.signal(t, syscall.SIGCONT) }

// restart starts a killed server again on the same port and data folder.
func (n *natsProcess) restart(t *testing.T) { t.Helper(); n.start(t) }

// snapshot copies the data folder as it stands, the server frozen for the
// copy so that no file is caught half written, and returns the copy.
func (n *natsProcess) snapshot(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "snapshot")
	n.freeze(t)
	defer n.thaw(t)
	if err := os.CopyFS(dst, os.DirFS(n.store)); err != nil {
		t.Fatalf("copy the NATS data folder: %v", err)
	}
	return dst
}

// restore replaces the data folder of a killed server with snapshot: the
// folder loses everything written since it was taken.
func (n *natsProcess) restore(t *testing.T, snapshot string) {
	t.Helper()
	if err := os.RemoveAll(n.store); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(n.store, os.DirFS(snapshot)); err != nil {
		t.Fatalf("restore the NATS data folder: %v", err)
	}
}

// env connects service to the server as its own user.
func (n *natsProcess) env(service string) []string {
	env := []string{"NATS_USER=" + service, "NATS_PASSWORD_FILE=" + filepath.Join(n.users, service)}
	if n.duplicates != "" {
		env = append(env, "NATS_DUPLICATE_WINDOW="+n.duplicates)
	}
	return env
}

// clientURL is the server's URL for the services.
func (n *natsProcess) clientURL() string { return n.url }

// admin connects to the server as the administrator, reconnecting for as
// long as the test runs, across the server's restarts.
func (n *natsProcess) admin(t *testing.T) jetstream.JetStream {
	t.Helper()
	return natsAdmin(t, n.url, n.users, n.logs)
}

// natsAdmin connects to url as the administrator, whose password is in the
// users folder, until the test ends.
func natsAdmin(t *testing.T, url, users string, logs *syncBuffer) jetstream.JetStream {
	t.Helper()
	password, err := os.ReadFile(filepath.Join(users, natsperm.Admin))
	if err != nil {
		t.Fatal(err)
	}
	nc, js, err := stream.Connect(url, t.Name(), stream.Credentials{User: natsperm.Admin, Password: string(password)},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(fmt.Errorf("nats admin: %w", errors.Join(err, errors.New(logs.String()))))
	}
	t.Cleanup(nc.Close)
	return js
}

// natsServers are the NATS server, or cluster, a stack connects to.
type natsServers interface {
	// clientURL is what the services are given as NATS_URL.
	clientURL() string
	// env connects service to the servers as its own user.
	env(service string) []string
	// admin is a JetStream context as the administrator.
	admin(t *testing.T) jetstream.JetStream
}

// natsCluster is a JetStream cluster of devnats processes on loopback,
// the stream provisioned with a replica on each.
type natsCluster struct {
	nodes []*natsProcess
	// names are the nodes' server names, as JetStream names the stream's
	// leader and replicas.
	names []string
	users string
}

// startNATSCluster runs size devnats processes as one JetStream cluster,
// the stream with size replicas, and waits until each has provisioned it.
// The users' passwords are written first, so that every server has the
// same.
func startNATSCluster(t *testing.T, opts natsOptions, size int) *natsCluster {
	t.Helper()
	dir := t.TempDir()
	c := &natsCluster{users: filepath.Join(dir, "users")}
	if err := os.Mkdir(c.users, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, user := range natsperm.Names() {
		if err := os.WriteFile(filepath.Join(c.users, user), []byte(testenv.Name("pw")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	routes := make([]string, size)
	for i := range size {
		routes[i] = "nats://" + stableAddr(t)
	}
	for i := range size {
		others := slices.Concat(routes[:i], routes[i+1:])
		name := fmt.Sprintf("nats-%d", i+1)
		c.names = append(c.names, name)
		c.nodes = append(c.nodes, newNATSNode(t, opts, filepath.Join(dir, name), c.users, "-name", name,
			"-cluster", strings.TrimPrefix(routes[i], "nats://"), "-routes", strings.Join(others, ","), "-replicas", strconv.Itoa(size)))
	}
	before := make([]int, size)
	for i, n := range c.nodes {
		before[i] = n.launch(t)
	}
	for i, n := range c.nodes {
		n.awaitProvisioned(t, before[i])
	}
	return c
}

func (c *natsCluster) clientURL() string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.url
	}
	return strings.Join(urls, ",")
}

func (c *natsCluster) env(service string) []string {
	return append(c.nodes[0].env(service), "NATS_REPLICAS="+strconv.Itoa(len(c.nodes)))
}

func (c *natsCluster) admin(t *testing.T) jetstream.JetStream {
	t.Helper()
	return natsAdmin(t, c.clientURL(), c.users, c.nodes[0].logs)
}

// node is the process of the server named name.
func (c *natsCluster) node(t *testing.T, name string) *natsProcess {
	t.Helper()
	i := slices.Index(c.names, name)
	if i < 0 {
		t.Fatalf("no server %q in the cluster %v", name, c.names)
	}
	return c.nodes[i]
}
