package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/config"
)

// unsetenv clears name for the test, restoring it afterwards.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

// cancelled is a done context: should run get past its configuration
// checks, it stops at once instead of serving.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestVettingDuePeriod: a start before vetting clears is due to clear
// eight weeks after the start unless VETTING_DUE_PERIOD says otherwise.
// (No t.Parallel: the test sets environment variables.)
func TestVettingDuePeriod(t *testing.T) {
	unsetenv(t, "VETTING_DUE_PERIOD")
	var cfg settings
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.VettingDuePeriod != 8*7*24*time.Hour {
		t.Errorf("default VETTING_DUE_PERIOD = %v, want 8 weeks", cfg.VettingDuePeriod)
	}
	t.Setenv("VETTING_DUE_PERIOD", "720h")
	if err := config.Load(&cfg); err != nil || cfg.VettingDuePeriod != 30*24*time.Hour {
		t.Errorf("VETTING_DUE_PERIOD=720h gives %v, %v; want 30 days", cfg.VettingDuePeriod, err)
	}
	for _, bad := range []string{"eight weeks", "0h", "12h", "36h", "8800h", "-24h"} {
		t.Setenv("VETTING_DUE_PERIOD", bad)
		if err := run(cancelled()); err == nil || !strings.Contains(err.Error(), "VETTING_DUE_PERIOD") {
			t.Errorf("run with VETTING_DUE_PERIOD=%s = %v, want an error naming it", bad, err)
		}
	}
}

// TestBadTimeZone: run refuses a zone it cannot load before connecting to
// anything.
func TestBadTimeZone(t *testing.T) {
	unsetenv(t, "VETTING_DUE_PERIOD")
	t.Setenv("TIME_ZONE", "Europe/Atlantis")
	if err := run(cancelled()); err == nil || !strings.Contains(err.Error(), "TIME_ZONE") {
		t.Errorf("run with TIME_ZONE=Europe/Atlantis = %v, want an error naming TIME_ZONE", err)
	}
}

// TestBadDefaultAssignees: run refuses an OFFERS_DEFAULT_ASSIGNEES it
// cannot read (an email address would put personal data in events) before
// connecting to anything.
func TestBadDefaultAssignees(t *testing.T) {
	unsetenv(t, "VETTING_DUE_PERIOD")
	unsetenv(t, "TIME_ZONE")
	for bad, want := range map[string]string{
		"london=jo@justice.example": "not an email address",
		"atlantis=spoc-1":           "unknown region",
		"london=spoc-1;london=x":    "region given twice",
	} {
		t.Setenv("OFFERS_DEFAULT_ASSIGNEES", bad)
		err := run(cancelled())
		if err == nil || !strings.Contains(err.Error(), "OFFERS_DEFAULT_ASSIGNEES") || !strings.Contains(err.Error(), want) {
			t.Errorf("run with OFFERS_DEFAULT_ASSIGNEES=%q = %v, want an error naming the variable saying %q", bad, err, want)
		}
	}
}
