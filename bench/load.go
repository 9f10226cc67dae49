package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/region"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// clients are the service's, on one connection.
type clients struct {
	pb.ReportingServiceClient
	health healthpb.HealthClient
}

// rpc is one report call the load exercises.
type rpc struct {
	name string
	call func(ctx context.Context, c clients, region string) error
}

// floorRPC names the health check row, which has no target.
const floorRPC = "Health/Check (no work: the floor)"

// asOf is after the generated data's last event (its campaigns open by
// mid-2026), so the reports measured are the live ones with the clocks run
// on to then, and find plenty stuck. One inside the data's span would be
// a report as of a past time (docs/design.md, "Point in time"), derived
// from the records: a different, slower path, measured on its own
// (BenchmarkReportsAsOf).
var asOf = timestamppb.New(time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC))

var rpcs = []rpc{
	// The floor: through the same server, connection and interceptors, with
	// no work behind it. The machine's noise moves every row with it.
	{floorRPC, func(ctx context.Context, c clients, _ string) error {
		_, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}},
	{"ListStuckCandidates (page of 50)", func(ctx context.Context, c clients, region string) error {
		_, err := c.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{Region: region, AsOf: asOf, PageSize: 50})
		return err
	}},
	{"ListStuckCandidates (breaches in SIFT)", func(ctx context.Context, c clients, region string) error {
		_, err := c.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{Region: region, AsOf: asOf, PageSize: 50,
			Severity: pb.Severity_SEVERITY_BREACH, Stage: 1})
		return err
	}},
	{"GetTimeToHire (region, all time)", func(ctx context.Context, c clients, region string) error {
		_, err := c.GetTimeToHire(ctx, &pb.GetTimeToHireRequest{Region: region})
		return err
	}},
	{"GetTimeToHire (all regions, 90 days)", func(ctx context.Context, c clients, region string) error {
		_, err := c.GetTimeToHire(ctx, &pb.GetTimeToHireRequest{From: timestamppb.New(asOf.AsTime().AddDate(0, 0, -90)), To: asOf})
		return err
	}},
	{"GetFunnel", func(ctx context.Context, c clients, region string) error {
		_, err := c.GetFunnel(ctx, &pb.GetFunnelRequest{Region: region})
		return err
	}},
	{"GetStageDurations (one year)", func(ctx context.Context, c clients, region string) error {
		_, err := c.GetStageDurations(ctx, &pb.GetStageDurationsRequest{Region: region,
			From: timestamppb.New(asOf.AsTime().AddDate(-1, 0, 0)), To: asOf})
		return err
	}},
	{"GetRegionSummary", func(ctx context.Context, c clients, region string) error {
		_, err := c.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: region, AsOf: asOf})
		return err
	}},
	{"ListRegionSummaries (12 regions)", func(ctx context.Context, c clients, region string) error {
		_, err := c.ListRegionSummaries(ctx, &pb.ListRegionSummariesRequest{AsOf: asOf})
		return err
	}},
	{"GetThresholds", func(ctx context.Context, c clients, region string) error {
		_, err := c.GetThresholds(ctx, &pb.GetThresholdsRequest{Region: region})
		return err
	}},
	{"WatchRegion (first summary)", func(ctx context.Context, c clients, region string) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s, err := c.WatchRegion(ctx, &pb.WatchRegionRequest{Region: region})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}},
}

// result is the latency of one RPC under load.
type result struct {
	name                string
	calls, errors       int
	rate                float64
	p50, p90, p99, pmax time.Duration
	firstErr            error
}

