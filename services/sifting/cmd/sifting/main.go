// Command sifting serves the SIFT and INTERVIEW stages
// (recruitment.sifting.v1), opening a case for each submitted application.
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
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/store"
)

const name = "sifting"

type settings struct {
	config.Common
	// DefaultAssignees names, per region, the SPOCs a new case is assigned
	// to, spread evenly: "london=a,b;wales=c" (subject ids). A region left
	// out opens cases unassigned.
	DefaultAssignees string `env:"SIFTING_DEFAULT_ASSIGNEES"`
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
	cfg.Defaults(name, "127.0.0.1:50052", "127.0.0.1:9052")
	defaults, err := assign.ParseDefaults(cfg.DefaultAssignees)
	if err != nil {
		return fmt.Errorf("SIFTING_DEFAULT_ASSIGNEES: %w", err)
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations...)
	if err != nil {
		return err
	}
	svc := sift.NewService(store.New(rt.Pool), time.Now, defaults)
	api := grpcapi.New(svc, rt.Pool, rt.Log)
	pb.RegisterSiftingServiceServer(rt.Server.GRPC(), api)
	privacy.Register(rt.Server.GRPC(), name, api.Export, rt.Log)
	audit.Register(rt.Server.GRPC(), rt.Audit, grpcapi.Audit, privacy.Policy)
	// Submissions open cases; withdrawals close them.
	if err := rt.Consume("*.application.>", sift.Consumes, svc.HandleEvent); err != nil {
		return err
	}
	return rt.Run(ctx)
}
