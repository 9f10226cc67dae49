package validate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Every Unicode format character an attacker would use to disguise text is
// refused by Text, wherever it sits, with the field and the code point named.
func TestTextRefusesFormatCharacters(t *testing.T) {
	t.Parallel()
	hidden := map[string]rune{
		"LRE": 0x202A, "RLE": 0x202B, "PDF": 0x202C, "LRO": 0x202D, "RLO": 0x202E,
		"LRI": 0x2066, "RLI": 0x2067, "FSI": 0x2068, "PDI": 0x2069,
		"ZWSP": 0x200B, "ZWNJ": 0x200C, "ZWJ": 0x200D, "LRM": 0x200E, "RLM": 0x200F,
		"WJ": 0x2060, "BOM": 0xFEFF, "soft hyphen": 0x00AD, "ALM": 0x061C, "tag": 0xE0041,
	}
	for name, r := range hidden {
		for _, v := range []string{string(r) + "Ann Smith", "Ann" + string(r) + " Smith", "Ann Smith" + string(r)} {
			err := Text("candidate.name", v, 200)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "candidate.name" || !strings.Contains(fe.Rule, "formatting") {
				t.Errorf("%s in %q: err = %v, want a FieldError on candidate.name about formatting characters", name, v, err)
				continue
			}
			if !strings.Contains(fe.Rule, fmt.Sprintf("U+%04X", r)) {
				t.Errorf("%s: rule %q does not name the code point", name, fe.Rule)
			}
		}
	}
	// Ordinary text of other scripts stays welcome.
	for _, v := range []string{"Siân Evans", "Zoë O'Brien-Ng", "Gruffydd ap Llŷr", "محمد", "李小龙", "José María"} {
		if err := Text("candidate.name", v, 200); err != nil {
			t.Errorf("Text(%q) = %v, want nil", v, err)
		}
	}
}

func TestTime(t *testing.T) {
	t.Parallel()
	ok := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	if got, err := Time("scheduled_for", timestamppb.New(ok)); err != nil || !got.Equal(ok) {
		t.Errorf("Time(%v) = %v, %v", ok, got, err)
	}
	for _, edge := range []time.Time{EarliestTime, LatestTime.Add(-time.Nanosecond)} {
		if _, err := Time("as_of", timestamppb.New(edge)); err != nil {
			t.Errorf("Time(%v) = %v, want it inside the window", edge, err)
		}
	}
	bad := map[string]*timestamppb.Timestamp{
		"missing":                 nil,
		"seconds 1<<62":           {Seconds: 1 << 62},
		"seconds -1<<62":          {Seconds: -1 << 62},
		"the epoch":               {},
		"1999-12-31T23:59:59Z":    timestamppb.New(EarliestTime.Add(-time.Second)),
		"2101-01-01T00:00:00Z":    timestamppb.New(LatestTime),
		"year 9999":               timestamppb.New(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)),
		"negative nanos":          {Seconds: ok.Unix(), Nanos: -1},
		"nanos of a whole second": {Seconds: ok.Unix(), Nanos: 1e9},
	}
	for name, ts := range bad {
		_, err := Time("scheduled_for", ts)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "scheduled_for" {
			t.Errorf("%s: err = %v, want a FieldError on scheduled_for", name, err)
		}
	}
	if got, err := OptionalTime("as_of", nil); err != nil || !got.IsZero() {
		t.Errorf("OptionalTime(nil) = %v, %v, want the zero time", got, err)
	}
	if _, err := OptionalTime("as_of", &timestamppb.Timestamp{Seconds: 1 << 62}); err == nil {
		t.Error("OptionalTime accepted seconds = 1<<62")
	}
}
