package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"google.golang.org/grpc"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/importcsv"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// importOptions configure `go run ./bench import`.
type importOptions struct {
	rows        []int
	batch       int
	inFlight    int
	countRows   int
	within      time.Duration
	databaseURL string
	out         string
	profiles    string
	keep        bool
}

func parseImportOptions(args []string) (importOptions, error) {
	var o importOptions
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	rows := fs.String("rows", "5000,20000", "rows imported in each measured phase, comma-separated")
	fs.IntVar(&o.batch, "batch", 500, "rows per ImportApplications call (pipelinectl's --batch-size)")
	fs.IntVar(&o.inFlight, "in-flight", 1, "calls in flight at once (pipelinectl import sends "+
		"its batches this many at a time)")
	fs.IntVar(&o.countRows, "count", 500, "rows imported with every service's PostgreSQL traffic counted, before the measured phases (0: skip)")
	fs.DurationVar(&o.within, "within", 10*time.Minute, "how long a phase may take before the run gives up on the projection catching up")
	fs.StringVar(&o.databaseURL, "database-url", envOr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL (an administrator: the run creates and drops its schemas)")
	fs.StringVar(&o.out, "out", "bench/results/import.md", "where to write the report")
	fs.StringVar(&o.profiles, "profiles", "", "directory to save a CPU profile of each service during the largest phase")
	fs.BoolVar(&o.keep, "keep", false, "keep the run's schemas afterwards")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.rows, err = ints(*rows); err != nil {
		return o, fmt.Errorf("-rows: %w", err)
	}
	if o.batch < 1 || o.batch > 500 || o.inFlight < 1 {
		return o, fmt.Errorf("-batch must be 1-500 and -in-flight at least 1")
	}
	return o, nil
}

// importPhase is one measured import of n rows.
type importPhase struct {
	rows, imported, failed int
	calls                  time.Duration // until every call returned
	endToEnd               time.Duration // until reporting counts every row at its final stage
	caughtUp               bool
	poison                 int // events the services terminated as poison during the phase
	firstErr               string
	ideal                  float64 // rows/s of the ideal path, measured just before
	cpu                    cpuUse
}

// runImport is `go run ./bench import`: every service running, generated
// legacy rows (pkg/importcsv's demo generator) imported through
// ImportApplications in batches as pipelinectl import sends them, timed
// until every call returned and until the reporting service's region
// summaries count every row at the stage its history leaves it in; beside
// the least such an import must do (ideal.batchTx) in the same run.
func runImport(ctx context.Context, args []string) error {
	o, err := parseImportOptions(args)
	if err != nil {
		return err
	}
	// Interrupted, the run still stops the services and drops its schemas.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	tmp, err := os.MkdirTemp("", "bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st := &stack{tmp: tmp, databaseURL: o.databaseURL, bins: map[string]string{}, procs: map[string]*service{},
		grpcAddr: map[string]string{}, adminAddr: map[string]string{}, profiling: o.profiles != "",
		prefix: fmt.Sprintf("bi%d", time.Now().Unix()), logDir: filepath.Join(filepath.Dir(o.out), "import-logs")}
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
	var pgVersion string
	_ = admin.QueryRow(ctx, "SHOW server_version").Scan(&pgVersion)
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

	gen := &rowSource{now: time.Now()}
	var counts []trafficRow
	if o.countRows > 0 {
		say("counting PostgreSQL round trips and transactions: %d rows imported, every consumer caught up", o.countRows)
		if err := st.startAll(true); err != nil {
			return err
		}
		imp, err := newImporter(st)
		if err != nil {
			return err
		}
		counts, err = countImport(ctx, st, imp, gen.next(o.countRows), o)
		imp.close()
		if err != nil {
			return err
		}
		st.stopAll()
	}
	if err := st.startAll(false); err != nil {
		return err
	}
	imp, err := newImporter(st)
	if err != nil {
		return err
	}
	defer imp.close()
	ideal, err := newIdeal(ctx, o.databaseURL, st.prefix+"_ideal", max(8, o.inFlight))
	if err != nil {
		return err
	}
	defer ideal.close()
	mon := newProcMonitor(st)
	var phases []importPhase
	for _, n := range o.rows {
		rows := gen.next(n)
		say("ideal path: %d rows, one transaction per %d (rows and outbox rows, multi-row INSERTs), %d in flight", n, o.batch, o.inFlight)
		idealRate, err := ideal.runBatches(ctx, n, o.batch, o.inFlight)
		if err != nil {
			return err
		}
		say("  %.0f rows/s", idealRate)
		say("import of %d rows, %d per call, %d in flight", n, o.batch, o.inFlight)
		var profiled <-chan error
		if o.profiles != "" && n == maxOf(o.rows) {
			// The length of the phase is not known ahead: profile its
			// first part, long enough to show where the time goes.
			profiled = st.profileImport(ctx, o.profiles, 20*time.Second)
		}
		before, poisonBefore := mon.sample(), poisonCount(st.logDir)
		p, err := imp.run(ctx, rows, o)
		if err != nil {
			return err
		}
		if p.poison = poisonCount(st.logDir) - poisonBefore; p.poison > 0 {
			say("  %d events terminated as poison: see %s", p.poison, st.logDir)
		}
		p.cpu = mon.sample().cpuSince(before, 0)
		p.ideal = idealRate
		if profiled != nil {
			if err := <-profiled; err != nil {
				say("  profiles: %v", err)
			}
		}
		say("  calls %.0f rows/s (%s); end to end %.0f rows/s (%s)%s; imported %d, failed %d; ratio to the ideal %.3f",
			float64(n)/p.calls.Seconds(), p.calls.Round(time.Millisecond), float64(n)/p.endToEnd.Seconds(),
			p.endToEnd.Round(time.Millisecond), map[bool]string{true: "", false: " (NOT caught up)"}[p.caughtUp],
			p.imported, p.failed, float64(n)/p.endToEnd.Seconds()/idealRate)
		phases = append(phases, p)
	}
	return writeImportReport(o, started, pgVersion, phases, counts)
}

