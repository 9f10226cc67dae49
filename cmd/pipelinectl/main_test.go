package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// runCLI runs one command line in-process, with a configuration directory
// of its own: a developer's sign-in must not leak into (or be refreshed by)
// the tests.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runIn(t, t.TempDir(), args...)
}

// runIn runs one command line with home as the user's configuration
// directory.
func runIn(t *testing.T, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.configHome = home
	// The test servers listen in plain text on loopback, as make run's do.
	code = a.run(context.Background(), append(args[:len(args):len(args)], "--insecure"))
	return out.String(), errOut.String(), code
}

// Every command has help that explains it, and its flags are consistent
// (building the tree panics on a misspelt required flag).
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			n++
			path := strings.Fields(sub.CommandPath())[1:]
			out, _, code := runCLI(t, append(path, "--help")...)
			want := sub.Long
			if want == "" {
				want = sub.Short
			}
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("%s --help: exit %d\n%s", sub.CommandPath(), code, out)
			}
			if !sub.HasSubCommands() && sub.Example == "" {
				t.Errorf("%s has no example", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(newApp(nil, nil).root())
	if n < 50 {
		t.Errorf("found %d commands, want every RPC covered", n)
	}
}

func TestUsageErrorsSendNothing(t *testing.T) {
	t.Parallel()
	// An address nothing listens on: a usage error must fail before any call.
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `unknown command "nope" for "pipelinectl"`},
		{[]string{"vetting", "nope"}, `unknown command "nope" for "pipelinectl vetting"`},
		{[]string{"vetting", "block", "--reason", "missing-documents"}, "needs one application id"},
		{[]string{"vetting", "block", "x", "--reason", "lost"}, `unknown block-reason "lost"`},
		{[]string{"offers", "list"}, `required flag(s) "region" not set`},
		{[]string{"offers", "list", "--region", "mars"}, `unknown region "mars"`},
		{[]string{"campaigns", "create", "--region", "wales", "--role", "other", "--title", "T", "--posts", "1", "--opens-on", "2026-01-01"},
			"give --closes-on, or --rolling"},
		{[]string{"sift", "batch", "--campaign", "c"}, "no decisions"},
		{[]string{"-o", "yaml", "campaigns", "list"}, `--output must be one of table, json, csv, not "yaml"`},
		{[]string{"token", "--role", "spoc", "--subject", "s"}, "--region is required"},
		{[]string{"reports", "thresholds", "set", "--region", "london", "--clear-role"}, "--clear-role needs --role"},
		{[]string{"reports", "thresholds", "set", "--region", "london", "--role", "clerk"}, `unknown job-role "clerk"`},
		{[]string{"token", "--role", "notifier", "--subject", "n", "--region", "london"}, "the notifier role is not regional"},
	}
	for _, tt := range tests {
		_, stderr, code := runCLI(t, append(tt.args, "--applications-addr", "127.0.0.1:1", "--vetting-addr", "127.0.0.1:1")...)
		if code != exitUsage || !strings.HasPrefix(stderr, "pipelinectl: ") || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestUnreachableService(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, stderr, code := runCLI(t, "vetting", "unblock", "0192f3a4-5b6c-7d8e-9f00-112233445566", "--version", "2",
		"--request-id", "r-1", "--vetting-addr", addr)
	if code != exitUnavailable {
		t.Errorf("exit %d, want %d", code, exitUnavailable)
	}
	for _, want := range []string{"cannot reach the vetting service at " + addr, "make run", "--request-id r-1 --version 2"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

func TestTokenKeepsWorking(t *testing.T) {
	t.Parallel()
	out, stderr, code := runCLI(t, "token", "--role", "admin", "--subject", "admin-1")
	if code != 0 || strings.Count(strings.TrimSpace(out), ".") != 2 || stderr != "" {
		t.Errorf("token: exit %d, stdout %q, stderr %q; want one JWT", code, out, stderr)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	var v timeValue
	if err := v.Set(s); err != nil {
		t.Fatal(err)
	}
	return v.t.AsTime()
}

// TestInsecureOnlyToLoopback: --insecure (plain text) is refused for an
// address on another machine, before any connection, and with a CA file.
func TestInsecureOnlyToLoopback(t *testing.T) {
	t.Parallel()
	_, stderr, code := runCLI(t, "campaigns", "list", "--applications-addr", "192.0.2.10:50051")
	if code != exitUsage || !strings.Contains(stderr, `--applications-addr "192.0.2.10:50051": --insecure sends plain text only to a loopback address`) {
		t.Errorf("exit %d, stderr %q; want a usage error naming --insecure", code, stderr)
	}
	_, stderr, code = runCLI(t, "campaigns", "list", "--ca-file", "ca.crt")
	if code != exitUsage || !strings.Contains(stderr, "--insecure: set it or --ca-file") {
		t.Errorf("exit %d, stderr %q; want a usage error for --insecure with --ca-file", code, stderr)
	}
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.configHome = t.TempDir()
	if code := a.run(context.Background(), []string{"campaigns", "list", "--ca-file", "/nonexistent/ca.crt"}); code != exitUsage ||
		!strings.Contains(errOut.String(), "--ca-file: open /nonexistent/ca.crt") {
		t.Errorf("a missing --ca-file: exit %d, stderr %q", code, errOut.String())
	}
}
