package validate

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// repo is the repository's root, from this package's folder.
const repo = "../.."

// pending are services whose manifests may land before their code (their
// folder under services/, their NATS user), by name with the branch that
// brings them: tolerated missing, and checked like any other once their
// folder exists; delete an entry after its merge. None now.
var pending = map[string]string{}

// serviceDirs are the folders under services/: every one is a deployable
// service.
func serviceDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repo, "services"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 6 {
		t.Fatalf("services/ has %v; want at least the six services", names)
	}
	return names
}

// exampleEnv is deploy/.env.example with every empty value filled in, as an
// operator's deploy/.env would be.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repo, "deploy/.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env.example: %q is not NAME=value", line)
		}
		if value == "" {
			value = "example-" + strings.ToLower(name)
		}
		env[name] = value
	}
	return env
}

func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repo, "deploy/compose.yaml")},
		cli.WithName("recruitment"), cli.WithEnv(list), cli.WithDiscardEnvFile, cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("deploy/compose.yaml does not load: %v", err)
	}
	return project
}

// dockerfileTargets are the stage names of deploy/Dockerfile.
func dockerfileTargets(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "deploy/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, m := range regexp.MustCompile(`(?mi)^FROM\s+\S+\s+AS\s+(\S+)\s*$`).FindAllStringSubmatch(string(b), -1) {
		targets = append(targets, m[1])
	}
	return targets
}

// TestComposeLoads: the file loads with the Compose specification's own
// parser, every variable it uses is in .env.example, and a required one
// left out of deploy/.env stops it with that variable's name.
func TestComposeLoads(t *testing.T) {
	t.Parallel()
	env := exampleEnv(t)
	loadCompose(t, env)

	b, err := os.ReadFile(filepath.Join(repo, "deploy/compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)`).FindAllStringSubmatch(string(b), -1) {
		if _, ok := env[m[1]]; !ok {
			t.Errorf("compose.yaml uses ${%s}, which deploy/.env.example does not list", m[1])
		}
	}

	delete(env, "NATS_PASSWORD_VETTING")
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repo, "deploy/compose.yaml")}, cli.WithName("recruitment"), cli.WithEnv(list), cli.WithDiscardEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "NATS_PASSWORD_VETTING") {
		t.Errorf("without NATS_PASSWORD_VETTING: err = %v, want one naming it", err)
	}
}

// TestComposeServices: every service of the repository runs, from an image
// built by a target the Dockerfile has, as its own database role and NATS
// user, with a health check; only one-shot jobs have none.
func TestComposeServices(t *testing.T) {
	t.Parallel()
	project := loadCompose(t, exampleEnv(t))
	targets := dockerfileTargets(t)
	if len(targets) == 0 {
		t.Fatal("deploy/Dockerfile names no stage (FROM … AS name)")
	}
	want := serviceDirs(t)
	for name := range pending {
		if !slices.Contains(want, name) {
			want = append(want, name)
		}
	}
	jobs := map[string]bool{}
	for _, s := range project.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				jobs[dep] = true
			}
		}
	}
	for _, name := range want {
		s, ok := project.Services[name]
		if !ok {
			t.Errorf("services/%s is not in deploy/compose.yaml", name)
			continue
		}
		if s.Build == nil || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
			t.Errorf("%s: want build args SERVICE=%s", name, name)
		}
		if name == "dashboard" {
			continue
		}
		if got := s.Environment["NATS_USER"]; got == nil || *got != name {
			t.Errorf("%s: NATS_USER = %v, want %s (its own NATS user)", name, got, name)
		}
		if got := s.Environment["DATABASE_URL"]; got == nil {
			t.Errorf("%s: no DATABASE_URL", name)
		} else if u, err := url.Parse(*got); err != nil || u.User.Username() != "recruitment_"+name {
			t.Errorf("%s: DATABASE_URL's user is not recruitment_%s (its own role, made by db-roles)", name, name)
		}
	}
	for name, s := range project.Services {
		if s.Build != nil {
			if !slices.Contains(targets, s.Build.Target) {
				t.Errorf("%s: build target %q is not a stage of deploy/Dockerfile (%v)", name, s.Build.Target, targets)
			}
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: dockerfile: %v", name, err)
			}
			if arg := s.Build.Args["SERVICE"]; arg != nil {
				_, isPending := pending[*arg]
				if _, err := os.Stat(filepath.Join(repo, "services", *arg, "cmd", *arg)); err != nil && !isPending {
					t.Errorf("%s: SERVICE=%s has no services/%s/cmd/%s to build", name, *arg, *arg, *arg)
				}
			}
		}
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither an image nor a build", name)
		}
		if !jobs[name] && s.HealthCheck == nil {
			t.Errorf("%s: no health check (only one-shot jobs may go without)", name)
		}
		if strings.HasPrefix(s.Image, "recruitment/") {
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("%s: want read_only, cap_drop ALL and no-new-privileges", name)
			}
		}
	}
	for _, job := range []string{"db-roles", "stream"} {
		if !jobs[job] {
			t.Errorf("no service waits for the one-shot %s to complete", job)
		}
	}
}

// TestComposePublishesOnlyOnLoopback: a published port bound to every
// interface would serve the network; compose binds each to 127.0.0.1.
func TestComposePublishesOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	project := loadCompose(t, exampleEnv(t))
	published := 0
	for name, s := range project.Services {
		for _, p := range s.Ports {
			published++
			if p.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q; want 127.0.0.1", name, p.Target, p.HostIP)
			}
		}
		if name == "postgres" || name == "nats" {
			if len(s.Ports) > 0 {
				t.Errorf("%s is published; only the compose network should reach it", name)
			}
		}
	}
	if published == 0 {
		t.Error("nothing published: want each gRPC port and the dashboard on 127.0.0.1")
	}
}

// TestComposeSecretsNotInline: passwords and keys come from deploy/.env,
// never written in the file.
func TestComposeSecretsNotInline(t *testing.T) {
	t.Parallel()
	project := loadCompose(t, exampleEnv(t))
	for name, s := range project.Services {
		for k, v := range s.Environment {
			if v == nil {
				continue
			}
			secretish := strings.Contains(k, "PASSWORD") && !strings.HasSuffix(k, "_FILE") || strings.HasSuffix(k, "SECRET") || strings.HasSuffix(k, "SESSION_KEY")
			if secretish && !strings.Contains(*v, "example-") {
				t.Errorf("%s: %s is written in compose.yaml; take it from deploy/.env", name, k)
			}
		}
	}
	for name, sec := range project.Secrets {
		if sec.Environment == "" {
			t.Errorf("secret %s: want it from a deploy/.env variable (environment:)", name)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(repo, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ignore), "/deploy/.env\n") {
		t.Error(".gitignore does not ignore /deploy/.env")
	}
	dockerignore, err := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", "deploy/.env", ".data"} {
		if !slices.Contains(strings.Split(string(dockerignore), "\n"), p) {
			t.Errorf(".dockerignore does not leave out %s", p)
		}
	}
}
