// Command equality keeps the equality monitoring answers (special category
// data, deposited by the applications service with a write-only grant)
// apart from everything else, follows every application's stages from the
// stage owners' events, and reports the equality funnel
// (recruitment.equality.v1) under disclosure control. It serves its part
// of the subject access export and deletes a candidate's answers on
// application.erased.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/service"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
	"github.com/probation-recruitment/pipeline/services/equality/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/equality/internal/store"
)

const name = "equality"

type settings struct {
	config.Common

	// DepositorRole is the database role (the applications service's)
	// granted INSERT, and only INSERT, on the answers table; empty: none,
	// so no answers can arrive.
	DepositorRole string `env:"EQUALITY_DEPOSITOR_ROLE"`
	// The disclosure rules (pkg/disclosure): threshold at least 5.
	Threshold          int     `env:"DISCLOSURE_THRESHOLD" envDefault:"10"`
	RoundBase          int     `env:"DISCLOSURE_ROUND_BASE" envDefault:"5"`
	MinDeclarationRate float64 `env:"DISCLOSURE_MIN_DECLARATION_RATE" envDefault:"0.6"`
}

// LogValue shows the settings for the start-up log.
func (s settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("depositor_role", s.DepositorRole),
		slog.Int("disclosure_threshold", s.Threshold),
		slog.Int("disclosure_round_base", s.RoundBase),
		slog.Float64("disclosure_min_declaration_rate", s.MinDeclarationRate),
	)
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
	cfg.Defaults(name, "127.0.0.1:50057", "127.0.0.1:9057")
	policy := disclosure.Config{Threshold: cfg.Threshold, RoundBase: cfg.RoundBase, MinDeclarationRate: cfg.MinDeclarationRate}
	if err := policy.Validate(); err != nil {
		return fmt.Errorf("DISCLOSURE_*: %w", err)
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations...)
	if err != nil {
		return err
	}
	rt.Log.Info("equality settings", "settings", cfg)
	if cfg.DepositorRole != "" {
		if err := store.GrantDeposit(ctx, rt.Pool, cfg.DBSchema, cfg.DepositorRole); err != nil {
			return err
		}
	} else {
		rt.Log.Warn("EQUALITY_DEPOSITOR_ROLE is not set: no service may deposit monitoring answers")
	}
	svc, err := funnel.NewService(store.New(rt.Pool), policy)
	if err != nil {
		return err
	}
	api := grpcapi.New(svc, rt.Log)
	pb.RegisterEqualityServiceServer(rt.Server.GRPC(), api)
	privacy.Register(rt.Server.GRPC(), name, api.Export, rt.Log)
	audit.Register(rt.Server.GRPC(), rt.Audit, grpcapi.Audit, privacy.Policy)
	if err := rt.Consume("", funnel.Consumes, svc.HandleEvent); err != nil {
		return err
	}
	return rt.Run(ctx)
}
