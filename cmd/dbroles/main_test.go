package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// provision runs dbroles for every service with roles and schemas named
// after prefix, and returns each service's URL. The roles are dropped
// when the test ends.
func provision(t *testing.T, prefix string, extra ...string) map[string]string {
	t.Helper()
	for _, s := range services {
		t.Cleanup(func() { testenv.DropRole(t, prefix+s) })
	}
	args := append([]string{"-role-prefix", prefix, "-urls"}, extra...)
	for _, s := range services {
		args = append(args, s+"="+prefix+s)
	}
	var out, errs bytes.Buffer
	getenv := func(k string) string {
		if k == "ADMIN_DATABASE_URL" {
			return testenv.DatabaseURL()
		}
		return ""
	}
	if err := run(context.Background(), args, getenv, &out, &errs); err != nil {
		t.Fatalf("dbroles: %v\n%s", err, errs.String())
	}
	urls := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		service, url, _ := strings.Cut(line, "=")
		urls[service] = url
	}
	if len(urls) != len(services) {
		t.Fatalf("dbroles -urls printed %q; want one line per service", out.String())
	}
	return urls
}

func TestDBRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := testenv.Name("r_")
	passwords := t.TempDir()
	if err := os.WriteFile(filepath.Join(passwords, "offers"), []byte("offers-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	urls := provision(t, prefix, "-password-dir", passwords)
	// Again, as an operator would: nothing changes, nothing fails.
	if again := provision(t, prefix, "-password-dir", passwords); again["offers"] != urls["offers"] {
		t.Errorf("second run printed %q, first %q", again["offers"], urls["offers"])
	}
	if strings.Contains(urls["offers"], "offers-secret") {
		t.Errorf("-urls printed a password: %s", urls["offers"])
	}

	admin, err := pg.Connect(ctx, testenv.DatabaseURL(), "public")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, s := range services {
		var owner string
		var createDB, hasPassword bool
		err := admin.QueryRow(ctx, `
			SELECT pg_get_userbyid(n.nspowner), has_database_privilege($2, current_database(), 'CREATE'), a.rolpassword IS NOT NULL
			FROM pg_namespace n, pg_authid a WHERE n.nspname = $1 AND a.rolname = $2`, prefix+s, prefix+s).Scan(&owner, &createDB, &hasPassword)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if owner != prefix+s {
			t.Errorf("schema %s owned by %s; want %s", prefix+s, owner, prefix+s)
		}
		if createDB != (s == "reporting") {
			t.Errorf("%s may create schemas: %v; want %v (reporting's rebuild only)", s, createDB, s == "reporting")
		}
		if hasPassword != (s == "offers") {
			t.Errorf("%s has a password: %v; want %v (only offers has a file)", s, hasPassword, s == "offers")
		}
	}

	apps, err := pg.Connect(ctx, urls["applications"], prefix+"applications")
	if err != nil {
		t.Fatal(err)
	}
	defer apps.Close()
	if _, err := apps.Exec(ctx, `CREATE TABLE applications (id int, email text)`); err != nil {
		t.Fatal(err)
	}
	reporting, err := pg.Connect(ctx, urls["reporting"], prefix+"reporting")
	if err != nil {
		t.Fatal(err)
	}
	defer reporting.Close()
	for _, sql := range []string{
		`SELECT email FROM ` + prefix + `applications.applications`,
		`INSERT INTO ` + prefix + `applications.applications VALUES (1, 'x@example.org')`,
	} {
		if _, err := reporting.Exec(ctx, sql); pg.SQLState(err) != pg.InsufficientPrivilege {
			t.Errorf("reporting: %s: %v; want SQLSTATE 42501", sql, err)
		}
	}
}

func TestDBRolesRefusesUnknownServices(t *testing.T) {
	t.Parallel()
	var errs bytes.Buffer
	err := run(context.Background(), []string{"payroll"}, func(string) string { return "" }, &bytes.Buffer{}, &errs)
	if !errors.Is(err, errUsage) || !strings.Contains(errs.String(), `"payroll": the service must be one of`) {
		t.Errorf("dbroles payroll: %v, %q; want a usage error naming the services", err, errs.String())
	}
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "vetting"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errs.Reset()
	err = run(context.Background(), []string{"-password-dir", empty, "vetting"}, func(string) string { return "" }, &bytes.Buffer{}, &errs)
	if !errors.Is(err, errUsage) || !strings.Contains(errs.String(), "is empty") {
		t.Errorf("empty password file: %v, %q; want a usage error", err, errs.String())
	}
}