// rowSource hands out generated rows, every batch with references of its
// own (the demo generator's are the same for every seed).
type rowSource struct {
	now  time.Time
	seed uint64
	left []*applicationsv1.ImportRow
}

func (g *rowSource) next(n int) []*applicationsv1.ImportRow {
	for len(g.left) < n {
		g.seed++
		prefix := fmt.Sprintf("B%d-%d-", g.now.Unix(), g.seed)
		for _, r := range importcsv.Demo(g.now, g.seed) {
			r.Reference = prefix + r.GetReference()
			r.CampaignReference = prefix + r.GetCampaignReference()
			g.left = append(g.left, r)
		}
	}
	out := g.left[:n]
	g.left = g.left[n:]
	return out
}

// finalStage is the stage a row's history leaves its application in
// (docs/import.md, "Rules").
func finalStage(r *applicationsv1.ImportRow) commonv1.Stage {
	if r.GetWithdrawnAt() != nil {
		return commonv1.Stage_STAGE_WITHDRAWN
	}
	h := r.GetHistory()
	o, v := h.GetOffer(), h.GetVetting()
	switch {
	case h.GetSift() == nil:
		return commonv1.Stage_STAGE_SIFT
	case !h.GetSift().GetPassed():
		return commonv1.Stage_STAGE_REJECTED
	case h.GetInterview().GetDecidedAt() == nil:
		return commonv1.Stage_STAGE_INTERVIEW
	case !h.GetInterview().GetPassed():
		return commonv1.Stage_STAGE_REJECTED
	case o == nil || (o.GetAcceptedAt() == nil && o.GetDeclinedAt() == nil):
		return commonv1.Stage_STAGE_OFFER
	case o.GetDeclinedAt() != nil, v.GetFailedAt() != nil:
		return commonv1.Stage_STAGE_WITHDRAWN
	case o.GetStartedAt() != nil:
		return commonv1.Stage_STAGE_HIRED
	}
	return commonv1.Stage_STAGE_PRE_EMPLOYMENT
}

