// Command offers serves conditional offers and starts
// (recruitment.offers.v1), reacting to interviews passed, withdrawals and
// vetting outcomes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host's zoneinfo

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/config"
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/service"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
	"github.com/probation-recruitment/pipeline/services/offers/internal/store"
)

const name = "offers"

type settings struct {
	config.Common
	// TimeZone in which "today" is judged for start dates.
	TimeZone string `env:"TIME_ZONE" envDefault:"Europe/London"`
	// VettingDuePeriod after a start before vetting clears by which vetting
	// must clear: the default due date and the latest allowed.
	VettingDuePeriod time.Duration `env:"VETTING_DUE_PERIOD" envDefault:"1344h"` // 8 weeks
	// DefaultAssignees names, per region, the SPOCs a new offer record is
	// assigned to, spread evenly: "london=a,b;wales=c" (subject ids). A
	// region left out opens records unassigned.
	DefaultAssignees string `env:"OFFERS_DEFAULT_ASSIGNEES"`
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
	cfg.Defaults(name, "127.0.0.1:50053", "127.0.0.1:9053")
	// The period bounds every vetting due date (a later one is refused), so
	// a typo must not open it wide or shut it.
	if p := cfg.VettingDuePeriod; p < 24*time.Hour || p > 366*24*time.Hour || p%(24*time.Hour) != 0 {
		return fmt.Errorf("VETTING_DUE_PERIOD: %v must be whole days, from 1 day (24h) to 366 days (8784h)", p)
	}
	local, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return fmt.Errorf("TIME_ZONE: %w", err)
	}
	defaults, err := assign.ParseDefaults(cfg.DefaultAssignees)
	if err != nil {
		return fmt.Errorf("OFFERS_DEFAULT_ASSIGNEES: %w", err)
	}
	rt, err := service.Start(ctx, name, cfg.Common, store.Migrations...)
	if err != nil {
		return err
	}
	svc := offer.NewService(store.New(rt.Pool), time.Now, local, cfg.VettingDuePeriod, defaults)
	api := grpcapi.New(svc, rt.Pool, rt.Log)
	pb.RegisterOffersServiceServer(rt.Server.GRPC(), api)
	privacy.Register(rt.Server.GRPC(), name, api.Export, rt.Log)
	audit.Register(rt.Server.GRPC(), rt.Audit, grpcapi.Audit, privacy.Policy)
	if err := rt.Consume("", offer.Consumes, svc.HandleEvent); err != nil {
		return err
	}
	return rt.Run(ctx)
}
