package main

import (
	"strings"
	"testing"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

func TestEnumFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want commonv1.JobRole
	}{
		{"probation-officer", commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER},
		{"probation_services_officer", commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER},
		{"UPW-SUPERVISOR", commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR},
		{"JOB_ROLE_ADMINISTRATOR", commonv1.JobRole_JOB_ROLE_ADMINISTRATOR},
		{" other ", commonv1.JobRole_JOB_ROLE_OTHER},
	}
	for _, tt := range tests {
		v := newEnum(commonv1.JobRole(0))
		if err := v.Set(tt.in); err != nil {
			t.Errorf("Set(%q): %v", tt.in, err)
			continue
		}
		if got := commonv1.JobRole(v.number()); got != tt.want {
			t.Errorf("Set(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "unspecified", "JOB_ROLE_UNSPECIFIED", "officer", "probation officer"} {
		err := newEnum(commonv1.JobRole(0)).Set(bad)
		if err == nil || !strings.Contains(err.Error(), "probation-officer, probation-services-officer, administrator") {
			t.Errorf("Set(%q) = %v, want an error listing the roles", bad, err)
		}
	}
}

func TestEnumNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{friendly(commonv1.Stage_STAGE_PRE_EMPLOYMENT), "pre-employment"},
		{friendly(commonv1.Stage_STAGE_UNSPECIFIED), ""},
		{friendly(commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS), "missing-documents"},
		{friendly(vettingv1.CaseStatus_CASE_STATUS_FORMS_RECEIVED), "forms-received"},
		{newEnum(commonv1.BlockReason(0)).Type(), "block-reason"},
		{oneOf(commonv1.Outcome(0)), "one of: pass, fail"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestEnumSliceFlag(t *testing.T) {
	t.Parallel()
	v := newEnumSlice(commonv1.OfferCondition(0))
	for _, s := range []string{"vetting,references", "right-to-work"} {
		if err := v.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := v.String(); got != "vetting,references,right-to-work" {
		t.Errorf("conditions = %q", got)
	}
	if err := v.Set("vetting,nope"); err == nil {
		t.Error("a bad condition in a list was accepted")
	}
}

func TestRegionDateTimeFlags(t *testing.T) {
	t.Parallel()
	var r regionValue
	if err := r.Set("kent-surrey-sussex"); err != nil || r.String() != "kent-surrey-sussex" {
		t.Errorf("region: %q, %v", r.String(), err)
	}
	if err := r.Set("London"); err == nil || !strings.Contains(err.Error(), "yorkshire-humber") {
		t.Errorf("region London: %v, want an error listing the regions", err)
	}

	var d dateValue
	if err := d.Set("2026-02-28"); err != nil || d.String() != "2026-02-28" {
		t.Errorf("date: %q, %v", d.String(), err)
	}
	for _, bad := range []string{"2026-02-30", "28/02/2026", "2026-2-28"} {
		if err := d.Set(bad); err == nil {
			t.Errorf("date %q accepted", bad)
		}
	}

	var tm timeValue
	if err := tm.Set("2026-12-01T10:00:00+01:00"); err != nil || tm.String() != "2026-12-01T09:00:00Z" {
		t.Errorf("time: %q, %v", tm.String(), err)
	}
	if err := tm.Set("2026-12-01"); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("a date as a time: %v", err)
	}
}

func TestThresholdFlag(t *testing.T) {
	t.Parallel()
	var v thresholdValue
	if err := v.Set("10/14"); err != nil || v.warning != 10 || v.breach != 14 || v.String() != "10/14" {
		t.Errorf("10/14 = %+v, %v", v, err)
	}
	for _, bad := range []string{"10", "10-14", "a/b", "10/"} {
		if err := (&thresholdValue{}).Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRegionPostsFlag(t *testing.T) {
	t.Parallel()
	var v regionPostsValue
	if err := v.Set("london=120, wales=30,north-east=150"); err != nil {
		t.Fatal(err)
	}
	if !v.multi() || v.String() != "london=120;wales=30;north-east=150" {
		t.Errorf("Set = %s (multi %v)", v.String(), v.multi())
	}
	if err := v.Set("wales"); err != nil || v.multi() || len(v.list) != 1 {
		t.Errorf("one region: %v, %v", v.list, err)
	}
	for bad, want := range map[string]string{
		"atlantis=3":       "is not a region",
		"london=0":         "at least 1",
		"london=x":         "whole number",
		"london,wales=3":   "give every region its posts",
		"london=3,wales=3": "",
	} {
		err := v.Set(bad)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("Set(%q) = %v, want %q", bad, err, want)
		}
	}
}
