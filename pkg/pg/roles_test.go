package pg_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// connect opens a pool on url confined to schema, closed when the test ends.
func connect(t *testing.T, url, schema string) *pgxpool.Pool {
	t.Helper()
	pool, err := pg.Connect(context.Background(), url, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func admin(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return connect(t, testenv.DatabaseURL(), "public")
}

// wantDenied fails unless sql, run on pool, is refused with SQLSTATE 42501.
func wantDenied(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql)
	if got := pg.SQLState(err); got != pg.InsufficientPrivilege {
		t.Errorf("%s: err = %v (SQLSTATE %q); want SQLSTATE 42501", sql, err, got)
	}
}

// The reporting service's role cannot read or change the applications
// service's candidates, nor write anywhere but its own schema; each role
// migrates and writes its own schema.
func TestServiceRolesAreConfinedToTheirSchemas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	apps := pg.ServiceRole{Name: testenv.Name("r_apps_"), Schema: testenv.Name("t_apps_")}
	reporting := pg.ServiceRole{Name: testenv.Name("r_rep_"), Schema: testenv.Name("t_rep_"), CreateSchemas: true}
	appsPool := connect(t, testenv.ServiceRole(t, apps), apps.Schema)
	repPool := connect(t, testenv.ServiceRole(t, reporting), reporting.Schema)

	table := pg.Migrations{Name: "apps", FS: fstest.MapFS{
		"001_applications.sql": {Data: []byte("CREATE TABLE applications (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text);\n")},
	}}
	if err := pg.Migrate(ctx, appsPool, table); err != nil {
		t.Fatalf("the applications role migrates its own schema: %v", err)
	}
	if _, err := appsPool.Exec(ctx, `INSERT INTO applications (email) VALUES ('someone@example.org')`); err != nil {
		t.Fatalf("the applications role writes its own table: %v", err)
	}
	var owner string
	if err := appsPool.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'applications'`, apps.Schema).Scan(&owner); err != nil || owner != apps.Name {
		t.Errorf("applications table owner = %q, %v; want %s", owner, err, apps.Name)
	}
	if err := pg.Migrate(ctx, repPool, pg.Migrations{Name: "rep", FS: fstest.MapFS{
		"001_counts.sql": {Data: []byte("CREATE TABLE counts (n int);\n")},
	}}); err != nil {
		t.Fatalf("the reporting role migrates its own schema: %v", err)
	}

	other := apps.Schema + ".applications"
	wantDenied(t, repPool, `SELECT * FROM `+other)
	wantDenied(t, repPool, `SELECT count(*) FROM `+other)
	wantDenied(t, repPool, `INSERT INTO `+other+` (email) VALUES ('x@example.org')`)
	wantDenied(t, repPool, `UPDATE `+other+` SET email = 'x@example.org'`)
	wantDenied(t, repPool, `DELETE FROM `+other)
	wantDenied(t, repPool, `DROP TABLE `+other)
	wantDenied(t, repPool, `CREATE TABLE `+apps.Schema+`.planted (n int)`)
	wantDenied(t, repPool, `CREATE TABLE public.planted (n int)`)
	wantDenied(t, repPool, `ALTER SCHEMA `+apps.Schema+` RENAME TO stolen`)
	wantDenied(t, repPool, `SET ROLE `+apps.Name)
	// The other way round too, and the applications role may not make
	// itself a second schema.
	wantDenied(t, appsPool, `SELECT * FROM `+reporting.Schema+`.counts`)
	wantDenied(t, appsPool, `CREATE SCHEMA `+testenv.Name("t_x_"))
	wantDenied(t, appsPool, `CREATE TABLE public.planted (n int)`)

	// Reporting's rebuild builds a schema beside its own and swaps it in.
	rebuilt := reporting.Schema + "_rebuild"
	for _, sql := range []string{
		`CREATE SCHEMA ` + rebuilt,
		`ALTER SCHEMA ` + reporting.Schema + ` RENAME TO ` + reporting.Schema + `_old`,
		`ALTER SCHEMA ` + rebuilt + ` RENAME TO ` + reporting.Schema,
		`DROP SCHEMA ` + reporting.Schema + `_old CASCADE`,
	} {
		if _, err := repPool.Exec(ctx, sql); err != nil {
			t.Errorf("reporting role: %s: %v", sql, err)
		}
	}
}

func TestConnectAsServiceRoleNeedsItsSchema(t *testing.T) {
	t.Parallel()
	r := pg.ServiceRole{Name: testenv.Name("r_"), Schema: testenv.Name("t_")}
	url := testenv.ServiceRole(t, r)
	_, err := pg.Connect(context.Background(), url, testenv.Name("t_missing_"))
	if err == nil || !strings.Contains(err.Error(), "may not create it") {
		t.Errorf("Connect to a schema the role cannot create: err = %v; want one that says so", err)
	}
}

// An older deployment connected as the superuser, which owns the schema
// and its objects and may have granted rights on them: provisioning hands
// everything to the service's role and takes the grants back, and running
// it again changes nothing.
func TestEnsureServiceRoleTakesOverAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	adm := admin(t)
	r := pg.ServiceRole{Name: testenv.Name("r_svc_"), Schema: testenv.Name("t_svc_")}
	snoop := pg.ServiceRole{Name: testenv.Name("r_snoop_"), Schema: testenv.Name("t_snoop_")}
	snoopPool := connect(t, testenv.ServiceRole(t, snoop), snoop.Schema)
	t.Cleanup(func() { testenv.DropRole(t, r.Name) })
	t.Cleanup(func() { _, _ = adm.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+r.Schema+` CASCADE`) })
	s := r.Schema
	if _, err := adm.Exec(ctx, `
		CREATE SCHEMA `+s+`;
		CREATE TABLE `+s+`.cases (id serial PRIMARY KEY, note text);
		CREATE SEQUENCE `+s+`.numbers;
		CREATE VIEW `+s+`.notes AS SELECT note FROM `+s+`.cases;
		CREATE FUNCTION `+s+`.hello(name text) RETURNS text LANGUAGE sql AS $$ SELECT 'hello ' || name $$;
		CREATE TYPE `+s+`.level AS ENUM ('bpss', 'ctc');
		INSERT INTO `+s+`.cases (note) VALUES ('a note');
		GRANT USAGE ON SCHEMA `+s+` TO PUBLIC;
		GRANT SELECT ON ALL TABLES IN SCHEMA `+s+` TO PUBLIC;
		GRANT USAGE ON SCHEMA `+s+` TO `+snoop.Name+`;
		GRANT SELECT ON `+s+`.cases TO `+snoop.Name); err != nil {
		t.Fatal(err)
	}
	var before string
	if err := snoopPool.QueryRow(ctx, `SELECT note FROM `+s+`.cases`).Scan(&before); err != nil {
		t.Fatalf("set-up: the grant lets the other role read: %v", err)
	}

	for i := range 3 {
		if err := pg.EnsureServiceRole(ctx, adm, r); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	var notOwned []string
	rows, err := adm.Query(ctx, `
		SELECT c.relname FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND pg_get_userbyid(c.relowner) <> $2
		UNION ALL SELECT p.proname FROM pg_proc p WHERE p.pronamespace = $1::regnamespace AND pg_get_userbyid(p.proowner) <> $2
		UNION ALL SELECT t.typname FROM pg_type t WHERE t.typnamespace = $1::regnamespace AND pg_get_userbyid(t.typowner) <> $2
		UNION ALL SELECT nspname FROM pg_namespace WHERE nspname = $3 AND pg_get_userbyid(nspowner) <> $2`, s, r.Name, s)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		notOwned = append(notOwned, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(notOwned) > 0 {
		t.Errorf("objects in %s not owned by %s after provisioning: %v", s, r.Name, notOwned)
	}
	wantDenied(t, snoopPool, `SELECT note FROM `+s+`.cases`)
	wantDenied(t, snoopPool, `SELECT note FROM `+s+`.notes`)

	url, err := pg.WithUser(testenv.DatabaseURL(), r.Name, "")
	if err != nil {
		t.Fatal(err)
	}
	own := connect(t, url, s)
	var greeting string
	if _, err := own.Exec(ctx, `INSERT INTO cases (note) VALUES ('another'); SELECT nextval('numbers')`); err != nil {
		t.Errorf("the role writes what it was given: %v", err)
	}
	if err := own.QueryRow(ctx, `SELECT hello(note) FROM notes ORDER BY 1 LIMIT 1`).Scan(&greeting); err != nil || greeting != "hello a note" {
		t.Errorf("the role reads its view through its function: %q, %v", greeting, err)
	}
	if _, err := own.Exec(ctx, `ALTER TYPE level ADD VALUE 'sc'`); err != nil {
		t.Errorf("the role alters its type: %v", err)
	}
}

func TestEnsureServiceRoleRefusesPowerfulRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	adm := admin(t)
	name := testenv.Name("r_power_")
	t.Cleanup(func() { testenv.DropRole(t, name) })
	if _, err := adm.Exec(ctx, `CREATE ROLE `+name+` LOGIN CREATEROLE`); err != nil {
		t.Fatal(err)
	}
	schema := testenv.Name("t_power_")
	err := pg.EnsureServiceRole(ctx, adm, pg.ServiceRole{Name: name, Schema: schema})
	if err == nil || !strings.Contains(err.Error(), "CREATEROLE") {
		t.Errorf("EnsureServiceRole on a CREATEROLE role: err = %v; want a refusal naming CREATEROLE", err)
	}
	var created bool
	if err := adm.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&created); err != nil || created {
		t.Errorf("schema created after the refusal: %v, %v", created, err)
	}
	member := testenv.Name("r_member_")
	t.Cleanup(func() { testenv.DropRole(t, member) })
	if _, err := adm.Exec(ctx, `CREATE ROLE `+member+` LOGIN IN ROLE pg_read_all_data`); err != nil {
		t.Fatal(err)
	}
	if err := pg.EnsureServiceRole(ctx, adm, pg.ServiceRole{Name: member, Schema: schema}); err == nil || !strings.Contains(err.Error(), "member of pg_read_all_data") {
		t.Errorf("EnsureServiceRole on a member of pg_read_all_data: err = %v; want a refusal naming the group", err)
	}
	if err := pg.EnsureServiceRole(ctx, adm, pg.ServiceRole{Name: "postgres", Schema: schema}); err == nil || !strings.Contains(err.Error(), "SUPERUSER") {
		t.Errorf("EnsureServiceRole on the superuser: err = %v; want a refusal naming SUPERUSER", err)
	}
	for _, bad := range []pg.ServiceRole{
		{Name: "Bad-Name", Schema: "ok"}, {Name: "pg_monitor", Schema: "ok"}, {Name: "ok", Schema: "public"},
		{Name: "ok", Schema: "x; DROP TABLE y"}, {Name: `a"b`, Schema: "ok"},
	} {
		if err := pg.EnsureServiceRole(ctx, adm, bad); err == nil {
			t.Errorf("EnsureServiceRole(%+v): want an error", bad)
		}
	}
}

