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
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/pg"
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
func NATS(t testing.TB) string {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
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
	return ns.ClientURL()
}

// SystemNATSURL is the URL of the machine's NATS server: TEST_NATS_URL, or
// DefaultNATSURL.
func SystemNATSURL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return DefaultNATSURL
}

// Connect opens a JetStream connection to url, closed when the test ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
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
