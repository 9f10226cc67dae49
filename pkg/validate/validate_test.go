package validate

import (
	"errors"
	"strings"
	"testing"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		field string // "" means valid
	}{
		{"text ok", Text("title", "Admin officers", 200), ""},
		{"text empty", Text("title", "  ", 200), "title"},
		{"text long", Text("title", strings.Repeat("x", 201), 200), "title"},
		{"text control", Text("title", "a\x00b", 200), "title"},
		{"text bad utf8", Text("title", "a\xffb", 200), "title"},
		{"reason ok", ReasonCode("reason_code", "candidate_request"), ""},
		{"reason upper", ReasonCode("reason_code", "Candidate"), "reason_code"},
		{"reason empty", ReasonCode("reason_code", ""), "reason_code"},
		{"region ok", Region("region", "london"), ""},
		{"region unknown", Region("region", "mars"), "region"},
		{"uuid ok", UUID("id", "0190d6a0-0000-7000-8000-000000000000"), ""},
		{"uuid bad", UUID("id", "nope"), "id"},
		{"uuid empty", UUID("id", ""), "id"},
		{"uuid urn", UUID("id", "urn:uuid:0190d6a0-0000-7000-8000-000000000000"), "id"},
		{"uuid braces", UUID("id", "{0190d6a0-0000-7000-8000-000000000000}"), "id"},
		{"uuid upper", UUID("id", "0190D6A0-0000-7000-8000-00000000000A"), ""},
		{"request id ok", RequestID("req-1"), ""},
		{"request id empty", RequestID(""), "request_id"},
		{"request id long", RequestID(strings.Repeat("r", 101)), "request_id"},
		{"request id space", RequestID("a b"), "request_id"},
		{"version ok", ExpectedVersion(1), ""},
		{"version zero", ExpectedVersion(0), "expected_version"},
	}
	for _, tt := range tests {
		var fe *FieldError
		switch {
		case tt.field == "" && tt.err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, tt.err)
		case tt.field != "" && !errors.As(tt.err, &fe):
			t.Errorf("%s: err = %v, want a FieldError", tt.name, tt.err)
		case tt.field != "" && fe.Field != tt.field:
			t.Errorf("%s: field = %q, want %q", tt.name, fe.Field, tt.field)
		}
	}
}

func TestDate(t *testing.T) {
	t.Parallel()
	got, err := Date("start_date", &commonv1.Date{Year: 2026, Month: 2, Day: 28})
	if err != nil || got.Day() != 28 || got.Month() != 2 {
		t.Errorf("Date(2026-02-28) = %v, %v", got, err)
	}
	for _, d := range []*commonv1.Date{nil, {Year: 2026, Month: 2, Day: 30}, {Year: 2026, Month: 13, Day: 1}, {Year: 1999, Month: 1, Day: 1}, {}} {
		var fe *FieldError
		if _, err := Date("start_date", d); !errors.As(err, &fe) || fe.Field != "start_date" {
			t.Errorf("Date(%v) = %v, want a FieldError on start_date", d, err)
		}
	}
}
