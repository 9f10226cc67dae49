package main

import (
	"context"
	"strings"
	"testing"
)

// TestBadDefaultAssignees: run refuses a SIFTING_DEFAULT_ASSIGNEES it
// cannot read (an email address would put personal data in events) before
// connecting to anything. (No t.Parallel: the test sets environment
// variables.)
func TestBadDefaultAssignees(t *testing.T) {
	// A done context: should run get past its configuration checks, it
	// stops at once instead of serving.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for bad, want := range map[string]string{
		"london=jo@justice.example": "not an email address",
		"atlantis=spoc-1":           "unknown region",
		"london":                    "want region=subject",
	} {
		t.Setenv("SIFTING_DEFAULT_ASSIGNEES", bad)
		err := run(ctx)
		if err == nil || !strings.Contains(err.Error(), "SIFTING_DEFAULT_ASSIGNEES") || !strings.Contains(err.Error(), want) {
			t.Errorf("run with SIFTING_DEFAULT_ASSIGNEES=%q = %v, want an error naming the variable saying %q", bad, err, want)
		}
	}
}
