package validate

import (
	"bytes"
	"debug/elf"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// An image build, as far as this machine can go: no container registry is
// reachable here, so the base images (golang, distroless) cannot be
// pulled and `docker build` cannot run. What can be checked is everything
// the repository decides: the Dockerfile is read by BuildKit's own parser,
// and the stages a compose image depends on are run in order on a sandbox
// folder — WORKDIR, ENV, ARG from the compose build args, COPY of the
// context as .dockerignore filters it, each RUN through sh with the
// stage's absolute paths mapped into the sandbox, and the Go toolchain the
// golang base image's tag names (GO_VERSION). The final stage's COPY
// --from and ENTRYPOINT are then checked against what the build left: the
// entrypoint exists, every binary is a static executable (the distroless
// static base has no C library), and USER is numeric. A RUN that fails, a
// package .dockerignore leaves out, a missing --build-arg or a binary that
// needs cgo fails the test as it would fail the image.

// dockerfile is deploy/Dockerfile parsed into its stages, with the ARGs
// declared before the first FROM.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs map[string]string
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "deploy/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ast, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("deploy/Dockerfile: %v", err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatalf("deploy/Dockerfile: %v", err)
	}
	df := dockerfile{stages: stages, metaArgs: map[string]string{}}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			df.metaArgs[kv.Key] = kv.ValueString()
		}
	}
	return df
}

