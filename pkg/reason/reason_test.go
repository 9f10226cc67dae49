package reason

import (
	"errors"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list *List
		code string
		ok   bool
	}{
		{Withdrawal, "accepted_other_job", true},
		{Withdrawal, "other", true},
		{Withdrawal, "other:moved_abroad", true},
		{Withdrawal, "other:", false},
		{Withdrawal, "other:Moved", false},
		{Withdrawal, "other:x", false},
		{Withdrawal, "other:moved abroad", false},
		{Withdrawal, "moved_abroad", false},
		{Withdrawal, "accepted_other_offer", false}, // a decline reason
		{Withdrawal, "", false},
		{Decline, "accepted_other_offer", true},
		{Decline, "salary", true},
		{SiftFail, "insufficient_evidence", true},
		{SiftFail, "below_interview_standard", false},
		{InterviewFail, "below_interview_standard", true},
		{InterviewFail, "did_not_attend", true},
		{InterviewFail, "other:" + strings.Repeat("a", 63), true},
		{InterviewFail, "other:" + strings.Repeat("a", 64), false},
		{Source, "jobs_site", true},
		{Source, "other:careers_fair", true},
		{Source, "unknown", false},
	}
	for _, tt := range tests {
		err := tt.list.Check("reason_code", tt.code)
		if (err == nil) != tt.ok {
			t.Errorf("%s.Check(%q) = %v, want ok %v", tt.list.Name, tt.code, err, tt.ok)
		}
		if tt.list.Valid(tt.code) != tt.ok {
			t.Errorf("%s.Valid(%q) = %v, want %v", tt.list.Name, tt.code, !tt.ok, tt.ok)
		}
	}
}

// TestCheckNamesFieldAndList: a refusal names the field and lists every
// accepted code, so the caller can correct it without the docs.
func TestCheckNamesFieldAndList(t *testing.T) {
	t.Parallel()
	for _, l := range []*List{Withdrawal, Decline, SiftFail, InterviewFail, Source} {
		for _, code := range []string{"", "nope"} {
			var fe *validate.FieldError
			if err := l.Check("items[2].reason_code", code); !errors.As(err, &fe) || fe.Field != "items[2].reason_code" {
				t.Fatalf("%s.Check(%q) = %v, want a field error on items[2].reason_code", l.Name, code, err)
			}
			for _, c := range l.Codes() {
				if !strings.Contains(fe.Rule, c) {
					t.Errorf("%s.Check(%q) says %q, which does not list %q", l.Name, code, fe.Rule, c)
				}
			}
			if !strings.Contains(fe.Rule, "other:<code>") {
				t.Errorf("%s.Check(%q) says %q, which does not offer other:<code>", l.Name, code, fe.Rule)
			}
		}
	}
}

// TestNormalize: a code recorded before the lists reads as other:<code>;
// codes on the list, other and other:<code> read as they are.
func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list     *List
		in, want string
	}{
		{Withdrawal, "candidate_request", "candidate_request"},
		{Withdrawal, "moved", "other:moved"},
		{Withdrawal, "other", "other"},
		{Withdrawal, "other:moved", "other:moved"},
		{Withdrawal, "", ""},
		{SiftFail, "weak_evidence", "other:weak_evidence"},
		{Decline, "salary_too_low", "other:salary_too_low"},
	}
	for _, tt := range tests {
		if got := tt.list.Normalize(tt.in); got != tt.want {
			t.Errorf("%s.Normalize(%q) = %q, want %q", tt.list.Name, tt.in, got, tt.want)
		}
		if got := tt.list.Normalize(tt.list.Normalize(tt.in)); got != tt.want {
			t.Errorf("%s.Normalize twice (%q) = %q, want %q", tt.list.Name, tt.in, got, tt.want)
		}
	}
}

func TestListsEndWithOtherAndHaveNoDuplicates(t *testing.T) {
	t.Parallel()
	for _, l := range []*List{Withdrawal, Decline, SiftFail, InterviewFail, Source} {
		codes := l.Codes()
		if codes[len(codes)-1] != Other {
			t.Errorf("%s does not end with other: %v", l.Name, codes)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if seen[c] || validate.ReasonCode("c", c) != nil {
				t.Errorf("%s: code %q twice or not a lower-case code", l.Name, c)
			}
			seen[c] = true
		}
	}
}
