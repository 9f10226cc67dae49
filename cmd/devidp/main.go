// Command devidp runs the development OpenID Connect provider (pkg/devidp)
// for `make run`: a sign-in page with a button per demo user, for the
// dashboard and `pipelinectl login`. It listens on loopback only.
//
// Environment:
//
//	DEVIDP_ADDR                loopback host:port to listen on (127.0.0.1:5556)
//	DEVIDP_DASHBOARD_REDIRECT  the dashboard's redirect URI
//	                           (http://127.0.0.1:8080/auth/callback)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/devidp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devidp:", err)
		os.Exit(1)
	}
}

type config struct {
	addr              string
	dashboardRedirect string
}

func configFromEnv() (config, error) {
	c := config{
		addr:              envOr("DEVIDP_ADDR", "127.0.0.1:5556"),
		dashboardRedirect: envOr("DEVIDP_DASHBOARD_REDIRECT", "http://127.0.0.1:8080/auth/callback"),
	}
	if !devidp.IsLoopbackAddr(c.addr) {
		return config{}, fmt.Errorf("DEVIDP_ADDR %q: must be a loopback host:port (it signs anyone in as anyone)", c.addr)
	}
	return c, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func run(ctx context.Context, out io.Writer) error {
	cfg, err := configFromEnv()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer l.Close()
	// The listener's address, not DEVIDP_ADDR: port 0 picks a free one.
	issuer := "http://" + l.Addr().String()
	users := devidp.DemoUsers()
	clients := []devidp.Client{devidp.DashboardClient(cfg.dashboardRedirect), devidp.CLIClient()}
	idp, err := devidp.New(devidp.Config{Issuer: issuer, Users: users, Clients: clients})
	if err != nil {
		return err
	}
	printBanner(out, idp.Issuer(), users, clients)

	srv := &http.Server{Handler: idp.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	slog.Info("devidp stopped")
	return nil
}

func printBanner(out io.Writer, issuer string, users []devidp.User, clients []devidp.Client) {
	fmt.Fprintf(out, "development OpenID provider (no passwords; loopback only)\n")
	fmt.Fprintf(out, "  issuer     %s\n", issuer)
	fmt.Fprintf(out, "  discovery  %s/.well-known/openid-configuration\n", issuer)
	fmt.Fprintf(out, "  clients\n")
	for _, c := range clients {
		secret := "public, PKCE"
		if c.Secret != "" {
			secret = "secret " + c.Secret
		}
		redirect := strings.Join(c.RedirectURIs, " ")
		if c.Loopback {
			redirect += " (any port)"
		}
		fmt.Fprintf(out, "    %-22s %s; redirect %s\n", c.ID, secret, redirect)
	}
	fmt.Fprintf(out, "  demo users (sub  role  regions)\n")
	for _, u := range users {
		regions := strings.Join(u.Regions, ",")
		switch {
		case regions != "":
		case u.Role == devidp.RoleAdmin:
			regions = "(all)"
		default:
			regions = "(none)"
		}
		fmt.Fprintf(out, "    %-18s %-10s %-10s %s\n", u.ID, u.Role, regions, u.Name)
	}
}