// loadReports calls each RPC from o.concurrency callers for o.duration
// and records every latency.
func loadReports(ctx context.Context, addr, adminAddr string, o options, r *report) error {
	client, closeConn, err := dialReports(addr)
	if err != nil {
		return err
	}
	defer closeConn()
	// The first report of a region loads its aggregates into the service's
	// cache; ListRegionSummaries does that for every region at once.
	// It is timed, not held to a target: give it longer than the server's
	// default deadline.
	start := time.Now()
	coldCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	_, err = client.ListRegionSummaries(coldCtx, &pb.ListRegionSummariesRequest{AsOf: asOf})
	cancel()
	if err != nil {
		return err
	}
	r.coldLoad = time.Since(start)
	say("  first ListRegionSummaries (loads every region into the cache): %s", r.coldLoad.Round(time.Millisecond))
	results, err := loadEach(ctx, client, adminAddr, o, "")
	r.results = append(r.results, results...)
	return err
}

// dialReports returns a client of the reporting service at addr, calling
// as an administrator.
func dialReports(addr string) (clients, func(), error) {
	signer, err := auth.KeyConfig{Ed25519PrivateKey: signingSeed}.Signer()
	if err != nil {
		return clients{}, nil, err
	}
	tok, err := signer.Mint(auth.Claims{Subject: "bench", Role: auth.RoleAdmin}, time.Hour)
	if err != nil {
		return clients{}, nil, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(grpcauth.PlaintextLoopback()), grpc.WithPerRPCCredentials(grpcauth.LoopbackBearerToken(tok)))
	if err != nil {
		return clients{}, nil, err
	}
	return clients{pb.NewReportingServiceClient(conn), healthpb.NewHealthClient(conn)}, func() { conn.Close() }, nil
}

// loadEach warms up and loads every report RPC in turn; prefix names its
// profiles.
func loadEach(ctx context.Context, client clients, adminAddr string, o options, prefix string) ([]result, error) {
	var out []result
	for _, x := range rpcs {
		// Warm up: connections, plans, each region once, then the same
		// load as measured, unmeasured, so each RPC is timed in a steady
		// state (not in the wake of the previous one or the cold load).
		for i := range 2 * len(region.All) {
			_ = x.call(ctx, client, region.All[i%len(region.All)])
		}
		loadRPC(ctx, client, x, o.concurrency, o.warmup)
		profiled := profileDuring(ctx, o, adminAddr, o.duration, prefix+slug(x.name))
		res := loadRPC(ctx, client, x, o.concurrency, o.duration)
		if err := <-profiled; err != nil {
			return out, err
		}
		say("  %-40s %7.0f/s  p50 %6s  p99 %6s  errors %d", x.name, res.rate, res.p50.Round(10*time.Microsecond), res.p99.Round(10*time.Microsecond), res.errors)
		if res.firstErr != nil {
			say("    first error: %v", res.firstErr)
		}
		out = append(out, res)
	}
	return out, nil
}

// loadRPC calls x from concurrency callers for d and summarises the
// latencies.
func loadRPC(ctx context.Context, client clients, x rpc, concurrency int, d time.Duration) result {
	res := result{name: x.name}
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []time.Duration
			var errs int
			var first error
			for time.Now().Before(deadline) {
				start := time.Now()
				err := x.call(ctx, client, region.All[rng.IntN(len(region.All))])
				mine = append(mine, time.Since(start))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	res.calls = len(lat)
	res.rate = float64(len(lat)) / d.Seconds()
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	res.p50, res.p90, res.p99, res.pmax = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
	return res
}

// profileDuring saves a CPU profile of the service over the next d as
// <o.profiles>/<name>.pprof, if profiles are asked for; the channel gets
// the outcome.
func profileDuring(ctx context.Context, o options, adminAddr string, d time.Duration, name string) <-chan error {
	done := make(chan error, 1)
	if o.profiles == "" {
		done <- nil
		return done
	}
	go func() { done <- saveProfile(ctx, adminAddr, d, filepath.Join(o.profiles, name+".pprof")) }()
	return done
}

// saveProfile saves a CPU profile of the service over the next d.
func saveProfile(ctx context.Context, adminAddr string, d time.Duration, file string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", adminAddr, int(d.Round(time.Second).Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("CPU profile: %w", err)
	}
	return f.Close()
}

// slug turns an RPC's name into a file name.
func slug(name string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return '-'
	}, name), "-")
}
