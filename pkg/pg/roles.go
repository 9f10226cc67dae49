package pg

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ServiceRole is the PostgreSQL role a service connects as: it logs in,
// owns the service's schema and everything in it (so it runs its own
// migrations at start-up), and has no right on any other schema.
type ServiceRole struct {
	// Name is the role's name, a lower-case identifier like a schema's.
	Name string
	// Schema is the schema the role owns.
	Schema string
	// Password, when not empty, becomes the role's password, sent as a
	// SCRAM-SHA-256 verifier so the clear text reaches neither the server
	// nor its statement log. Empty leaves the role's password as it is
	// (none for a new role: it can then sign in only where pg_hba.conf
	// trusts it or by certificate).
	Password string
	// CreateSchemas grants CREATE on the database: the role may create
	// (and rename) schemas of its own. Reporting's rebuild needs it to
	// build a new projection beside the live one and swap the two.
	CreateSchemas bool
}

// Beginner opens transactions: a *pgxpool.Pool or a *pgx.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// EnsureServiceRole makes the database of admin ready for a service to
// run as r: the role exists and can log in and connect, it owns r.Schema
// (created if missing) and every table, sequence, view and function in it,
// nobody else holds a right on that schema, and no role but the database's
// owner may create objects in the public schema. It converges: run again it
// changes nothing, and run on a schema made by another role (an older
// deployment that connected as the superuser) it hands the schema over.
//
// admin must be allowed to create roles and to give them what it owns:
// the superuser, or a role with CREATEROLE that owns the database. A role
// that already exists with SUPERUSER, CREATEROLE, REPLICATION or BYPASSRLS,
// or as a member of another role, is refused rather than changed: it is
// not a service role.
func EnsureServiceRole(ctx context.Context, admin Beginner, r ServiceRole) error {
	if !schemaName.MatchString(r.Name) || strings.HasPrefix(r.Name, "pg_") {
		return fmt.Errorf("service role: name %q must be lower-case letters, digits and _, not starting pg_", r.Name)
	}
	if !schemaName.MatchString(r.Schema) || strings.HasPrefix(r.Schema, "pg_") || r.Schema == "public" {
		return fmt.Errorf("service role %s: schema %q must be lower-case letters, digits and _, not public nor starting pg_", r.Name, r.Schema)
	}
	err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		if err := lockRoles(ctx, tx); err != nil {
			return err
		}
		role := pgx.Identifier{r.Name}.Sanitize()
		if err := ensureLoginRole(ctx, tx, r.Name, role); err != nil {
			return err
		}
		if r.Password != "" {
			verifier, err := scramVerifier(r.Password)
			if err != nil {
				return err
			}
			// A verifier is base64, digits, '$' and ':', so it needs no
			// escaping; PostgreSQL stores it as given.
			if _, err := tx.Exec(ctx, "ALTER ROLE "+role+" PASSWORD '"+verifier+"'"); err != nil {
				return fmt.Errorf("set password: %w", err)
			}
		}
		var database string
		if err := tx.QueryRow(ctx, "SELECT current_database()").Scan(&database); err != nil {
			return err
		}
		db := pgx.Identifier{database}.Sanitize()
		rights := "GRANT CONNECT, TEMPORARY ON DATABASE " + db + " TO " + role
		if r.CreateSchemas {
			rights = "GRANT CONNECT, TEMPORARY, CREATE ON DATABASE " + db + " TO " + role
		} else if _, err := tx.Exec(ctx, "REVOKE CREATE ON DATABASE "+db+" FROM "+role); err != nil {
			return fmt.Errorf("revoke create on database: %w", err)
		}
		if _, err := tx.Exec(ctx, rights); err != nil {
			return fmt.Errorf("grant on database: %w", err)
		}
		if err := ownSchema(ctx, tx, r); err != nil {
			return err
		}
		// Before PostgreSQL 15 every role could create in public; a service
		// that could would have a second place to write, outside its schema.
		if _, err := tx.Exec(ctx, "REVOKE CREATE ON SCHEMA public FROM PUBLIC"); err != nil {
			return fmt.Errorf("revoke create on schema public: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("service role %s: %w", r.Name, err)
	}
	return nil
}

// DropServiceRole drops role and everything it owns in admin's database
// — its schema and the service's data — and every right it holds there,
// for tests and for taking a service out of service. A role that does
// not exist is not an error.
func DropServiceRole(ctx context.Context, admin Beginner, role string) error {
	err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		if err := lockRoles(ctx, tx); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil || !exists {
			return err
		}
		id := pgx.Identifier{role}.Sanitize()
		if _, err := tx.Exec(ctx, "DROP OWNED BY "+id+" CASCADE"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DROP ROLE "+id)
		return err
	})
	if err != nil {
		return fmt.Errorf("drop role %s: %w", role, err)
	}
	return nil
}

// lockRoles serialises the changes to roles and their rights in tx.
// Grants and revokes rewrite the database's and the public schema's rows:
// two at once (parallel tests, two operators) would fail with "tuple
// concurrently updated" rather than wait.
func lockRoles(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('pg.EnsureServiceRole', 0))")
	return err
}

