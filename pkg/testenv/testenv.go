// Package testenv gives each test its own data on the real servers: a fresh
// PostgreSQL schema, and a JetStream server in-process or a uniquely named
// stream on the system NATS. Everything is removed when the test ends, so
// tests run in parallel and in any order.
//
// It also holds the few checks that the tests of several packages share:
// Eventually for an asynchronous effect, WantStatus and WantField for gRPC
// errors, OutboxEvents for what a service wrote to its outbox, and a Clock
// the test moves.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
)

// DefaultDatabaseURL is the local PostgreSQL that tests use unless
// TEST_DATABASE_URL says otherwise.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultNATSURL is the system NATS server used by SystemNATS unless
// TEST_NATS_URL says otherwise.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// DatabaseURL is the PostgreSQL URL tests connect to.
func DatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// Name returns a random lower-case name with prefix, unique enough to keep
// parallel tests apart.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Schema creates a fresh schema and returns a pool confined to it (see
// pg.Connect) and its name. The schema is dropped when the test ends.
func Schema(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := Name("t_")
	pool, err := pg.Connect(ctx, DatabaseURL(), schema)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (start it with `make services-up`): %v", redact(DatabaseURL()), err)
	}
	t.Cleanup(func() {
		pool.Close()
		drop, err := pg.Connect(context.Background(), DatabaseURL(), "public")
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer drop.Close()
		if _, err := drop.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return pool, schema
}

func redact(url string) string {
	if i := strings.Index(url, "@"); i > 0 {
		if j := strings.Index(url, "://"); j > 0 && j < i {
			return url[:j+3] + "…" + url[i:]
		}
	}
	return url
}

// NATS starts a current nats-server in-process with JetStream on a random
// loopback port, storing under a temporary folder, and returns its URL.
// The server shuts down when the test ends.
//
// It runs with the pipeline's NATS users and permissions (pkg/natsperm),
// for the default stream RECRUITMENT and prefix recruitment, which it
// creates as the administrator would: a service connected with
// ConnectAs, NATSCredentials or NATSEnv works only if it keeps to its
// permissions. Connect connects as the administrator.
func NATS(t testing.TB) string {
	t.Helper()
	return natsOn(t, server.RANDOM_PORT)
}

// NATSOn is NATS listening on port of 127.0.0.1, for a test that needs the
// server to come up where a client already looks for it.
func NATSOn(t testing.TB, port int) string {
	t.Helper()
	return natsOn(t, port)
}

func natsOn(t testing.TB, port int) string {
	t.Helper()
	sc := stream.Config{}.WithDefaults()
	passwords := map[string]string{}
	for _, name := range natsperm.Names() {
		passwords[name] = natsPassword(name)
	}
	users, err := natsperm.Users(sc.Name, sc.SubjectPrefix, passwords)
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
		Users:     users,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("start nats-server: not ready after 10s")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	url := ns.ClientURL()
	inProcess.Store(url, true)
	_, js := Connect(t, url)
	if _, err := stream.Ensure(context.Background(), js, sc); err != nil {
		t.Fatalf("provision the stream: %v", err)
	}
	return url
}

// inProcess holds the URLs of the servers NATS started, which need a user.
var inProcess sync.Map

// natsPassword is user's password on the tests' servers: fixed, for
// servers that listen on loopback and live as long as a test.
func natsPassword(user string) string {
	return "test-password-" + user
}

// NATSCredentials are user's credentials (natsperm.Admin, or a service)
// on a server NATS started, with the service's inbox prefix.
func NATSCredentials(user string) stream.Credentials {
	c := stream.Credentials{User: user, Password: natsPassword(user)}
	if user != natsperm.Admin {
		c.InboxPrefix = stream.InboxPrefix(user)
	}
	return c
}

// NATSEnv is the environment that makes a service process (config.Common)
// connect to a server NATS started as user, its password in a file.
func NATSEnv(t testing.TB, user string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "nats-password")
	if err := os.WriteFile(file, []byte(natsPassword(user)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"NATS_USER=" + user, "NATS_PASSWORD_FILE=" + file}
}

// ConnectAs opens a JetStream connection to a server NATS started, as
// service, closed when the test ends: what the service itself may do.
func ConnectAs(t testing.TB, url, service string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return connect(t, url, NATSCredentials(service))
}

// SystemNATSURL is the URL of the machine's NATS server: TEST_NATS_URL, or
// DefaultNATSURL.
func SystemNATSURL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return DefaultNATSURL
}

// Connect opens a JetStream connection to url, closed when the test ends:
// as the administrator to a server NATS started, anonymously to another.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	var creds stream.Credentials
	if _, ok := inProcess.Load(url); ok {
		creds = NATSCredentials(natsperm.Admin)
	}
	return connect(t, url, creds)
}

func connect(t testing.TB, url string, creds stream.Credentials) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opts := []nats.Option{nats.Name(t.Name())}
	if creds.User != "" {
		opts = append(opts, nats.UserInfo(creds.User, creds.Password))
	}
	if creds.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(creds.InboxPrefix))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("NATS is not reachable at %s (start it with `make services-up`): %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// ServiceRole provisions r as production does (pg.EnsureServiceRole, with
// the test's own unique name and schema) and returns a URL that connects
// as it. The role, its schema and its rights are dropped when the test
// ends.
func ServiceRole(t testing.TB, r pg.ServiceRole) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pg.Connect(ctx, DatabaseURL(), "public")
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (start it with `make services-up`): %v", redact(DatabaseURL()), err)
	}
	defer admin.Close()
	// Registered first, so that it runs after the cleanups of whatever
	// the test connects as the role.
	t.Cleanup(func() { DropRole(t, r.Name) })
	if err := pg.EnsureServiceRole(ctx, admin, r); err != nil {
		t.Fatal(err)
	}
	url, err := pg.WithUser(DatabaseURL(), r.Name, r.Password)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// DropRole drops role with everything it owns in the test database (its
// schema included) and every right it was granted.
func DropRole(t testing.TB, role string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pg.Connect(ctx, DatabaseURL(), "public")
	if err != nil {
		t.Logf("drop role %s: %v", role, err)
		return
	}
	defer admin.Close()
	if err := pg.DropServiceRole(ctx, admin, role); err != nil {
		t.Errorf("%v", err)
	}
}
