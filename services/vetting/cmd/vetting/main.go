// Command vetting serves security vetting cases (recruitment.vetting.v1),
// opening one when an offer is accepted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/service"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/store"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

const name = "vetting"

type settings struct {
	config.Common
	// Levels overrides the vetting level of job roles, e.g.
	// "administrator=BPSS,probation_officer=SC".
	Levels string `env:"VETTING_LEVELS"`
	// DefaultAssignees names, per region, the vetting contact points a new
	// case is assigned to, spread evenly: "london=a,b;wales=c" (subject
	// ids). A region left out opens cases unassigned.
	DefaultAssignees string `env:"VETTING_DEFAULT_ASSIGNEES"`
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
	cfg.Defaults(name, "127.0.0.1:50054", "127.0.0.1:9054")
	levels, err := vetting.ParseLevels(cfg.Levels)
	if err != nil {
		return err
	}
	defaults, err := assign.ParseDefaults(cfg.DefaultAssignees)
	if err != nil {
		return fmt.Errorf("VETTING_DEFAULT_ASSIGNEES: %w", err)
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations...)
	if err != nil {
		return err
	}
	svc := vetting.NewService(store.New(rt.Pool), time.Now, levels, defaults)
	api := grpcapi.New(svc, rt.Pool, rt.Log)
	pb.RegisterVettingServiceServer(rt.Server.GRPC(), api)
	privacy.Register(rt.Server.GRPC(), name, api.Export, rt.Log)
	audit.Register(rt.Server.GRPC(), rt.Audit, grpcapi.Audit, privacy.Policy)
	if err := rt.Consume("", vetting.Consumes, svc.HandleEvent); err != nil {
		return err
	}
	return rt.Run(ctx)
}
