// Command applications serves campaigns and applications
// (recruitment.applications.v1) and publishes their events.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host's zoneinfo

	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/service"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
	"github.com/probation-recruitment/pipeline/services/applications/internal/store"
)

const name = "applications"

type settings struct {
	config.Common
	// TimeZone in which "today" is judged against campaign dates.
	TimeZone string `env:"TIME_ZONE" envDefault:"Europe/London"`
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cfg settings
	if err := config.Load(&cfg); err != nil {
		return err
	}
	cfg.Defaults(name, "127.0.0.1:50051", "127.0.0.1:9051")
	local, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return fmt.Errorf("TIME_ZONE: %w", err)
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations)
	if err != nil {
		return err
	}
	svc := intake.NewService(store.New(rt.Pool), time.Now, local)
	pb.RegisterApplicationsServiceServer(rt.Server.GRPC(), grpcapi.New(svc, rt.Pool, rt.Log))
	audit.Register(rt.Server.GRPC(), rt.Audit, grpcapi.Audit)
	// The stage owners' events keep each application's stage current here.
	if err := rt.Consume("", intake.StageEvents, svc.ApplyStageEvent); err != nil {
		return err
	}
	return rt.Run(ctx)
}