// importer calls ImportApplications and reads the region summaries.
type importer struct {
	conns   []*grpc.ClientConn
	apps    applicationsv1.ApplicationsServiceClient
	reports reportingv1.ReportingServiceClient
	admin   grpc.CallOption
}

func newImporter(st *stack) (*importer, error) {
	signer, err := signingSigner()
	if err != nil {
		return nil, err
	}
	tok, err := signer.Mint(auth.Claims{Subject: "bench-admin", Role: auth.RoleAdmin}, 8*time.Hour)
	if err != nil {
		return nil, err
	}
	imp := &importer{admin: grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(tok))}
	for _, name := range []string{"applications", "reporting"} {
		c, err := grpc.NewClient(st.grpcAddr[name], grpc.WithTransportCredentials(grpcauth.PlaintextLoopback()))
		if err != nil {
			imp.close()
			return nil, err
		}
		imp.conns = append(imp.conns, c)
	}
	imp.apps = applicationsv1.NewApplicationsServiceClient(imp.conns[0])
	imp.reports = reportingv1.NewReportingServiceClient(imp.conns[1])
	return imp, nil
}

func (imp *importer) close() {
	for _, c := range imp.conns {
		_ = c.Close()
	}
}

// stageCounts is how many applications each region has at each stage.
type stageCounts map[string]map[commonv1.Stage]int

func (imp *importer) summaries(ctx context.Context) (stageCounts, error) {
	resp, err := imp.reports.ListRegionSummaries(ctx, &reportingv1.ListRegionSummariesRequest{}, imp.admin)
	if err != nil {
		return nil, err
	}
	out := stageCounts{}
	for _, s := range resp.GetSummaries() {
		out[s.GetRegion()] = map[commonv1.Stage]int{}
		for _, c := range s.GetStageCounts() {
			out[s.GetRegion()][c.GetStage()] = int(c.GetCount())
		}
	}
	return out, nil
}

// behind says how far have is from want ("" when equal).
func (want stageCounts) behind(have stageCounts) string {
	var diffs []string
	for _, r := range slices.Sorted(maps.Keys(want)) {
		for st, n := range want[r] {
			if have[r][st] != n {
				diffs = append(diffs, fmt.Sprintf("%s %s %d/%d", r, st, have[r][st], n))
			}
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 4 {
		diffs = append(diffs[:4], fmt.Sprintf("and %d more", len(diffs)-4))
	}
	return strings.Join(diffs, ", ")
}

// send imports rows in batches, inFlight calls at a time, with request
// ids <prefix>-1, <prefix>-2, … as pipelinectl import gives them.
func (imp *importer) send(ctx context.Context, rows []*applicationsv1.ImportRow, o importOptions) (ok []bool, firstErr string) {
	ok = make([]bool, len(rows))
	prefix := fmt.Sprintf("bench-import-%x-%d", runStamp, requestSeq.Add(1))
	var mu sync.Mutex
	sem := make(chan struct{}, o.inFlight)
	var wg sync.WaitGroup
	for from := 0; from < len(rows); from += o.batch {
		from := from
		req := &applicationsv1.ImportApplicationsRequest{RequestId: fmt.Sprintf("%s-%d", prefix, from/o.batch+1),
			Rows: rows[from:min(from+o.batch, len(rows))]}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := imp.apps.ImportApplications(ctx, req, imp.admin)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == "" {
					firstErr = err.Error()
				}
				return
			}
			for _, r := range resp.GetResults() {
				if r.GetStatus().GetCode() == "OK" {
					ok[from+int(r.GetIndex())] = true
					continue
				}
				if firstErr == "" {
					firstErr = r.GetReference() + ": " + r.GetStatus().GetCode() + " " + r.GetStatus().GetField() + ": " + r.GetStatus().GetMessage()
				}
			}
		})
	}
	wg.Wait()
	return ok, firstErr
}

