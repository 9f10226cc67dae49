package main

import (
	"context"
	"strings"
	"testing"
)

// TestBadVettingLevels: run refuses a VETTING_LEVELS it cannot read before
// connecting to anything. (No t.Parallel: the test sets environment
// variables.)
func TestBadVettingLevels(t *testing.T) {
	// A done context: should run get past its configuration checks, it
	// stops at once instead of serving.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, bad := range []string{"administrator", "administrator=TS", "astronaut=SC"} {
		t.Setenv("VETTING_LEVELS", bad)
		err := run(ctx)
		if err == nil || !strings.Contains(err.Error(), "VETTING_LEVELS") || !strings.Contains(err.Error(), bad) {
			t.Errorf("run with VETTING_LEVELS=%q = %v, want an error naming the variable and the value", bad, err)
		}
	}
}
