package validate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/region"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Each target checks a rule against its own statement of the constraint,
// written without the code under test, and that a refusal is a FieldError
// naming the field it was given. `make fuzz` runs them for a few seconds;
// plain `go test` runs the seeds.

// wantFieldError fails unless err is a *FieldError on field with a rule.
func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field || fe.Rule == "" {
		t.Fatalf("err = %#v, want a FieldError on %q with a rule", err, field)
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"Admin officers", "", " ", "\t", "a\x00b", "a\xffb", "Zoë O'Brien", "李小龙",
		"a\u202eb", "a\u200bb", "\u0085", "x\r\ny", strings.Repeat("é", 201), strings.Repeat("x", 200)} {
		f.Add(s, 200)
	}
	f.Add("abc", 2)
	f.Add("abc", 0)
	f.Add("abc", -1)
	f.Fuzz(func(t *testing.T, v string, maxLen int) {
		err := Text("title", v, maxLen)
		if err != nil {
			wantFieldError(t, err, "title")
			return
		}
		switch {
		case strings.TrimSpace(v) == "":
			t.Fatalf("Text accepted blank %q", v)
		case !utf8.ValidString(v):
			t.Fatalf("Text accepted invalid UTF-8 %q", v)
		case utf8.RuneCountInString(v) > maxLen:
			t.Fatalf("Text accepted %d characters over a limit of %d", utf8.RuneCountInString(v), maxLen)
		}
		for _, r := range v {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("Text accepted control or format character %U in %q", r, v)
			}
		}
	})
}

func FuzzReasonCode(f *testing.F) {
	for _, s := range []string{"candidate_request", "ab", "a", "", "Candidate", "_x", "9x", "a-b", "a b",
		"x" + strings.Repeat("y", 62), "x" + strings.Repeat("y", 63), "ok\n", "caf\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		want := len(code) >= 2 && len(code) <= 63 && code[0] >= 'a' && code[0] <= 'z' &&
			strings.Trim(code, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
		err := ReasonCode("reason_code", code)
		if (err == nil) != want {
			t.Fatalf("ReasonCode(%q) = %v, want accepted %v", code, err, want)
		}
		if err != nil {
			wantFieldError(t, err, "reason_code")
		}
	})
}

func FuzzRegion(f *testing.F) {
	for _, s := range append(slices.Clone(region.All), "", "London", "london ", "mars", "north-east\x00") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		err := Region("region", code)
		if (err == nil) != slices.Contains(region.All, code) {
			t.Fatalf("Region(%q) = %v", code, err)
		}
		if err != nil {
			wantFieldError(t, err, "region")
		}
	})
}

// canonicalUUID: 8-4-4-4-12 hex digits, either case, nothing else.
func canonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
				return false
			}
		}
	}
	return true
}

func FuzzUUID(f *testing.F) {
	for _, s := range []string{"0190d6a0-0000-7000-8000-000000000000", "0190D6A0-0000-7000-8000-00000000000A", "",
		"nope", "urn:uuid:0190d6a0-0000-7000-8000-000000000000", "{0190d6a0-0000-7000-8000-000000000000}",
		"0190d6a000007000800000000000000a", "0190d6a0-0000-7000-8000-00000000000g", "0190d6a0-0000-7000-8000_000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := UUID("id", id)
		if (err == nil) != canonicalUUID(id) {
			t.Fatalf("UUID(%q) = %v, want accepted %v", id, err, canonicalUUID(id))
		}
		if err != nil {
			wantFieldError(t, err, "id")
		}
	})
}

func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"req-1", "", "a b", "a\tb", "é", "~!", "\x7f", strings.Repeat("r", 100), strings.Repeat("r", 101), "import-1 #3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		want := id != "" && len(id) <= MaxRequestIDLen
		for i := range len(id) {
			if id[i] <= ' ' || id[i] > '~' {
				want = false
			}
		}
		err := RequestID(id)
		if (err == nil) != want {
			t.Fatalf("RequestID(%q) = %v, want accepted %v", id, err, want)
		}
		if err != nil {
			wantFieldError(t, err, "request_id")
		}
	})
}

