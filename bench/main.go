// Command bench measures the reporting service against its targets
// (issue 5): it seeds a stream with the events of a large generated
// workload, runs the real reporting binary against PostgreSQL and a
// current nats-server, and measures how fast the projection applies the
// events, the latency of every report RPC at a given concurrency over
// gRPC on loopback, and how long a rebuild from the stream takes. It
// writes a Markdown report.
//
//	go run ./bench -apps 1000000 -out docs/performance.md
//
// `go run ./bench write` measures the write path instead (issue 18): every
// service binary against PostgreSQL and the nats-server, stage updates
// beside the least a change must do, and event-to-report lag (write.go).
// `go run ./bench import` measures the CSV import end to end, beside the
// least an import must do (importbench.go).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// signingSeed signs the bench's tokens; the services hold its public half.
const signingSeed = "YmVuY2gtc2lnbmluZy1rZXktb2YtMzItYnl0ZXMhISE="

type options struct {
	apps        int
	perCampaign int
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	batch       int
	databaseURL string
	out         string
	keep        bool
	seed        uint64
	profiles    string
	rebuild     bool
	restarts    bool
	updates     int
}

func main() {
	var o options
	flag.IntVar(&o.apps, "apps", 1_000_000, "applications to generate")
	flag.IntVar(&o.perCampaign, "per-campaign", 300, "average applications per campaign")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent callers of each report RPC")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each RPC is loaded")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "how long each RPC is loaded, unmeasured, before that")
	flag.IntVar(&o.batch, "batch", 1000, "events per projection transaction (PROJECTION_BATCH)")
	flag.StringVar(&o.databaseURL, "database-url", envOr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL")
	flag.StringVar(&o.out, "out", "bench/results/report.md", "where to write the report")
	flag.BoolVar(&o.keep, "keep", false, "keep the benchmark's schema afterwards")
	flag.Uint64Var(&o.seed, "seed", 1, "workload seed")
	flag.BoolVar(&o.restarts, "restarts", true, "time the first report after a restart of the service on the full projection")
	flag.IntVar(&o.updates, "updates", 1000, "events per second published into the projection during a second report load (0 skips it)")
	flag.BoolVar(&o.rebuild, "rebuild", true, "time `reporting rebuild` at the end (false skips it, e.g. while profiling)")
	flag.StringVar(&o.profiles, "profiles", "", "directory to save a CPU profile of the service during each RPC's measured load (go tool pprof FILE)")
	natsDir := flag.String("serve-nats", "", "(internal) run only the nats-server, storing in this directory")
	natsUsers := flag.String("nats-users", "", "(internal) with -serve-nats: run with the services' users (pkg/natsperm), their passwords in this directory")
	if len(os.Args) > 1 && os.Args[1] == "import" {
		if err := runImport(context.Background(), os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench import:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "write" {
		if err := runWrite(context.Background(), os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench write:", err)
			os.Exit(1)
		}
		return
	}
	flag.Parse()
	if *natsDir != "" {
		if err := serveNATS(*natsDir, *natsUsers); err != nil {
			fmt.Fprintln(os.Stderr, "bench nats-server:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func say(format string, args ...any) { fmt.Printf(time.Now().Format("15:04:05 ")+format+"\n", args...) }

func run(ctx context.Context, o options) error {
	r := &report{opts: o, started: time.Now()}
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	say("building the reporting binary")
	bin := filepath.Join(tmp, "reporting")
	build := exec.Command("go", "build", "-o", bin, "./cmd/reporting")
	build.Dir = repoPath("services/reporting")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build reporting: %v\n%s", err, out)
	}

	natsURL, _, stopNATS, err := startNATS(filepath.Join(tmp, "nats"), "")
	if err != nil {
		return err
	}
	defer stopNATS()
	r.natsVersion = server.VERSION
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	if _, err := stream.Ensure(ctx, js, stream.Config{}); err != nil {
		return err
	}

	if err := seed(ctx, js, o, r); err != nil {
		return err
	}

	schema := fmt.Sprintf("bench_%d", time.Now().Unix())
	admin, err := pg.Connect(ctx, o.databaseURL, "public")
	if err != nil {
		return err
	}
	defer admin.Close()
	_ = admin.QueryRow(ctx, "SHOW server_version").Scan(&r.pgVersion)
	if !o.keep {
		defer admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")         //nolint:errcheck
		defer admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+"_rebuild CASCADE") //nolint:errcheck
	}
	env := []string{
		"DATABASE_URL=" + o.databaseURL, "DB_SCHEMA=" + schema, "NATS_URL=" + natsURL,
		"AUTH_ED25519_PUBLIC_KEY=" + signingPublicKey(), "LOG_LEVEL=warn", fmt.Sprintf("PROJECTION_BATCH=%d", o.batch),
	}
	grpcAddr, adminAddr := freeAddr(), freeAddr()
	serveEnv := append(env, "GRPC_ADDR="+grpcAddr, "ADMIN_ADDR="+adminAddr, "GRPC_INSECURE=true")
	if o.profiles != "" {
		if err := os.MkdirAll(o.profiles, 0o755); err != nil {
			return err
		}
		serveEnv = append(serveEnv, "PROFILING=true")
	}
	svc, err := startService(bin, serveEnv, adminAddr)
	if err != nil {
		return err
	}
	profiled := profileDuring(ctx, o, adminAddr, 20*time.Second, "projection")
	if err := measureProjection(ctx, js, r); err != nil {
		svc.stop()
		return err
	}
	if err := <-profiled; err != nil {
		svc.stop()
		return err
	}
	say("loading the report RPCs (%d concurrent callers, %s each)", o.concurrency, o.duration)
	if err := loadReports(ctx, grpcAddr, adminAddr, o, r); err != nil {
		svc.stop()
		return err
	}
	svc.stop()
	if o.restarts {
		say("first reports after a restart")
		if err := measureRestarts(ctx, bin, serveEnv, grpcAddr, adminAddr, r); err != nil {
			return err
		}
	}
	if o.updates > 0 {
		say("loading the report RPCs while %d updates/s flow into the projection", o.updates)
		if err := loadUnderUpdates(ctx, js, bin, serveEnv, grpcAddr, adminAddr, o, r); err != nil {
			return err
		}
	}
	if !o.rebuild {
		return r.write()
	}

	say("rebuilding the projection from the stream")
	start := time.Now()
	rb := exec.Command(bin, "rebuild")
	rb.Env = append(os.Environ(), env...)
	rb.Stdout, rb.Stderr = os.Stdout, os.Stderr
	if err := rb.Run(); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	r.rebuild = time.Since(start)
	return r.write()
}

// seed generates the workload and publishes it.
func seed(ctx context.Context, js jetstream.JetStream, o options, r *report) error {
	say("generating and publishing the events of %d applications", o.apps)
	start := time.Now()
	var published, failed int
	var pubErr error
	w := &workload{rng: rand.New(rand.NewPCG(o.seed, o.seed+1)), appsPerCampaign: o.perCampaign}
	w.emit = func(ev *eventsv1.Event) {
		b, err := event.Marshal(ev)
		if err != nil {
			pubErr = err
			return
		}
		subject, _ := event.SubjectSuffix(ev)
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "recruitment." + subject, Data: b}, jetstream.WithMsgID(ev.GetEventId()),
			// The default 200 ms stall limit fails publishes when the CPU is busy.
			jetstream.WithStallWait(time.Minute)); err != nil {
			failed++
			return
		}
		published++
		if published%1_000_000 == 0 {
			say("  %d events published", published)
		}
	}
	for r.apps < o.apps && pubErr == nil {
		r.apps += w.campaign()
		r.campaigns++
	}
	if pubErr != nil {
		return pubErr
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("publish did not complete")
	}
	if failed > 0 {
		return fmt.Errorf("%d publishes failed", failed)
	}
	s, err := js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	r.events = info.State.Msgs
	r.lastSeq = info.State.LastSeq
	r.seedTime = time.Since(start)
	say("seeded %d events for %d applications in %d campaigns in %s", r.events, r.apps, r.campaigns, r.seedTime.Round(time.Second))
	return nil
}

// measureProjection waits until the reporting consumer has acknowledged
// every event, from the service's start.
func measureProjection(ctx context.Context, js jetstream.JetStream, r *report) error {
	say("projecting %d events", r.events)
	start := time.Now()
	lastSay := start
	for {
		c, err := js.Consumer(ctx, "RECRUITMENT", "reporting")
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil {
				if info.AckFloor.Stream >= r.lastSeq && info.NumAckPending == 0 {
					r.projection = time.Since(start)
					say("projected in %s (%.0f events/s)", r.projection.Round(time.Second), float64(r.events)/r.projection.Seconds())
					return nil
				}
				if time.Since(lastSay) > 10*time.Second {
					lastSay = time.Now()
					done := info.AckFloor.Stream
					say("  %d of %d (%.0f events/s so far)", done, r.lastSeq, float64(done)/time.Since(start).Seconds())
				}
			}
		}
		if time.Since(start) > 2*time.Hour {
			return fmt.Errorf("projection did not finish in 2 hours")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// startNATS runs the nats-server in a child process (this program with
// -serve-nats), so that the load generator's heap does not hold the
// stream: at 1M applications the server's millions of messages made the
// load generator's garbage collections, on the cores the service shares,
// a large part of what the report latencies measured.
//
// With users (a directory of password files, one per natsperm.Names), the
// server runs with the services' users and permissions, as make run's does.
func startNATS(dir, users string) (url string, pid int, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(self, "-serve-nats", dir, "-nats-users", users)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	stdin, err := cmd.StdinPipe() // closed when this process ends: the child stops
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("nats-server did not start: %w", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, stop, nil
}

// serveNATS runs a JetStream nats-server storing in dir on a free loopback
// port, prints its URL, and runs until standard input closes; with users,
// as the services' users (passwords read from that directory).
func serveNATS(dir, users string) error {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
	if users != "" {
		passwords, err := readPasswords(users)
		if err != nil {
			return err
		}
		sc := stream.Config{}.WithDefaults()
		if opts.Users, err = natsperm.Users(sc.Name, sc.SubjectPrefix, passwords); err != nil {
			return err
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("not ready")
	}
	fmt.Println(ns.ClientURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}

type service struct{ cmd *exec.Cmd }

func startService(bin string, env []string, adminAddr string) (*service, error) {
	s, err := launch(bin, env)
	if err != nil {
		return nil, err
	}
	if err := s.ready(adminAddr, 60*time.Second); err != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		return nil, fmt.Errorf("%s: %w", filepath.Base(bin), err)
	}
	return s, nil
}

// launch starts bin with env added to this process's environment.
func launch(bin string, env []string) (*service, error) {
	return launchLogging(bin, env, os.Stdout)
}

// launchLogging is launch with the service's output going to out.
func launchLogging(bin string, env []string, out io.Writer) (*service, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &service{cmd: cmd}, nil
}

// ready waits until the service's /healthz answers 200.
func (s *service) ready(adminAddr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + adminAddr + "/healthz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", within)
}

func (s *service) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

func signingPublicKey() string {
	k, err := auth.KeyConfig{Ed25519PrivateKey: signingSeed}.Public()
	if err != nil {
		panic(err) // a constant seed: any test of the bench catches it
	}
	return k.Ed25519PublicKey
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// repoPath is a path from the repository root (the bench runs from it or
// from bench/).
func repoPath(p string) string {
	if _, err := os.Stat(filepath.Join("..", p)); err == nil && strings.HasSuffix(mustWd(), "bench") {
		return filepath.Join("..", p)
	}
	return p
}

func mustWd() string {
	wd, _ := os.Getwd()
	return wd
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.Fields(strings.Split(string(b), "\n")[0])[1] + " kB"
	}
	return fmt.Sprintf("%d vCPU (%s), %s memory, %s %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
