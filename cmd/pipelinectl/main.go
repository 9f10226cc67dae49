// Command pipelinectl is the command-line client of the recruitment
// pipeline tracker: one command per user task, over the services' gRPC
// APIs. `pipelinectl help` lists the commands, the environment and the exit
// codes.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (pkg/tracing); then a
	// command's calls start the traces of the changes they make.
	stopTracing, err := tracing.Setup(ctx, "pipelinectl", slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipelinectl:", err)
		os.Exit(exitUsage)
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	flush, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = stopTracing(flush) // a collector that is down loses the spans, not the command
	cancel()
	os.Exit(code)
}

// run executes one command line and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newApp(stdout, stderr).run(ctx, args)
}

// run executes one command line with a's output and settings (tests set
// configHome) and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	defer a.close()
	root := a.root()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		if a.change != nil {
			fmt.Fprintf(a.stderr, "request id %s (retry safely with %s)\n", a.change.requestID, a.change.retryFlags())
		}
		return exitOK
	}
	if ctx.Err() != nil {
		err = errInterrupted
	}
	lines, code := report(err, a.started, cmd.CommandPath())
	switch {
	case a.change != nil && outcomeUnknown(code):
		lines = append(lines, "the change may or may not have been made; to retry it safely, run the command again with "+a.change.retryFlags())
	case a.change != nil && code == exitPartial:
		lines = append(lines, "request id "+a.change.requestID)
	}
	for i, l := range lines {
		if i == 0 {
			l = "pipelinectl: " + l
		} else if !strings.HasPrefix(l, " ") {
			l = "  " + l
		}
		fmt.Fprintln(a.stderr, l)
	}
	return code
}