func FuzzDate(f *testing.F) {
	f.Add(false, int32(2026), int32(2), int32(28))
	f.Add(false, int32(2028), int32(2), int32(29))
	f.Add(false, int32(2026), int32(2), int32(29))
	f.Add(false, int32(2026), int32(13), int32(1))
	f.Add(false, int32(2026), int32(0), int32(1))
	f.Add(false, int32(2026), int32(12), int32(0))
	f.Add(false, int32(1999), int32(12), int32(31))
	f.Add(false, int32(2100), int32(12), int32(31))
	f.Add(false, int32(2101), int32(1), int32(1))
	f.Add(false, int32(-2147483648), int32(-2147483648), int32(-2147483648))
	f.Add(true, int32(0), int32(0), int32(0))
	f.Fuzz(func(t *testing.T, isNil bool, year, month, day int32) {
		var d *commonv1.Date
		if !isNil {
			d = &commonv1.Date{Year: year, Month: month, Day: day}
		}
		got, err := Date("start_date", d)
		// Days in month, the long way, so the check does not lean on
		// time.Date's normalisation as Date does.
		monthDays := []int32{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
		leap := year%4 == 0 && (year%100 != 0 || year%400 == 0)
		want := !isNil && year >= 2000 && year <= 2100 && month >= 1 && month <= 12 && day >= 1 &&
			(day <= monthDays[max(0, min(month-1, 11))] || (month == 2 && leap && day == 29))
		if (err == nil) != want {
			t.Fatalf("Date(%v) = %v, %v; want accepted %v", d, got, err, want)
		}
		if err != nil {
			wantFieldError(t, err, "start_date")
			if !got.IsZero() {
				t.Fatalf("refused Date(%v) returned %v", d, got)
			}
			return
		}
		if got != time.Date(int(year), time.Month(month), int(day), 0, 0, 0, 0, time.UTC) {
			t.Fatalf("Date(%v) = %v, want that date at midnight UTC", d, got)
		}
	})
}

func FuzzTime(f *testing.F) {
	f.Add(true, int64(1767225600), int32(0))
	f.Add(true, int64(946684800), int32(0)) // 2000-01-01, the first instant
	f.Add(true, int64(946684799), int32(999999999))
	f.Add(true, int64(4133980800), int32(0)) // 2101-01-01, the first instant after
	f.Add(true, int64(4133980799), int32(999999999))
	f.Add(true, int64(1<<62), int32(0))
	f.Add(true, int64(1767225600), int32(-1))
	f.Add(true, int64(1767225600), int32(1e9))
	f.Add(false, int64(0), int32(0))
	f.Fuzz(func(t *testing.T, set bool, seconds int64, nanos int32) {
		var ts *timestamppb.Timestamp
		if set {
			ts = &timestamppb.Timestamp{Seconds: seconds, Nanos: nanos}
		}
		got, err := OptionalTime("at", ts)
		// The window, the long way: whole seconds from 2000-01-01 to the
		// end of 2100, nanoseconds 0 to 999999999.
		in := set && seconds >= 946684800 && seconds < 4133980800 && nanos >= 0 && nanos < 1e9
		if set && (err == nil) != in {
			t.Fatalf("OptionalTime(%d s %d ns) = %v, %v; want accepted %v", seconds, nanos, got, err, in)
		}
		if err != nil {
			wantFieldError(t, err, "at")
			return
		}
		if !set {
			if !got.IsZero() {
				t.Fatalf("OptionalTime(nil) = %v", got)
			}
			if _, err := Time("at", nil); err == nil {
				t.Fatal("Time(nil) accepted")
			}
			return
		}
		if got.Location() != time.UTC || got.Unix() != seconds || got.Nanosecond() != int(nanos) {
			t.Fatalf("OptionalTime(%d s %d ns) = %v", seconds, nanos, got)
		}
	})
}
