// Command dbroles provisions the database for the services: one
// PostgreSQL role per service, owning that service's schema and nothing
// else (pg.EnsureServiceRole). An operator runs it with an administrator's
// connection before the services start, and again whenever in doubt: it
// converges, so a second run changes nothing.
//
//	ADMIN_DATABASE_URL=postgres://admin@db/recruitment dbroles [flags] [SERVICE[=SCHEMA]]...
//
// With no SERVICE it provisions all seven (applications, sifting, offers,
// vetting, reporting, notifier, equality), each in the schema named after it. Each role is
// named -role-prefix followed by the service (recruitment_applications…).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/probation-recruitment/pipeline/pkg/pg"
)

// services are the services with a schema, in the order they start.
var services = []string{"applications", "sifting", "offers", "vetting", "reporting", "notifier", "equality"}

// createsSchemas are the services whose role may create schemas of its
// own: reporting's rebuild replays into a new schema and swaps it in.
var createsSchemas = []string{"reporting"}

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/recruitment?sslmode=disable"

const usage = `usage: dbroles [flags] [SERVICE[=SCHEMA]]...

Creates or updates one PostgreSQL role per service, owning the service's
schema (created if missing) and everything in it, with no right on any
other schema; takes CREATE on the public schema from everyone. Run it with
an administrator's connection (a superuser, or a CREATEROLE role that owns
the database) from ADMIN_DATABASE_URL (default %s).
Running it again changes nothing. SERVICE is one of %s
(default: all), SCHEMA its schema (default: the service's name).

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "dbroles: %v\n", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dbroles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("role-prefix", "recruitment_", "prefix of every role's name")
	passwordDir := fs.String("password-dir", "", "folder with one file per service (`DIR`/applications, …) holding its role's password, as a mounted Kubernetes Secret gives; a service without a file keeps the password its role has (a new role gets none: it signs in only where pg_hba.conf trusts it, or by certificate)")
	printURLs := fs.Bool("urls", false, "print SERVICE=URL for each service: the administrator's URL with the role as user and no password")
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage, defaultAdminURL, strings.Join(services, ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	roles, err := serviceRoles(fs.Args(), *prefix, *passwordDir)
	if err != nil {
		fmt.Fprintf(stderr, "dbroles: %v\n", err)
		return errUsage
	}
	adminURL := getenv("ADMIN_DATABASE_URL")
	if adminURL == "" {
		adminURL = defaultAdminURL
	}
	admin, err := pg.Connect(ctx, adminURL, "public")
	if err != nil {
		return fmt.Errorf("ADMIN_DATABASE_URL: %w", err)
	}
	defer admin.Close()
	for _, r := range roles {
		if err := pg.EnsureServiceRole(ctx, admin, r.ServiceRole); err != nil {
			return err
		}
		rights := "owns schema " + r.Schema
		if r.CreateSchemas {
			rights += " and may create schemas"
		}
		fmt.Fprintf(stderr, "dbroles: role %s %s\n", r.Name, rights)
		if *printURLs {
			u, err := pg.WithUser(adminURL, r.Name, "")
			if err != nil {
				return fmt.Errorf("ADMIN_DATABASE_URL: %w", err)
			}
			fmt.Fprintf(stdout, "%s=%s\n", r.service, u)
		}
	}
	return nil
}

type serviceRole struct {
	pg.ServiceRole
	service string
}

// serviceRoles reads the SERVICE[=SCHEMA] arguments (all services when
// there are none) and each role's password file.
func serviceRoles(args []string, prefix, passwordDir string) ([]serviceRole, error) {
	if len(args) == 0 {
		args = services
	}
	var roles []serviceRole
	for _, arg := range args {
		service, schema, _ := strings.Cut(arg, "=")
		if !slices.Contains(services, service) {
			return nil, fmt.Errorf("%q: the service must be one of %s", arg, strings.Join(services, ", "))
		}
		if schema == "" {
			schema = service
		}
		r := serviceRole{service: service, ServiceRole: pg.ServiceRole{
			Name: prefix + service, Schema: schema, CreateSchemas: slices.Contains(createsSchemas, service),
		}}
		if passwordDir != "" {
			b, err := os.ReadFile(filepath.Join(passwordDir, service))
			switch {
			case errors.Is(err, os.ErrNotExist):
			case err != nil:
				return nil, fmt.Errorf("password of %s: %w", service, err)
			default:
				// A Secret's file often ends with the newline of the
				// editor that wrote it; a password never does.
				r.Password = strings.TrimRight(string(b), "\r\n")
				if r.Password == "" {
					return nil, fmt.Errorf("password of %s: %s is empty", service, filepath.Join(passwordDir, service))
				}
			}
		}
		roles = append(roles, r)
	}
	return roles, nil
}