func (df dockerfile) stage(name string) (instructions.Stage, bool) {
	for _, s := range df.stages {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return instructions.Stage{}, false
}

// imageBuild runs one image's stages in a sandbox.
type imageBuild struct {
	t       *testing.T
	df      dockerfile
	args    map[string]string     // the compose file's build args
	sandbox string                // the stages' file systems, one folder each
	built   map[string]stageState // by stage name
}

// stageState is what a built stage leaves for the stages derived from it.
type stageState struct {
	root    string // its file system, a folder in the sandbox
	workdir string
	env     map[string]string
}

// run builds stage name (and, first, the stages it derives from or copies
// from), returning the folder holding its file system.
func (b *imageBuild) run(name string) string {
	b.t.Helper()
	if done, ok := b.built[name]; ok {
		return done.root
	}
	st, ok := b.df.stage(name)
	if !ok {
		b.t.Fatalf("no stage %q in deploy/Dockerfile", name)
	}
	// A stage's folder is the same in every run and for every image, so
	// the go command's build cache (whose keys hold the source folder)
	// serves what an earlier image or run compiled, as BuildKit's layer
	// cache would; images are built one after another.
	root := filepath.Join(b.sandbox, name)
	if err := os.RemoveAll(root); err != nil {
		b.t.Fatal(err)
	}
	env := map[string]string{}
	workdir := "/"
	base := os.Expand(st.BaseName, func(k string) string { return b.df.metaArgs[k] })
	switch {
	case strings.HasPrefix(base, "golang:"):
		// The golang image: its toolchain is the tag's; here the go
		// command fetches that toolchain (GOTOOLCHAIN, below).
		env["GOTOOLCHAIN"] = "go" + strings.TrimPrefix(base, "golang:")
		if err := os.MkdirAll(root, 0o755); err != nil {
			b.t.Fatal(err)
		}
	case strings.Contains(base, "/") || strings.Contains(base, ":"):
		// Any other registry image: its files are not ours to check.
		if err := os.MkdirAll(root, 0o755); err != nil {
			b.t.Fatal(err)
		}
	default:
		if err := os.CopyFS(root, os.DirFS(b.run(base))); err != nil {
			b.t.Fatal(err)
		}
		parent := b.built[base]
		env = maps.Clone(parent.env)
		workdir = parent.workdir
	}
	for _, cmd := range st.Commands {
		switch c := cmd.(type) {
		case *instructions.WorkdirCommand:
			workdir = path.Join(workdir, c.Path)
			if err := os.MkdirAll(filepath.Join(root, workdir), 0o755); err != nil {
				b.t.Fatal(err)
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if kv.Key == "GOTOOLCHAIN" && kv.Value == "local" {
					// "local" is the image's own toolchain, which is
					// the tag's: keep the one the base chose.
					continue
				}
				env[kv.Key] = kv.Value
			}
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				v, ok := b.args[kv.Key]
				if !ok {
					v = kv.ValueString()
				}
				env[kv.Key] = v
			}
		case *instructions.CopyCommand:
			b.copy(c, root, workdir)
		case *instructions.RunCommand:
			b.shell(c, root, workdir, env)
		case *instructions.UserCommand:
			if !regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`).MatchString(c.User) {
				b.t.Errorf("stage %s: USER %q is not numeric; Kubernetes cannot verify runAsNonRoot", name, c.User)
			}
		case *instructions.EntrypointCommand:
			if len(c.CmdLine) == 0 || c.PrependShell {
				b.t.Errorf("stage %s: ENTRYPOINT %v: want the exec form (the base image has no shell)", name, c.CmdLine)
				continue
			}
			if _, err := os.Stat(filepath.Join(root, c.CmdLine[0])); err != nil {
				b.t.Errorf("stage %s: ENTRYPOINT %s is not in the image", name, c.CmdLine[0])
			}
		}
	}
	b.built[name] = stageState{root: root, workdir: workdir, env: env}
	return root
}

// copy does COPY: from the build context (the repository's root, filtered
// by .dockerignore) or from another stage.
func (b *imageBuild) copy(c *instructions.CopyCommand, root, workdir string) {
	b.t.Helper()
	dest := c.DestPath
	if !path.IsAbs(dest) {
		dest = path.Join(workdir, dest)
	}
	for _, src := range c.SourcePaths {
		if c.From != "" {
			from := b.run(c.From)
			if err := os.CopyFS(filepath.Join(root, dest), os.DirFS(filepath.Join(from, src))); err != nil {
				b.t.Fatalf("COPY --from=%s %s %s: %v", c.From, src, dest, err)
			}
			continue
		}
		if src != "." {
			b.t.Fatalf("COPY %s: only the whole context (.) is handled here", src)
		}
		copyContext(b.t, filepath.Join(root, dest))
	}
}

// copyContext copies the repository's root as `docker build` sends it:
// without what .dockerignore names.
func copyContext(t *testing.T, dest string) {
	t.Helper()
	f, err := os.Open(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repo, p)
		if err != nil || rel == "." {
			return err
		}
		skip, err := ignore.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if skip {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dest, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			return copyFile(p, to)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("COPY . (the build context): %v", err)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// absPath is an absolute path in a RUN line: at the start, or after a
// space, '=' or quote.
var absPath = regexp.MustCompile(`(^|[\s="'])(/[A-Za-z0-9_./${}-]*)`)

// shell runs a RUN line with sh, each absolute path in it rewritten under
// the stage's root; /root/ (the mount caches) and /dev/ are left alone.
func (b *imageBuild) shell(c *instructions.RunCommand, root, workdir string, env map[string]string) {
	b.t.Helper()
	if !c.PrependShell || len(c.CmdLine) != 1 {
		b.t.Fatalf("RUN %v: only the shell form is handled here", c.CmdLine)
	}
	line := absPath.ReplaceAllStringFunc(c.CmdLine[0], func(m string) string {
		sub := absPath.FindStringSubmatch(m)
		p := sub[2]
		if strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/root/") {
			return m
		}
		return sub[1] + filepath.Join(root, p)
	})
	cmd := exec.Command("sh", "-ec", line)
	cmd.Dir = filepath.Join(root, workdir)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.t.Fatalf("RUN %s\n(as %s)\nfailed: %v\n%s", c.CmdLine[0], line, err, out)
	}
}

// TestImagesBuild: every image compose.yaml builds comes out of its
// Dockerfile target, with its entrypoint, static binaries and a numeric
// user (see the comment at the top of this file for what "builds" means
// on a machine that cannot pull base images).
func TestImagesBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every image's binaries (minutes); make verify runs it")
	}
	project := loadCompose(t, exampleEnv(t))
	df := parseDockerfile(t)
	sandbox := filepath.Join(os.TempDir(), "recruitment-image-stages")
	t.Cleanup(func() { os.RemoveAll(sandbox) })
	type image struct{ target, args string }
	seen := map[image]bool{}
	var names []string
	for name := range project.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := project.Services[name]
		if s.Build == nil {
			continue
		}
		args := map[string]string{}
		var key []string
		for k, v := range s.Build.Args {
			if v != nil {
				args[k] = *v
				key = append(key, k+"="+*v)
			}
		}
		slices.Sort(key)
		img := image{s.Build.Target, strings.Join(key, ",")}
		if seen[img] {
			continue
		}
		seen[img] = true
		t.Run(name, func(t *testing.T) {
			b := &imageBuild{t: t, df: df, args: args, sandbox: sandbox, built: map[string]stageState{}}
			root := b.run(s.Build.Target)
			checkStatic(t, root)
		})
	}
}

// checkStatic fails for any executable in the image that asks for a
// dynamic loader: the distroless static base has none.
func checkStatic(t *testing.T, root string) {
	t.Helper()
	found := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := elf.Open(p)
		if err != nil {
			return nil // not an executable
		}
		defer f.Close()
		found++
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked; the static base image cannot run it", strings.TrimPrefix(p, root))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Error("the image holds no executable")
	}
}
