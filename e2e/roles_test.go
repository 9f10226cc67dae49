package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// provisionRoles runs cmd/dbroles as an operator does, giving every
// service a role named like its schema (prefix_NAME), and returns the URL
// each service connects with. The roles, and their schemas, are dropped
// when the test ends, after the services (whose cleanups run first).
func provisionRoles(t *testing.T, prefix string) map[string]string {
	t.Helper()
	args := []string{"-role-prefix", prefix + "_", "-urls"}
	for _, name := range services {
		args = append(args, name+"="+prefix+"_"+name)
		t.Cleanup(func() { testenv.DropRole(t, prefix+"_"+name) })
	}
	cmd := exec.Command(binary(t, "dbroles", "cmd/dbroles"), args...)
	cmd.Env = append(os.Environ(), "ADMIN_DATABASE_URL="+testenv.DatabaseURL())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dbroles: %v\n%s", err, stderr.String())
	}
	urls := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		name, url, _ := strings.Cut(line, "=")
		urls[name] = url
	}
	for _, name := range services {
		if urls[name] == "" {
			t.Fatalf("dbroles printed no URL for %s: %q", name, stdout.String())
		}
	}
	return urls
}

// Every service migrates its schema and runs as its own role, and the
// reporting service's role cannot read the candidates.
func TestServicesRunAsTheirOwnRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := start(t)
	admin, err := pg.Connect(ctx, testenv.DatabaseURL(), "public")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, name := range services {
		role := st.prefix + "_" + name
		var tables, foreign int
		err := admin.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE tableowner = $1), count(*) FILTER (WHERE tableowner <> $1)
			FROM pg_tables WHERE schemaname = $1`, role).Scan(&tables, &foreign)
		if err != nil {
			t.Fatal(err)
		}
		if tables == 0 || foreign > 0 {
			t.Errorf("%s's schema: %d tables owned by %s, %d by another role; want its migrations, all its own", name, tables, role, foreign)
		}
		var conns int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, role).Scan(&conns); err != nil || conns == 0 {
			t.Errorf("%s: %d connections as %s (%v); want the service's pool", name, conns, role, err)
		}
	}
	reporting, err := pg.Connect(ctx, st.dbURLs["reporting"], st.prefix+"_reporting")
	if err != nil {
		t.Fatal(err)
	}
	defer reporting.Close()
	for _, sql := range []string{
		`SELECT candidate_email FROM ` + st.prefix + `_applications.applications`,
		`SELECT count(*) FROM ` + st.prefix + `_applications.applications`,
		`INSERT INTO ` + st.prefix + `_applications.applications DEFAULT VALUES`,
		`SELECT count(*) FROM ` + st.prefix + `_vetting.cases`,
	} {
		if _, err := reporting.Exec(ctx, sql); pg.SQLState(err) != pg.InsufficientPrivilege {
			t.Errorf("as reporting's role: %s: %v; want SQLSTATE 42501", sql, err)
		}
	}
}
