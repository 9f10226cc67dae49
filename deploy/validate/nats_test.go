package validate

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
)

// natsUsers are the users of a deployed NATS server, by name, with the
// permissions it gives them.
type natsUsers map[string]*server.Permissions

// checkNATSUsers compares a deployed server's users with pkg/natsperm: the
// administrator with every right, each service with exactly the publish and
// subscribe rights natsperm.Permissions gives it. A deny list may name more
// than natsperm's (denying more is never a hole: reporting's names a
// pending service's consumer too); an allow list must be the same, since
// more would be a hole and less a service that cannot work.
func checkNATSUsers(t *testing.T, where string, got natsUsers) {
	t.Helper()
	if p, ok := got[natsperm.Admin]; !ok {
		t.Errorf("%s: no %s user (it provisions the stream)", where, natsperm.Admin)
	} else if p != nil {
		t.Errorf("%s: %s has permissions; it must have every right", where, natsperm.Admin)
	}
	for _, name := range natsperm.Services {
		p, ok := got[name]
		if !ok {
			t.Errorf("%s: no NATS user for %s", where, name)
			continue
		}
		want := natsperm.Permissions(name, "RECRUITMENT", "recruitment")
		if p == nil || p.Publish == nil || p.Subscribe == nil {
			t.Errorf("%s: %s has no publish and subscribe permissions: it could publish any event", where, name)
			continue
		}
		if d := setDiff(p.Publish.Allow, want.Publish.Allow); d != "" {
			t.Errorf("%s: %s's publish allow differs from natsperm.Permissions: %s", where, name, d)
		}
		if d := setDiff(p.Subscribe.Allow, want.Subscribe.Allow); d != "" {
			t.Errorf("%s: %s's subscribe allow differs from natsperm.Permissions: %s", where, name, d)
		}
		for _, deny := range want.Publish.Deny {
			if !slices.Contains(p.Publish.Deny, deny) {
				t.Errorf("%s: %s's publish deny lacks %q", where, name, deny)
			}
		}
	}
	for name := range got {
		if name != natsperm.Admin && !slices.Contains(natsperm.Services, name) {
			if _, ok := pending[name]; !ok {
				t.Errorf("%s: NATS user %s is no service of pkg/natsperm", where, name)
			}
		}
	}
}

// setDiff says what is in got and not want, and the other way, or "".
func setDiff(got, want []string) string {
	var extra, missing []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	sort.Strings(extra)
	sort.Strings(missing)
	return fmt.Sprintf("more %q, missing %q", extra, missing)
}

// TestNATSUsersConf: the compose server's users (deploy/nats/users.conf, as
// nats-server itself reads it) have natsperm's permissions, each password
// from the variable compose gives the server.
func TestNATSUsersConf(t *testing.T) {
	// t.Setenv: not parallel. users.conf reads each password from the
	// environment, as the server does.
	names := append([]string{natsperm.Admin}, natsperm.Services...)
	for name := range pending {
		names = append(names, name)
	}
	for _, name := range names {
		t.Setenv("NATS_PASSWORD_"+strings.ToUpper(name), "password-of-"+name)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(repo, "deploy/nats/users.conf"))
	if err != nil {
		t.Fatalf("deploy/nats/users.conf: %v", err)
	}
	got := natsUsers{}
	for _, u := range opts.Users {
		got[u.Username] = u.Permissions
		if u.Password != "password-of-"+u.Username {
			t.Errorf("users.conf: %s's password is not $NATS_PASSWORD_%s", u.Username, strings.ToUpper(u.Username))
		}
	}
	checkNATSUsers(t, "deploy/nats/users.conf", got)

	project := loadCompose(t, exampleEnv(t))
	natsEnv := project.Services["nats"].Environment
	for name := range got {
		if natsEnv["NATS_PASSWORD_"+strings.ToUpper(name)] == nil {
			t.Errorf("compose.yaml: the nats service lacks NATS_PASSWORD_%s, which users.conf reads", strings.ToUpper(name))
		}
	}
}
