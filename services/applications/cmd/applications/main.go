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
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/service"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
	"github.com/probation-recruitment/pipeline/services/applications/internal/retention"
	"github.com/probation-recruitment/pipeline/services/applications/internal/store"
)

const name = "applications"

type settings struct {
	config.Common
	// TimeZone in which "today" is judged against campaign dates.
	TimeZone string `env:"TIME_ZONE" envDefault:"Europe/London"`
	// Retention: how long candidates' personal data is kept after the
	// outcome (docs/design.md §8, Retention). The defaults are the ones the
	// issue proposed; the controller sets the real ones.
	RetentionEnabled bool `env:"RETENTION_ENABLED" envDefault:"true"`
	// Days after a rejection or withdrawal.
	RetentionAfterRejected int `env:"RETENTION_AFTER_REJECTED" envDefault:"183"`
	// Days after a hired candidate's start.
	RetentionAfterStart int           `env:"RETENTION_AFTER_START" envDefault:"730"`
	RetentionInterval   time.Duration `env:"RETENTION_INTERVAL" envDefault:"1h"`
	// EqualitySchema is the equality service's schema, into whose answers
	// table this service deposits monitoring answers (INSERT only; empty:
	// monitoring answers are refused).
	EqualitySchema string `env:"EQUALITY_SCHEMA" envDefault:"equality"`
}

// retention checks the retention settings and returns the policy.
func (s settings) retention() (intake.RetentionPolicy, error) {
	switch {
	case s.RetentionAfterRejected < 1:
		return intake.RetentionPolicy{}, fmt.Errorf("RETENTION_AFTER_REJECTED: %d: must be at least 1 (days)", s.RetentionAfterRejected)
	case s.RetentionAfterStart < 1:
		return intake.RetentionPolicy{}, fmt.Errorf("RETENTION_AFTER_START: %d: must be at least 1 (days)", s.RetentionAfterStart)
	case s.RetentionInterval < time.Minute:
		return intake.RetentionPolicy{}, fmt.Errorf("RETENTION_INTERVAL: %s: must be at least 1m", s.RetentionInterval)
	}
	day := 24 * time.Hour
	return intake.RetentionPolicy{AfterEnd: time.Duration(s.RetentionAfterRejected) * day, AfterStart: time.Duration(s.RetentionAfterStart) * day}, nil
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
	policy, err := cfg.retention()
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations)
	if err != nil {
		return err
	}
	st := store.New(rt.Pool)
	svc := intake.NewService(st, time.Now, local)
	api := grpcapi.New(svc, rt.Pool, rt.Log).WithEquality(cfg.EqualitySchema)
	pb.RegisterApplicationsServiceServer(rt.Server.GRPC(), api)
	privacy.Register(rt.Server.GRPC(), name, api.Export, rt.Log)
	audit.Register(rt.Server.GRPC(), rt.Audit, grpcapi.Audit, privacy.Policy)
	if cfg.RetentionEnabled {
		rt.Go(retention.New(svc, st, policy, cfg.RetentionInterval, rt.Server.Registry(), rt.Log).Run)
	} else {
		rt.Log.Warn("RETENTION_ENABLED=false: no candidate's personal data is erased when its retention period ends")
	}
	// The stage owners' events keep each application's stage current here.
	if err := rt.Consume("", intake.StageEvents, svc.ApplyStageEvent); err != nil {
		return err
	}
	return rt.Run(ctx)
}
