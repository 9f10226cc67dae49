package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"sigs.k8s.io/yaml"

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

// natsValues mirrors the fields of the official NATS Helm chart's values
// (chart 1.x) that deploy/kubernetes/nats/values.yaml sets; the strict
// decode refuses any other, so a misspelt key is not silently ignored by
// the chart.
type natsValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool     `json:"enabled"`
			Replicas int      `json:"replicas"`
			TLS      *natsTLS `json:"tls,omitempty"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool   `json:"enabled"`
				Dir     string `json:"dir"`
				PVC     struct {
					Enabled bool   `json:"enabled"`
					Size    string `json:"size"`
				} `json:"pvc"`
			} `json:"fileStore"`
			Merge struct {
				SyncInterval string `json:"sync_interval"`
			} `json:"merge"`
		} `json:"jetstream"`
		NATS struct {
			TLS *natsTLS `json:"tls,omitempty"`
		} `json:"nats"`
		Monitor struct {
			Enabled bool `json:"enabled"`
		} `json:"monitor"`
		Merge struct {
			MaxPayload    string `json:"max_payload"`
			Authorization struct {
				Users []struct {
					User        string              `json:"user"`
					Password    string              `json:"password"`
					Permissions *natsYAMLPermission `json:"permissions,omitempty"`
				} `json:"users"`
			} `json:"authorization"`
		} `json:"merge"`
	} `json:"config"`
	Container struct {
		Env map[string]struct {
			ValueFrom struct {
				SecretKeyRef struct {
					Name string `json:"name"`
					Key  string `json:"key"`
				} `json:"secretKeyRef"`
			} `json:"valueFrom"`
		} `json:"env"`
		Merge map[string]any `json:"merge"`
	} `json:"container"`
	PodTemplate struct {
		TopologySpreadConstraints map[string]map[string]any `json:"topologySpreadConstraints"`
	} `json:"podTemplate"`
	PromExporter struct {
		Enabled    bool `json:"enabled"`
		PodMonitor struct {
			Enabled bool `json:"enabled"`
		} `json:"podMonitor"`
	} `json:"promExporter"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
	NATSBox struct {
		Enabled bool `json:"enabled"`
	} `json:"natsBox"`
}

type natsTLS struct {
	Enabled    bool   `json:"enabled"`
	SecretName string `json:"secretName"`
}

type natsYAMLPermission struct {
	Publish struct {
		Allow []string `json:"allow"`
		Deny  []string `json:"deny,omitempty"`
	} `json:"publish"`
	Subscribe struct {
		Allow []string `json:"allow"`
	} `json:"subscribe"`
}

// TestNATSHelmValues: the cluster is 3 JetStream nodes on file storage,
// over TLS, fsyncing every write (docs/operations.md says why), with the
// pipeline's users, each password from the nats-users Secret.
func TestNATSHelmValues(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repo, "deploy/kubernetes/nats/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v natsValues
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		t.Fatalf("deploy/kubernetes/nats/values.yaml: %v", err)
	}
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 {
		t.Errorf("cluster: enabled %v, %d replicas; want a 3-node cluster", c.Cluster.Enabled, c.Cluster.Replicas)
	}
	if !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled || !c.JetStream.FileStore.PVC.Enabled {
		t.Error("want JetStream on file storage on a persistent volume")
	}
	if c.JetStream.Merge.SyncInterval != "always" {
		t.Errorf("jetstream sync_interval = %q, want always (docs/operations.md)", c.JetStream.Merge.SyncInterval)
	}
	if c.NATS.TLS == nil || !c.NATS.TLS.Enabled || c.Cluster.TLS == nil || !c.Cluster.TLS.Enabled {
		t.Error("want TLS for clients and between the nodes")
	}
	got := natsUsers{}
	for _, u := range c.Merge.Authorization.Users {
		var p *server.Permissions
		if u.Permissions != nil {
			p = &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: u.Permissions.Publish.Allow, Deny: u.Permissions.Publish.Deny},
				Subscribe: &server.SubjectPermission{Allow: u.Permissions.Subscribe.Allow},
			}
		}
		got[u.User] = p
		variable := "NATS_PASSWORD_" + strings.ToUpper(u.User)
		if u.Password != "<< $"+variable+" >>" {
			t.Errorf("values.yaml: %s's password is %q, want << $%s >> (from the environment)", u.User, u.Password, variable)
		}
		env, ok := v.Container.Env[variable]
		if !ok || env.ValueFrom.SecretKeyRef.Name != "nats-users" || env.ValueFrom.SecretKeyRef.Key != u.User {
			t.Errorf("values.yaml: container.env %s is not the nats-users Secret's key %s", variable, u.User)
		}
	}
	checkNATSUsers(t, "deploy/kubernetes/nats/values.yaml", got)
}
