// Package validate checks request fields the same way in every service and
// reports bad input as a FieldError naming the field and the rule.
package validate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/region"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// FieldError is bad input: which request field, and the rule it broke.
// Services turn it into InvalidArgument with a BadRequest detail.
type FieldError struct {
	Field string
	Rule  string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Rule }

// Field returns a FieldError.
func Field(field, rule string) error { return &FieldError{Field: field, Rule: rule} }

// MaxRequestIDLen bounds client-chosen request ids.
const MaxRequestIDLen = 100

var reasonCode = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// Text checks a required, single-line, human-entered string of at most
// maxLen characters, with no control characters and no Unicode format
// characters (NoFormatChars).
func Text(field, v string, maxLen int) error {
	switch {
	case strings.TrimSpace(v) == "":
		return Field(field, "must not be empty")
	case !utf8.ValidString(v):
		return Field(field, "must be valid UTF-8")
	case utf8.RuneCountInString(v) > maxLen:
		return Field(field, "must be at most "+strconv.Itoa(maxLen)+" characters")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return Field(field, "must not contain control characters")
	}
	return NoFormatChars(field, v)
}

// ReasonCode checks a lower-case code such as "candidate_request".
func ReasonCode(field, code string) error {
	if !reasonCode.MatchString(code) {
		return Field(field, "must be a lower-case code of 2-63 letters, digits and _ (e.g. candidate_request)")
	}
	return nil
}

// Region checks a region code (docs/design.md §2).
func Region(field, code string) error {
	if !region.Valid(code) {
		return Field(field, "must be one of "+strings.Join(region.All, ", "))
	}
	return nil
}

// UUID checks an id.
func UUID(field, id string) error {
	if id == "" {
		return Field(field, "is required")
	}
	// Only the canonical form: uuid.Parse also takes {…} and urn:uuid:…,
	// which the database would not.
	if u, err := uuid.Parse(id); err != nil || u.String() != strings.ToLower(id) {
		return Field(field, "must be a UUID like 0190d6a0-5b1e-7c3a-9f00-2d4e6b8a1c33")
	}
	return nil
}

// RequestID checks a client-chosen idempotency key.
func RequestID(id string) error {
	switch {
	case id == "":
		return Field("request_id", "is required: choose a unique id per change (e.g. a UUID) and reuse it only to retry")
	case len(id) > MaxRequestIDLen:
		return Field("request_id", "must be at most "+strconv.Itoa(MaxRequestIDLen)+" bytes")
	case strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r == utf8.RuneError || r > '~' }) >= 0:
		return Field("request_id", "must be printable ASCII without spaces")
	}
	return nil
}

// ExpectedVersion checks the optimistic-concurrency version of an update.
func ExpectedVersion(v int64) error {
	if v < 1 {
		return Field("expected_version", "is required: the version of the record you last read")
	}
	return nil
}

// Date checks a calendar date from a request and returns it as midnight
// UTC. A nil date is "is required".
func Date(field string, d *commonv1.Date) (time.Time, error) {
	if d == nil {
		return time.Time{}, Field(field, "is required")
	}
	t := time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
	if d.GetYear() < MinYear || d.GetYear() > MaxYear || t.Month() != time.Month(d.GetMonth()) || t.Day() != int(d.GetDay()) {
		return time.Time{}, Field(field, "must be a real calendar date between 2000 and 2100")
	}
	return t, nil
}

// The window every time and date a request carries must fall in: a time
// outside it is a typing or encoding mistake (or an attack on the stores,
// which keep microseconds since 2000 and would wrap a time centuries
// away), never a recruitment.
var (
	// EarliestTime is the first instant a request may name.
	EarliestTime = time.Date(MinYear, 1, 1, 0, 0, 0, 0, time.UTC)
	// LatestTime is the first instant after the window.
	LatestTime = time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, time.UTC)
)

// MinYear and MaxYear bound the years of request times and dates.
const (
	MinYear = 2000
	MaxYear = 2100
)

// Time checks a required instant from a request: a valid timestamp
// between EarliestTime and LatestTime. It returns it in UTC.
func Time(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, Field(field, "is required")
	}
	return OptionalTime(field, ts)
}

// OptionalTime is Time for a field that may be left out: a nil ts is the
// zero time and no error.
func OptionalTime(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	// CheckValid first: AsTime of an out-of-range timestamp is not
	// meaningful, so its year cannot be compared.
	if ts.CheckValid() != nil {
		return time.Time{}, Field(field, timeRule)
	}
	t := ts.AsTime().UTC()
	if t.Before(EarliestTime) || !t.Before(LatestTime) {
		return time.Time{}, Field(field, timeRule)
	}
	return t, nil
}

const timeRule = "must be a time between 2000-01-01T00:00:00Z and 2100-12-31T23:59:59Z"

// FormatChar returns the first Unicode format character (category Cf) in
// v, and whether there is one. They are invisible: bidi overrides
// (U+202A-U+202E, U+2066-U+2069) make "txt.exe" of "exe.txt" on screen, and
// zero-width characters (U+200B-U+200D, U+2060, U+FEFF) make two names
// that look the same compare different.
func FormatChar(v string) (rune, bool) {
	for _, r := range v {
		if unicode.Is(unicode.Cf, r) {
			return r, true
		}
	}
	return 0, false
}

// NoFormatChars checks free text for Unicode format characters
// (FormatChar); Text makes this check too.
func NoFormatChars(field, v string) error {
	if r, ok := FormatChar(v); ok {
		return Field(field, fmt.Sprintf("must not contain invisible formatting characters such as bidi overrides or zero-width spaces (found U+%04X)", r))
	}
	return nil
}