// The password reaches PostgreSQL as a SCRAM-SHA-256 verifier, which it
// stores as given; the verifier is the one PostgreSQL itself computes from
// the same password and salt; and a second run with a new password
// replaces it.
func TestEnsureServiceRolePassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	adm := admin(t)
	r := pg.ServiceRole{Name: testenv.Name("r_pw_"), Schema: testenv.Name("t_pw_"), Password: "correct horse battery staple"}
	url := testenv.ServiceRole(t, r)
	if !strings.Contains(url, r.Name+":correct%20horse") {
		t.Errorf("WithUser URL %q does not carry the role and its password", url)
	}
	stored := func(role string) string {
		var v string
		if err := adm.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := stored(r.Name)
	if !strings.HasPrefix(first, "SCRAM-SHA-256$4096:") || strings.Contains(first, "horse") {
		t.Fatalf("stored password = %q; want a SCRAM-SHA-256 verifier", first)
	}

	// PostgreSQL's own verifier of a password, and ours with its salt.
	ref := testenv.Name("r_ref_")
	t.Cleanup(func() { testenv.DropRole(t, ref) })
	if _, err := adm.Exec(ctx, `SET password_encryption = 'scram-sha-256'; CREATE ROLE `+ref+` PASSWORD 'correct horse battery staple'`); err != nil {
		t.Fatal(err)
	}
	want := stored(ref)
	iterations, salt := parseVerifier(t, want)
	got, err := pg.ScramVerifierWithSalt(r.Password, salt, iterations)
	if err != nil || got != want {
		t.Errorf("our verifier with PostgreSQL's salt = %q, %v; PostgreSQL's = %q", got, err, want)
	}
	ourIter, ourSalt := parseVerifier(t, first)
	if again, _ := pg.ScramVerifierWithSalt(r.Password, ourSalt, ourIter); again != first {
		t.Errorf("stored verifier %q is not the password's (%q)", first, again)
	}

	r.Password = "another"
	if err := pg.EnsureServiceRole(ctx, adm, r); err != nil {
		t.Fatal(err)
	}
	if second := stored(r.Name); second == first || !strings.HasPrefix(second, "SCRAM-SHA-256$") {
		t.Errorf("password after a change = %q; want a new verifier", second)
	}
	r.Password = ""
	before := stored(r.Name)
	if err := pg.EnsureServiceRole(ctx, adm, r); err != nil {
		t.Fatal(err)
	}
	if after := stored(r.Name); after != before {
		t.Errorf("a run without a password changed the stored one")
	}
}

