// Command reporting keeps the per-region projections of every pipeline
// event and answers reports over gRPC (recruitment.reporting.v1).
//
//	reporting            serve
//	reporting rebuild    replay the stream into a fresh projection and swap it in
//	                     (stop the service first)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host's zoneinfo

	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/alerts"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/rebuild"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/watch"
)

const name = "reporting"

type settings struct {
	config.Common
	// Batch is how many events the projection applies per transaction.
	Batch int `env:"PROJECTION_BATCH" envDefault:"1000"`
	// RebuildBatch is how many events a rebuild applies per transaction;
	// a replay has no unacknowledged-message limit, and fewer, larger
	// transactions replay faster.
	RebuildBatch int `env:"REBUILD_BATCH" envDefault:"5000"`
	// ImportSettle is how long a stuck crossing found in an imported
	// application's history waits for the rest of it before it is
	// announced (docs/design.md, "Stuck events").
	ImportSettle time.Duration `env:"STUCK_IMPORT_SETTLE" envDefault:"10m"`
}

func main() {
	var err error
	switch {
	case len(os.Args) == 1:
		err = run(context.Background())
	case len(os.Args) == 2 && os.Args[1] == "rebuild":
		err = runRebuild(context.Background())
	default:
		fmt.Fprintln(os.Stderr, "usage: reporting [rebuild]\n\n  reporting          serve reports\n  reporting rebuild  replay the event stream into a fresh projection and swap it in (stop the service first)")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func load() (settings, error) {
	var cfg settings
	if err := config.Load(&cfg); err != nil {
		return cfg, err
	}
	cfg.Defaults(name, "127.0.0.1:50055", "127.0.0.1:9055")
	return cfg, nil
}

func run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := load()
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations)
	if err != nil {
		return err
	}
	st := store.New(rt.Pool).WithImportSettle(cfg.ImportSettle)
	// Serve anyway: the records lacking new facts keep the old rules, which
	// is what this version replaced, not wrong data.
	if reasons, err := st.RebuildNeeded(ctx); err != nil {
		return err
	} else if len(reasons) > 0 {
		rt.Log.Warn("the projection needs a rebuild: stop the service and run `reporting rebuild`", "reasons", reasons)
	}
	reports := report.NewService(st)
	// The hub tells reports of the changes other replicas commit; this
	// one's consumer tells them of its own before it acks.
	hub := watch.NewHub(rt.Pool, rt.Log, reports)
	pb.RegisterReportingServiceServer(rt.Server.GRPC(), grpcapi.New(reports, rt.Pool, hub, time.Now, rt.Log))
	rt.Audit.Declare(grpcapi.Audit)
	if err := rt.ConsumeBatches(cfg.Batch, st.Apply, reports.Changed); err != nil {
		return err
	}
	rt.Go(hub.Run)
	// Crossings with time alone; those an event causes, its batch writes.
	rt.Go(alerts.New(rt.Pool, st, alerts.RealClock, alerts.Config{Registerer: rt.Server.Registry()}, rt.Log).Run)
	// The operator's view of the stuck lists (reporting_stuck_clocks).
	rt.Go(report.NewStuckGauge(reports, region.All, 0, time.Now, rt.Server.Registry(), rt.Log).Run)
	rt.Go(func(ctx context.Context) error {
		// Only a head start: a report loads what it needs anyway.
		if err := reports.Warm(ctx, region.All); err != nil && ctx.Err() == nil {
			rt.Log.Warn("warming the report cache", "err", err)
		}
		return nil
	})
	return rt.Run(ctx)
}

func runRebuild(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := load()
	if err != nil {
		return err
	}
	log := cfg.Logger(name)
	creds, err := cfg.NATSCredentials(name)
	if err != nil {
		return err
	}
	nc, js, err := stream.Connect(cfg.NATSURL, name+"-rebuild", creds, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	lastReport := time.Time{}
	last, err := rebuild.Rebuild(ctx, js, rebuild.Options{
		DatabaseURL: cfg.DatabaseURL, Schema: cfg.DBSchema, Stream: cfg.NATSStream, Batch: cfg.RebuildBatch,
		Consumer: consumer.Config{Stream: cfg.NATSStream, Durable: name, FilterSubject: cfg.NATSSubjectPrefix + ".>", SubjectPrefix: cfg.NATSSubjectPrefix},
		Progress: func(done, total uint64, elapsed time.Duration) {
			if time.Since(lastReport) < 2*time.Second && done < total {
				return
			}
			lastReport = time.Now()
			fmt.Printf("rebuild: event %d of %d (%.0f%%), %.0f events/s\n",
				done, total, 100*float64(done)/float64(max(total, 1)), float64(done)/max(elapsed.Seconds(), 0.001))
		},
	})
	if err != nil {
		return err
	}
	fmt.Printf("rebuild: done; projection swapped in, live consumer continues after event %d\n", last)
	return nil
}