// ensureLoginRole creates the role, or checks that the existing one is
// fit to be a service's, and lets it log in without creating databases
// or roles.
func ensureLoginRole(ctx context.Context, tx pgx.Tx, name, role string) error {
	var super, createRole, replication, bypassRLS bool
	err := tx.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1`, name).
		Scan(&super, &createRole, &replication, &bypassRLS)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, "CREATE ROLE "+role+" LOGIN NOCREATEDB NOCREATEROLE"); err != nil {
			return fmt.Errorf("create role: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("look up role: %w", err)
	}
	var powers []string
	for _, p := range []struct {
		set  bool
		name string
	}{{super, "SUPERUSER"}, {createRole, "CREATEROLE"}, {replication, "REPLICATION"}, {bypassRLS, "BYPASSRLS"}} {
		if p.set {
			powers = append(powers, p.name)
		}
	}
	if len(powers) > 0 {
		return fmt.Errorf("the existing role has %s: a service must not connect as such a role; choose another name", strings.Join(powers, ", "))
	}
	// A member of another role has that role's rights too.
	groups, err := names(ctx, tx, `SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = $1::regrole ORDER BY 1`, name)
	if err != nil {
		return fmt.Errorf("look up role memberships: %w", err)
	}
	if len(groups) > 0 {
		return fmt.Errorf("the existing role is a member of %s, whose rights it has: a service role must be a member of none; choose another name", strings.Join(groups, ", "))
	}
	if _, err := tx.Exec(ctx, "ALTER ROLE "+role+" LOGIN NOCREATEDB"); err != nil {
		return fmt.Errorf("alter role: %w", err)
	}
	return nil
}

// ownSchema gives the schema, and everything in it that another role
// owns, to role, and takes back every right others were granted on them.
func ownSchema(ctx context.Context, tx pgx.Tx, r ServiceRole) error {
	role, schema := pgx.Identifier{r.Name}.Sanitize(), pgx.Identifier{r.Schema}.Sanitize()
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema+" AUTHORIZATION "+role); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if _, err := tx.Exec(ctx, "ALTER SCHEMA "+schema+" OWNER TO "+role); err != nil {
		return fmt.Errorf("alter schema owner: %w", err)
	}
	// Objects the role does not own yet: tables (with the sequences they
	// own), views, sequences on their own, and functions. The tables come
	// first, so a sequence that follows its table is no longer listed when
	// the sequences are read.
	for _, q := range []struct{ kind, list string }{
		{"TABLE", `SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'f') AND pg_get_userbyid(c.relowner) <> $2`},
		{"VIEW", `SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'v' AND pg_get_userbyid(c.relowner) <> $2`},
		{"MATERIALIZED VIEW", `SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'm' AND pg_get_userbyid(c.relowner) <> $2`},
		{"SEQUENCE", `SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> $2`},
		{"ROUTINE", `SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = $1::regnamespace AND pg_get_userbyid(p.proowner) <> $2`},
		{"TYPE", `SELECT t.oid::regtype::text FROM pg_type t WHERE t.typnamespace = $1::regnamespace AND t.typtype IN ('e', 'r', 'm') AND pg_get_userbyid(t.typowner) <> $2`},
		{"DOMAIN", `SELECT t.oid::regtype::text FROM pg_type t WHERE t.typnamespace = $1::regnamespace AND t.typtype = 'd' AND pg_get_userbyid(t.typowner) <> $2`},
	} {
		objects, err := names(ctx, tx, q.list, r.Schema, r.Name)
		if err != nil {
			return fmt.Errorf("list %s objects in %s: %w", strings.ToLower(q.kind), r.Schema, err)
		}
		for _, o := range objects {
			// regclass and regprocedure print names quoted as needed.
			if _, err := tx.Exec(ctx, "ALTER "+q.kind+" "+o+" OWNER TO "+role); err != nil {
				return fmt.Errorf("alter owner of %s: %w", o, err)
			}
		}
	}
	for _, revoke := range []string{
		"REVOKE ALL ON SCHEMA " + schema + " FROM PUBLIC",
		"REVOKE ALL ON ALL TABLES IN SCHEMA " + schema + " FROM PUBLIC",
		"REVOKE ALL ON ALL SEQUENCES IN SCHEMA " + schema + " FROM PUBLIC",
	} {
		if _, err := tx.Exec(ctx, revoke); err != nil {
			return fmt.Errorf("%s: %w", revoke, err)
		}
	}
	// Rights granted to named roles (a reporting user given SELECT by hand,
	// say) go too: the schema is the service's alone.
	grantees, err := names(ctx, tx, `
		SELECT DISTINCT quote_ident(g.rolname) FROM (
			SELECT (aclexplode(nspacl)).grantee AS oid FROM pg_namespace WHERE nspname = $1
			UNION ALL
			SELECT (aclexplode(relacl)).grantee FROM pg_class WHERE relnamespace = $1::regnamespace
		) a JOIN pg_roles g ON g.oid = a.oid
		WHERE g.rolname <> $2`, r.Schema, r.Name)
	if err != nil {
		return fmt.Errorf("list grantees on %s: %w", r.Schema, err)
	}
	for _, g := range grantees {
		for _, revoke := range []string{
			"REVOKE ALL ON SCHEMA " + schema + " FROM " + g,
			"REVOKE ALL ON ALL TABLES IN SCHEMA " + schema + " FROM " + g,
			"REVOKE ALL ON ALL SEQUENCES IN SCHEMA " + schema + " FROM " + g,
		} {
			if _, err := tx.Exec(ctx, revoke); err != nil {
				return fmt.Errorf("%s: %w", revoke, err)
			}
		}
	}
	return nil
}

// names runs a query of one text column.
func names(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// scramVerifier is the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802 and 7677, PostgreSQL's own format and iteration
// count), computed here as psql's \password does.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifierWithSalt(password, salt, iterations)
}

func scramVerifierWithSalt(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key"))), nil
}

// WithUser returns the connection URL rawURL with its user and password
// replaced (no password if password is empty): the URL a service gets
// from the administrator's once its role exists.
func WithUser(rawURL, user, password string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parse error can quote the URL, password included.
		return "", errors.New("the database URL must be a postgres:// URL")
	}
	q := u.Query()
	if q.Has("user") || q.Has("password") {
		q.Del("user")
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	u.User = url.User(user)
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String(), nil
}
