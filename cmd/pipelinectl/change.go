package main

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
)

// change holds the flags every mutating command shares: a request id that
// makes a retry safe, and the version the change expects.
type change struct {
	requestID string
	version   int64
	versioned bool
}

const versionHelp = "the record's version you last read (get and list show it); a stale one fails (exit 6). " +
	"Without it pipelinectl reads the current version first, which skips that check"

func addChange(cmd *cobra.Command, c *change, versioned bool) {
	cmd.Flags().StringVar(&c.requestID, "request-id", "",
		"id that makes a retry apply once (default: a new UUID, printed so you can retry with it)")
	if versioned {
		c.versioned = true
		cmd.Flags().Int64Var(&c.version, "version", 0, versionHelp)
	}
}

// prepare fills the request id and, unless --version was given, the
// version from fetch, and records the change on a so that run can print
// how to retry it (after the call, whatever its outcome).
func (c *change) prepare(a *app, cmd *cobra.Command, fetch func() (int64, error)) error {
	if c.requestID == "" {
		c.requestID = uuid.NewString()
	}
	if c.versioned && !cmd.Flags().Changed("version") {
		v, err := fetch()
		if err != nil {
			return fmt.Errorf("read the current version: %w", err)
		}
		c.version = v
	}
	a.change = c
	return nil
}

// retryFlags are the flags that repeat this exact change.
func (c *change) retryFlags() string {
	if c.versioned {
		return fmt.Sprintf("--request-id %s --version %d", c.requestID, c.version)
	}
	return "--request-id " + c.requestID
}

// changeCmd builds a command that changes one record identified by its
// application id: it reads the version unless --version is given, makes
// the call, and shows the record the response carries.
func changeCmd[R proto.Message](a *app, use, short, example string,
	version func(ctx context.Context, id string) (int64, error),
	call func(ctx context.Context, id string, ch *change) (R, error),
	show func(R) view,
) *cobra.Command {
	var ch change
	cmd := &cobra.Command{
		Use:     use + " APPLICATION_ID",
		Short:   short,
		Example: example,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := ch.prepare(a, cmd, func() (int64, error) { return version(ctx, args[0]) }); err != nil {
				return err
			}
			resp, err := call(ctx, args[0], &ch)
			if err != nil {
				return err
			}
			return a.emit(resp, show(resp))
		},
	}
	addChange(cmd, &ch, true)
	return cmd
}
