package main

import (
	"context"
	"strings"
	"testing"
)

// TestBadSettings: run refuses settings it cannot use before connecting
// to anything, naming the variable. (No t.Parallel: the test sets
// environment variables.)
func TestBadSettings(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct{ variable, value string }{
		{"NOTIFIER_DIGEST_HOUR", "24"},
		{"NOTIFIER_MAX_ATTEMPTS", "0"},
		{"NOTIFIER_RETRY_BASE", "0s"},
		{"SMTP_SECURITY", "ssl"},
		{"SMTP_ADDR", "mail.example"},
		{"SMTP_FROM", "nobody"},
		{"APPLICATIONS_TOKEN_FILE", "/nonexistent/token"},
	} {
		t.Run(tc.variable, func(t *testing.T) {
			t.Setenv(tc.variable, tc.value)
			err := run(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.variable) {
				t.Errorf("run with %s=%q = %v, want an error naming the variable", tc.variable, tc.value, err)
			}
		})
	}
	t.Run("plain text to a remote SMTP server", func(t *testing.T) {
		t.Setenv("SMTP_SECURITY", "none")
		t.Setenv("SMTP_ADDR", "mail.example:25")
		if err := run(ctx); err == nil || !strings.Contains(err.Error(), "SMTP_SECURITY") {
			t.Errorf("run = %v, want a refusal naming SMTP_SECURITY", err)
		}
	})
}