// run imports rows and waits for the projection to count them.
func (imp *importer) run(ctx context.Context, rows []*applicationsv1.ImportRow, o importOptions) (importPhase, error) {
	want, err := imp.summaries(ctx)
	if err != nil {
		return importPhase{}, err
	}
	p := importPhase{rows: len(rows)}
	start := time.Now()
	ok, firstErr := imp.send(ctx, rows, o)
	p.calls, p.firstErr = time.Since(start), firstErr
	// A row whose call ran out of time may have gone in all the same: a
	// dry run of such rows says which did (already imported), outside the
	// time measured.
	checked, err := imp.settle(ctx, rows, ok, o)
	if err != nil {
		return p, err
	}
	start = start.Add(checked)
	p.failed = 0
	for _, in := range ok {
		if !in {
			p.failed++
		}
	}
	// Only the rows that went in are waited for.
	for i, r := range rows {
		if !ok[i] {
			continue
		}
		p.imported++
		if want[r.GetRegion()] == nil {
			want[r.GetRegion()] = map[commonv1.Stage]int{}
		}
		want[r.GetRegion()][finalStage(r)]++
	}
	if p.firstErr != "" {
		say("  %d rows failed; the first: %s", p.failed, p.firstErr)
	}
	last := ""
	for time.Since(start) < o.within {
		have, err := imp.summaries(ctx)
		if err != nil {
			return p, err
		}
		if last = want.behind(have); last == "" {
			p.caughtUp = true
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	p.endToEnd = time.Since(start)
	if !p.caughtUp {
		say("  the projection did not count every row within %s: %s", o.within, last)
	}
	return p, nil
}

// poisonCount is how many events the services' logs say were terminated
// as poison: a row whose history a service could not record.
func poisonCount(logDir string) int {
	n := 0
	files, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			n += strings.Count(string(b), "poison message terminated")
		}
	}
	return n
}

// settle marks as imported the rows not answered OK that a dry run finds
// already imported, and returns how long it took.
func (imp *importer) settle(ctx context.Context, rows []*applicationsv1.ImportRow, ok []bool, o importOptions) (time.Duration, error) {
	start := time.Now()
	var unsure []int
	for i := range rows {
		if !ok[i] {
			unsure = append(unsure, i)
		}
	}
	for from := 0; from < len(unsure); from += o.batch {
		is := unsure[from:min(from+o.batch, len(unsure))]
		req := &applicationsv1.ImportApplicationsRequest{DryRun: true}
		for _, i := range is {
			req.Rows = append(req.Rows, rows[i])
		}
		resp, err := imp.apps.ImportApplications(ctx, req, imp.admin)
		if err != nil {
			return 0, fmt.Errorf("dry run of the rows that failed: %w", err)
		}
		for _, r := range resp.GetResults() {
			if r.GetStatus().GetCode() == "ALREADY_EXISTS" && r.GetApplicationId() != "" {
				ok[is[r.GetIndex()]] = true
			}
		}
	}
	return time.Since(start), nil
}

