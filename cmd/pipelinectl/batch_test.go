package main

import (
	"strings"
	"testing"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func TestReadDecisions(t *testing.T) {
	t.Parallel()
	in := `outcome, application_id, score, reason_code, version
pass,id-1,72,,
fail,id-2,,insufficient_evidence,3

PASS,id-3,,,
`
	ds, err := readDecisions(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("read %d decisions, want 3: %v", len(ds), ds)
	}
	if d := ds[0]; d.GetApplicationId() != "id-1" || d.GetOutcome() != commonv1.Outcome_OUTCOME_PASS || d.GetScore() != 72 || d.ExpectedVersion != 0 {
		t.Errorf("first = %v", d)
	}
	if d := ds[1]; d.GetOutcome() != commonv1.Outcome_OUTCOME_FAIL || d.Score != nil || d.GetReasonCode() != "insufficient_evidence" || d.GetExpectedVersion() != 3 {
		t.Errorf("second = %v", d)
	}
	if ds[2].GetOutcome() != commonv1.Outcome_OUTCOME_PASS {
		t.Errorf("third = %v", ds[2])
	}
}

func TestReadDecisionsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"application_id,verdict\n", `unknown column "verdict"`},
		{"application_id,score\n", "no outcome column"},
		{"application_id,outcome\nid-1,maybe\n", `line 2: outcome: unknown outcome "maybe"; use one of: pass, fail`},
		{"application_id,outcome,score\nid-1,pass,high\n", `line 2: score "high"`},
		{"application_id,outcome,expected_version\nid-1,pass,0\n", "line 2: expected_version"},
		{"application_id,outcome\n,pass\n", "line 2: application_id is empty"},
	}
	for _, tt := range tests {
		_, err := readDecisions(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("readDecisions(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestReadUnblockItems(t *testing.T) {
	t.Parallel()
	// The csv of `vetting blocked` works as input: extra columns are ignored.
	in := "days_blocked,application_id,status,version\n4,id-1,blocked,3\n2,id-2,blocked,\n"
	items, err := readUnblockItems(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].GetApplicationId() != "id-1" || items[0].GetExpectedVersion() != 3 || items[1].GetExpectedVersion() != 0 {
		t.Errorf("items = %v", items)
	}
	if _, err := readUnblockItems(strings.NewReader("id\nx\n")); err == nil {
		t.Error("a file without application_id was accepted")
	}
}
