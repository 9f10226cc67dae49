package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
)

// writeOptions configure `go run ./bench write`.
type writeOptions struct {
	concurrency []int
	duration    time.Duration
	warmup      time.Duration
	idealFor    time.Duration
	lagFor      time.Duration
	lagRates    []int
	countOps    int
	databaseURL string
	out         string
	profiles    string
	keep        bool
}

// writeServices are the stage services and reporting, in start order:
// the ones that react to events first, so nothing waits on a consumer.
var writeServices = []string{"reporting", "vetting", "offers", "sifting", "applications"}

func parseWriteOptions(args []string) (writeOptions, error) {
	var o writeOptions
	fs := flag.NewFlagSet("write", flag.ContinueOnError)
	conc := fs.String("concurrency", "1,8,32", "concurrent callers of the system and the ideal path, comma-separated")
	fs.DurationVar(&o.duration, "duration", 12*time.Second, "how long the system is measured at each concurrency")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load before each measurement")
	fs.DurationVar(&o.idealFor, "ideal", 6*time.Second, "how long the ideal path is measured at each concurrency")
	fs.DurationVar(&o.lagFor, "lag", 12*time.Second, "how long each event-to-report lag phase runs")
	rates := fs.String("lag-rates", "20,1000", "updates/s of the paced lag phases (a last phase runs at the maximum rate)")
	fs.IntVar(&o.countOps, "count", 20, "candidates taken serially through every stage with the services' PostgreSQL traffic counted (0: skip)")
	fs.StringVar(&o.databaseURL, "database-url", envOr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL (an administrator: the run creates and drops its schemas)")
	fs.StringVar(&o.out, "out", "bench/results/write.md", "where to write the report")
	fs.StringVar(&o.profiles, "profiles", "", "directory to save a CPU profile of each service during the system's load at the highest concurrency")
	fs.BoolVar(&o.keep, "keep", false, "keep the run's schemas afterwards")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.concurrency, err = ints(*conc); err != nil {
		return o, fmt.Errorf("-concurrency: %w", err)
	}
	if o.lagRates, err = ints(*rates); err != nil {
		return o, fmt.Errorf("-lag-rates: %w", err)
	}
	return o, nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d", &n); err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a list of positive numbers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// stack is the running system: the nats-server and every service.
type stack struct {
	tmp, natsURL, usersDir, prefix string
	databaseURL                    string
	natsPID                        int
	stopNATS                       func()
	bins                           map[string]string
	procs                          map[string]*service
	grpcAddr, adminAddr            map[string]string
	profiling                      bool
	logDir                         string
	proxies                        map[string]*pgProxy
}

// runWrite is `go run ./bench write`.
func runWrite(ctx context.Context, args []string) error {
	o, err := parseWriteOptions(args)
	if err != nil {
		return err
	}
	w := &writeReport{opts: o, started: time.Now()}
	tmp, err := os.MkdirTemp("", "bench-write-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st := &stack{tmp: tmp, databaseURL: o.databaseURL, bins: map[string]string{}, procs: map[string]*service{},
		grpcAddr: map[string]string{}, adminAddr: map[string]string{}, profiling: o.profiles != "",
		prefix: fmt.Sprintf("bw%d", time.Now().Unix()), logDir: filepath.Join(filepath.Dir(o.out), "write-logs")}
	if err := os.MkdirAll(st.logDir, 0o755); err != nil {
		return err
	}
	if err := st.build(); err != nil {
		return err
	}
	admin, err := pg.Connect(ctx, o.databaseURL, "public")
	if err != nil {
		return err
	}
	defer admin.Close()
	_ = admin.QueryRow(ctx, "SHOW server_version").Scan(&w.pgVersion)
	w.natsVersion = server.VERSION
	if !o.keep {
		defer func() {
			for _, s := range append(writeServices, "ideal") {
				_, _ = admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+st.prefix+"_"+s+" CASCADE")
			}
		}()
	}
	if err := st.startNATS(ctx); err != nil {
		return err
	}
	defer st.stopNATS()
	defer st.stopAll()

	if o.countOps > 0 {
		say("counting PostgreSQL round trips and commits: %d candidates through every stage, one call at a time", o.countOps)
		if err := st.startAll(true); err != nil {
			return err
		}
		l, err := newLoad(ctx, st)
		if err != nil {
			return err
		}
		w.counts, err = countTraffic(ctx, st, l, o.countOps)
		l.close()
		if err != nil {
			return err
		}
		st.stopAll()
	}
	if err := st.startAll(false); err != nil {
		return err
	}
	l, err := newLoad(ctx, st)
	if err != nil {
		return err
	}
	defer l.close()
	ideal, err := newIdeal(ctx, o.databaseURL, st.prefix+"_ideal", max(32, maxOf(o.concurrency)))
	if err != nil {
		return err
	}
	defer ideal.close()
	mon := newProcMonitor(st)
	w.procStart = mon.sample()

	for _, c := range o.concurrency {
		say("ideal path at concurrency %d (%s)", c, o.idealFor)
		ir := ideal.run(ctx, c, o.idealFor)
		say("  %.0f tx/s  p50 %s  p99 %s", ir.rate, ms(ir.p50), ms(ir.p99))
		say("system at concurrency %d (%s warm-up, %s measured)", c, o.warmup, o.duration)
		before := mon.sample()
		var profiled <-chan error
		if o.profiles != "" && c == maxOf(o.concurrency) {
			profiled = st.profile(ctx, o.profiles, o.warmup, o.duration)
		}
		sr := l.closedLoop(ctx, c, o.warmup, o.duration)
		after := mon.sample()
		if profiled != nil {
			if err := <-profiled; err != nil {
				say("  profiles: %v", err)
			}
		}
		say("  %.0f calls/s  p50 %s  p99 %s  errors %d  (ratio %.2f)", sr.rate, ms(sr.p50), ms(sr.p99), sr.errors, sr.rate/ir.rate)
		w.throughput = append(w.throughput, throughputRow{concurrency: c, ideal: ir, system: sr, cpu: after.cpuSince(before, o.warmup+o.duration)})
	}
	for _, rate := range o.lagRates {
		say("event-to-report lag at %d updates/s (%s)", rate, o.lagFor)
		lr, err := l.lag(ctx, rate, 0, o.lagFor)
		if err != nil {
			return err
		}
		w.lags = append(w.lags, lr)
		say("  achieved %.0f updates/s; lag p50 %s p99 %s max %s (%d probes)", lr.achieved, ms(lr.p50), ms(lr.p99), ms(lr.max), lr.probes)
	}
	say("event-to-report lag at the maximum rate (%d callers, %s)", maxOf(o.concurrency), o.lagFor)
	lr, err := l.lag(ctx, 0, maxOf(o.concurrency), o.lagFor)
	if err != nil {
		return err
	}
	w.lags = append(w.lags, lr)
	say("  achieved %.0f updates/s; lag p50 %s p99 %s max %s (%d probes)", lr.achieved, ms(lr.p50), ms(lr.p99), ms(lr.max), lr.probes)
	w.procEnd = mon.sample()
	w.ops = l.opTotals()
	return w.write()
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// build compiles every service binary.
func (st *stack) build() error {
	say("building the service binaries")
	var wg sync.WaitGroup
	errs := make([]error, len(writeServices))
	for i, name := range writeServices {
		bin := filepath.Join(st.tmp, name)
		st.bins[name] = bin
		// Two at a time: the machine has two cores.
		if i%2 == 0 {
			wg.Wait()
		}
		wg.Go(func() {
			b := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
			b.Dir = repoPath("services/" + name)
			if out, err := b.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %v\n%s", name, err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// startNATS runs the nats-server with the services' users, as make run's
// devnats does, and provisions the stream as the administrator.
func (st *stack) startNATS(ctx context.Context) error {
	st.usersDir = filepath.Join(st.tmp, "nats-users")
	if err := os.MkdirAll(st.usersDir, 0o700); err != nil {
		return err
	}
	passwords := map[string]string{}
	for _, name := range natsperm.Names() {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		passwords[name] = hex.EncodeToString(b)
		if err := os.WriteFile(filepath.Join(st.usersDir, name), []byte(passwords[name]), 0o600); err != nil {
			return err
		}
	}
	var err error
	if st.natsURL, st.natsPID, st.stopNATS, err = startNATS(filepath.Join(st.tmp, "nats"), st.usersDir); err != nil {
		return err
	}
	nc, js, err := stream.Connect(st.natsURL, "bench", stream.Credentials{User: natsperm.Admin, Password: passwords[natsperm.Admin]}, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = stream.Ensure(ctx, js, stream.Config{})
	return err
}

// readPasswords reads the password files of natsperm.Names from dir.
func readPasswords(dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range natsperm.Names() {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out[name] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// adminJS connects to the stream as the administrator.
func (st *stack) adminJS() (func(), jetstream.JetStream, error) {
	pw, err := readPasswords(st.usersDir)
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := stream.Connect(st.natsURL, "bench", stream.Credentials{User: natsperm.Admin, Password: pw[natsperm.Admin]}, nil)
	if err != nil {
		return nil, nil, err
	}
	return nc.Close, js, nil
}

// startAll starts every service as make run does (each its own NATS user,
// LOG_LEVEL=warn), each in its own schema of the run; counted, each
// through a proxy that counts its PostgreSQL traffic.
func (st *stack) startAll(counted bool) error {
	st.proxies = map[string]*pgProxy{}
	for _, name := range writeServices {
		url := st.databaseURL
		if counted {
			p, err := newPGProxy(st.databaseURL)
			if err != nil {
				return err
			}
			st.proxies[name] = p
			url = p.url
		}
		st.grpcAddr[name], st.adminAddr[name] = freeAddr(), freeAddr()
		env := []string{
			"DATABASE_URL=" + url, "DB_SCHEMA=" + st.prefix + "_" + name, "NATS_URL=" + st.natsURL,
			"NATS_USER=" + name, "NATS_PASSWORD_FILE=" + filepath.Join(st.usersDir, name),
			"AUTH_ED25519_PUBLIC_KEY=" + signingPublicKey(), "LOG_LEVEL=warn",
			"GRPC_ADDR=" + st.grpcAddr[name], "ADMIN_ADDR=" + st.adminAddr[name], "GRPC_INSECURE=true",
		}
		if st.profiling {
			env = append(env, "PROFILING=true")
		}
		// The services' logs (warnings and errors) go to a file each, not
		// among the bench's lines.
		logFile, err := os.OpenFile(filepath.Join(st.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		s, err := launchLogging(st.bins[name], env, logFile)
		logFile.Close() // the child holds its own descriptor
		if err != nil {
			return err
		}
		st.procs[name] = s
	}
	for _, name := range writeServices {
		if err := st.procs[name].ready(st.adminAddr[name], 90*time.Second); err != nil {
			return fmt.Errorf("%s: %w (its log: %s)", name, err, filepath.Join(st.logDir, name+".log"))
		}
	}
	return nil
}

// stopAll stops every service (SIGTERM, then waits) and its proxy.
func (st *stack) stopAll() {
	for _, name := range writeServices {
		if s := st.procs[name]; s != nil {
			s.stop()
			delete(st.procs, name)
		}
		if p := st.proxies[name]; p != nil {
			p.close()
			delete(st.proxies, name)
		}
	}
}

// profile saves a CPU profile of every service over the measured part of
// a load that starts now with warmup.
func (st *stack) profile(ctx context.Context, dir string, warmup, d time.Duration) <-chan error {
	done := make(chan error, 1)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		done <- err
		return done
	}
	go func() {
		time.Sleep(warmup)
		var wg sync.WaitGroup
		errs := make([]error, len(writeServices))
		for i, name := range writeServices {
			wg.Go(func() {
				errs[i] = saveProfile(ctx, st.adminAddr[name], d-time.Second, filepath.Join(dir, "write-"+name+".pprof"))
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}