// parseVerifier reads SCRAM-SHA-256$<iterations>:<salt>$<stored>:<server>.
func parseVerifier(t *testing.T, v string) (int, []byte) {
	t.Helper()
	head, _, ok := strings.Cut(strings.TrimPrefix(v, "SCRAM-SHA-256$"), "$")
	iter, salt64, ok2 := strings.Cut(head, ":")
	n, err := strconv.Atoi(iter)
	salt, err2 := base64.StdEncoding.DecodeString(salt64)
	if !ok || !ok2 || err != nil || err2 != nil {
		t.Fatalf("not a SCRAM verifier: %q", v)
	}
	return n, salt
}

func TestWithUser(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, user, password, want string }{
		{"postgres://postgres@127.0.0.1:5432/recruitment?sslmode=disable", "recruitment_offers", "", "postgres://recruitment_offers@127.0.0.1:5432/recruitment?sslmode=disable"},
		{"postgresql://admin:s3cret@db/x?sslmode=verify-full", "r", "p@ss", "postgresql://r:p%40ss@db/x?sslmode=verify-full"},
		{"postgres://db/x?user=admin&password=s3cret&sslmode=require", "r", "", "postgres://r@db/x?sslmode=require"},
	} {
		got, err := pg.WithUser(tt.in, tt.user, tt.password)
		if err != nil || got != tt.want {
			t.Errorf("WithUser(%q, %q) = %q, %v; want %q", tt.in, tt.user, got, err, tt.want)
		}
	}
	_, err := pg.WithUser("host=db user=admin password=s3cret", "r", "")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("WithUser(keyword DSN): err = %v; want an error without the password", err)
	}
}