// countImport imports rows with every service behind a counting proxy,
// waits for every consumer to catch up, and returns what the import cost
// each process per row.
func countImport(ctx context.Context, st *stack, imp *importer, rows []*applicationsv1.ImportRow, o importOptions) ([]trafficRow, error) {
	closeNC, js, err := st.adminJS()
	if err != nil {
		return nil, err
	}
	defer closeNC()
	if err := quiesce(ctx, st, js); err != nil {
		return nil, err
	}
	before := map[string]map[string]trafficCount{}
	for name, p := range st.proxies {
		before[name] = p.snapshot()
	}
	p, err := imp.run(ctx, rows, o)
	if err != nil {
		return nil, err
	}
	if !p.caughtUp {
		return nil, fmt.Errorf("counting: the projection did not count every row")
	}
	if err := quiesce(ctx, st, js); err != nil {
		return nil, err
	}
	var out []trafficRow
	for _, name := range writeServices {
		after := st.proxies[name].snapshot()
		for _, class := range slices.Sorted(maps.Keys(after)) {
			a, b := after[class], before[name][class]
			if class == classRelayEmpty || class == classOther {
				continue
			}
			if d := a.roundTrips - b.roundTrips; d > 0 {
				out = append(out, trafficRow{op: "import", process: name, class: class,
					roundTrips: float64(d) / float64(len(rows)), transactions: float64(a.transactions-b.transactions) / float64(len(rows))})
			}
		}
	}
	return out, nil
}

// profileImport saves a CPU profile of every service over the next d.
func (st *stack) profileImport(ctx context.Context, dir string, d time.Duration) <-chan error {
	return st.profile(ctx, dir, 0, d+time.Second)
}

func writeImportReport(o importOptions, started time.Time, pgVersion string, phases []importPhase, counts []trafficRow) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# CSV import, end to end (`go run ./bench import`)\n\n")
	fmt.Fprintf(&b, "Run %s on %s; load average %s; PostgreSQL %s, nats-server %s (file store).\n\n",
		started.Format("2006-01-02 15:04 MST"), machine(), loadAverage(), pgVersion, server.VERSION)
	fmt.Fprintf(&b, "Every service running (LOG_LEVEL=warn); rows from pkg/importcsv's demo generator; %d rows per "+
		"ImportApplications call, %d in flight. *Calls* is until every call returned; *end to end* until "+
		"reporting's region summaries count every row at the stage its history leaves it in. The ideal path, "+
		"measured just before each phase in the same run: one pgx transaction per %d rows inserting the rows "+
		"and as many outbox rows (two multi-row INSERTs).\n\n", o.batch, o.inFlight, o.batch)
	b.WriteString("| rows | ideal rows/s | calls rows/s | end-to-end rows/s | ratio (end to end / ideal) | imported | failed | caught up | poison events |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range phases {
		e2e := float64(p.rows) / p.endToEnd.Seconds()
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.0f | %.3f | %d | %d | %s | %d |\n", p.rows, p.ideal, float64(p.rows)/p.calls.Seconds(),
			e2e, e2e/p.ideal, p.imported, p.failed, yesNo(p.caughtUp), p.poison)
	}
	for _, p := range phases {
		if p.firstErr != "" {
			fmt.Fprintf(&b, "\nFirst failure of the %d-row phase: %s\n", p.rows, p.firstErr)
		}
	}
	if len(phases) > 0 {
		p := phases[len(phases)-1]
		fmt.Fprintf(&b, "\nCPU seconds per 1,000 rows in the %d-row phase (wall %s):\n\n| process | CPU s / 1,000 rows |\n|---|---|\n",
			p.rows, p.cpu.wall.Round(time.Millisecond))
		for _, name := range p.cpu.order {
			fmt.Fprintf(&b, "| %s | %.2f |\n", name, p.cpu.seconds[name]*1000/float64(p.rows))
		}
		fmt.Fprintf(&b, "| PostgreSQL (every backend on the machine) | %.2f |\n", p.cpu.postgres*1000/float64(p.rows))
	}
	if len(counts) > 0 {
		fmt.Fprintf(&b, "\nPostgreSQL traffic per imported row (%d rows, every consumer caught up; round trips are waits for the server):\n\n",
			o.countRows)
		b.WriteString("| process | transaction class | round trips / row | transactions / row |\n|---|---|---|---|\n")
		for _, c := range counts {
			fmt.Fprintf(&b, "| %s | %s | %.2f | %.3f |\n", c.process, c.class, c.roundTrips, c.transactions)
		}
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	say("wrote %s", o.out)
	return os.WriteFile(o.out, []byte(b.String()), 0o644)
}
