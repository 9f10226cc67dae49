package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/region"
)

// writeReport is what `bench write` measured.
type writeReport struct {
	opts                   writeOptions
	started                time.Time
	pgVersion, natsVersion string
	counts                 []trafficRow
	throughput             []throughputRow
	lags                   []lagResult
	procStart, procEnd     procSample
	ops                    [numOps]int64
}

type throughputRow struct {
	concurrency   int
	ideal, system latency
	cpu           cpuUse
}

// The targets.
const (
	ratioTargetHigh = 0.5 // at concurrency 32
	ratioTargetLow  = 0.3 // at concurrency 1
	p99TargetWrite  = 25 * time.Millisecond
	rssTargetKB     = 150 * 1024
)

func lagTarget(l lagResult) string {
	switch {
	case l.target == 0:
		return "≤ 1 s"
	case l.target <= 20:
		return "≤ 100 ms"
	case l.target <= 1000:
		return "≤ 250 ms"
	}
	return "—"
}

func (w *writeReport) write() error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	o := w.opts
	p("# Write path")
	p("")
	p("Measured %s by `go run ./bench write -concurrency %s -duration %s -warmup %s -ideal %s -lag %s -lag-rates %s -count %d` (this file is its output).",
		w.started.Format("2006-01-02 15:04 MST"), joinInts(o.concurrency), o.duration, o.warmup, o.idealFor, o.lagFor, joinInts(o.lagRates), o.countOps)
	p("")
	p("- Machine: %s; load average at the end %s", machine(), loadAverage())
	p("- PostgreSQL %s (the machine's, shared with other work); nats-server %s in a child process, file storage, the services' users (pkg/natsperm)", w.pgVersion, w.natsVersion)
	p("- Every service binary (%s), each in its own schema, LOG_LEVEL=warn, gRPC over loopback, one connection per service from the load generator, on the same cores", strings.Join(writeServices, ", "))
	p("- The ideal path: one pgx transaction inserting one row and one outbox row (BEGIN, INSERT, INSERT, COMMIT: 4 round trips), a pool of one connection per caller, in the same run")
	p("")
	p("## Stage updates beside the ideal path")
	p("")
	p("The system's calls are the stage updates of candidates moving through every stage across %d regions (submit, sift decision, interview booked, interview outcome, offer, accept, vetting forms, block, unblock, clear, start date, start), each with a unique request id, every downstream service running. A step whose record another service opens from an event is tried again later if the event has not arrived (\"not ready\", not counted as calls).", len(region11()))
	p("")
	p("| concurrency | ideal tx/s | ideal p50 / p99 | system calls/s | system p50 / p99 | ratio | target | p99 ≤ 25 ms | errors | not ready |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	for _, t := range w.throughput {
		ratio := t.system.rate / t.ideal.rate
		target, met := "—", ""
		switch {
		case t.concurrency >= 32:
			target, met = fmt.Sprintf("≥ %.1f", ratioTargetHigh), yesNo(ratio >= ratioTargetHigh)
		case t.concurrency == 1:
			target, met = fmt.Sprintf("≥ %.1f", ratioTargetLow), yesNo(ratio >= ratioTargetLow)
		}
		p99ok := "—"
		if t.concurrency >= 32 {
			p99ok = yesNo(t.system.p99 <= p99TargetWrite)
		}
		p("| %d | %.0f | %s / %s | %.0f | %s / %s | %.2f | %s %s | %s | %d | %d |", t.concurrency, t.ideal.rate, ms(t.ideal.p50), ms(t.ideal.p99),
			t.system.rate, ms(t.system.p50), ms(t.system.p99), ratio, target, met, p99ok, t.system.errors, t.system.notReady)
	}
	for _, t := range w.throughput {
		if t.system.firstErr != nil {
			p("")
			p("At concurrency %d, errors by call and code: %v; the first: `%v`", t.concurrency, t.system.errCodes, t.system.firstErr)
		}
	}
	if len(w.throughput) > 0 {
		t := w.throughput[len(w.throughput)-1]
		p("")
		p("The mix at concurrency %d (successful calls in the measured window):", t.concurrency)
		p("")
		var parts []string
		for i, n := range t.system.byOp {
			parts = append(parts, fmt.Sprintf("%s %d", opNames[i], n))
		}
		p("%s.", strings.Join(parts, ", "))
	}
	p("")
	p("## CPU seconds per process, per load (warm-up and measurement)")
	p("")
	header := "| concurrency | wall |"
	sep := "|---|---|"
	if len(w.throughput) > 0 {
		for _, name := range w.throughput[0].cpu.order {
			header += " " + name + " |"
			sep += "---|"
		}
	}
	p("%s PostgreSQL (every backend on the machine) |", header)
	p("%s---|", sep)
	for _, t := range w.throughput {
		row := fmt.Sprintf("| %d | %.1f s |", t.concurrency, t.cpu.wall.Seconds())
		for _, name := range t.cpu.order {
			row += fmt.Sprintf(" %.1f |", t.cpu.seconds[name])
		}
		p("%s %.1f |", row, t.cpu.postgres)
	}
	p("")
	p("## Event → report lag")
	p("")
	p("A probe submits an application in %s (a region only the probe writes to) every 50 ms while the mix runs in the other regions at the rate given, and polls `GetRegionSummary(%s)` every 5 ms: the lag is from the submission's return to the first summary that counts it.", probeRegion, probeRegion)
	p("")
	p("| load | achieved updates/s | probes | lag p50 | p90 | p99 | max | target | met | not shown in 10 s |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	for _, l := range w.lags {
		name := fmt.Sprintf("%d updates/s", l.target)
		if l.target == 0 {
			name = fmt.Sprintf("maximum (%d callers)", l.callers)
		} else if l.target <= 20 {
			name = fmt.Sprintf("%d updates/s (the probe alone)", l.target)
		}
		limit := map[string]time.Duration{"≤ 1 s": time.Second, "≤ 100 ms": 100 * time.Millisecond, "≤ 250 ms": 250 * time.Millisecond}[lagTarget(l)]
		met := yesNo(l.p99 <= limit && l.unseen == 0)
		if l.target > 20 && l.achieved < 0.95*float64(l.target) {
			met += fmt.Sprintf(" (rate not reached: %.0f/s)", l.achieved)
		}
		p("| %s | %.0f | %d | %s | %s | %s | %s | %s | %s | %d |", name, l.achieved, l.probes, ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max), lagTarget(l), met, l.unseen)
	}
	p("")
	p("## Memory")
	p("")
	p("Peak resident memory (VmHWM) of each process over the whole run (target ≤ 150 MB per service):")
	p("")
	p("| process | peak RSS | ≤ 150 MB |")
	p("|---|---|---|")
	for _, name := range w.procEnd.order {
		kb := w.procEnd.peakRSS[name]
		ok := "—"
		if slices.Contains(writeServices, name) {
			ok = yesNo(kb <= rssTargetKB)
		}
		p("| %s | %.1f MB | %s |", name, float64(kb)/1024, ok)
	}
	if len(w.counts) > 0 {
		p("")
		p("## Round trips and commits per stage update")
		p("")
		p("%d candidates taken through every stage one call at a time, each service connected to PostgreSQL through a proxy that counts round trips (each Sync or simple Query: one wait for the server) and transactions, by what each transaction touches. Per update of each kind, after every consumer had caught up. Idle relay polls and pool checks are left out.", o.countOps)
		p("")
		p("| update | process | transaction | round trips | transactions |")
		p("|---|---|---|---|---|")
		for _, r := range w.counts {
			p("| %s | %s | %s | %.2f | %.2f |", r.op, r.process, r.class, r.roundTrips, r.transactions)
		}
		p("")
		p("Totals per update kind (all processes):")
		p("")
		p("| update | round trips | transactions |")
		p("|---|---|---|")
		for _, op := range opNames {
			var rt, tx float64
			for _, r := range w.counts {
				if r.op == op {
					rt += r.roundTrips
					tx += r.transactions
				}
			}
			p("| %s | %.2f | %.2f |", op, rt, tx)
		}
	}
	if o.profiles != "" {
		p("")
		p("CPU profiles of each service during the load at concurrency %d: `%s/write-<service>.pprof` (`go tool pprof -top FILE`).", maxOf(o.concurrency), o.profiles)
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	say("report written to %s", o.out)
	fmt.Print(b.String())
	return nil
}

func region11() []string {
	var out []string
	for _, r := range regionAll() {
		if r != probeRegion {
			out = append(out, r)
		}
	}
	return out
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ",")
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func regionAll() []string { return region.All }
