package notify

import (
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/eventtest"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

func TestQuietUntil(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	overnight := Preferences{Quiet: &QuietHours{Start: 22 * 60, End: 7*60 + 30}, TimeZone: "Europe/London"}
	daytime := Preferences{Quiet: &QuietHours{Start: 12 * 60, End: 14 * 60}, TimeZone: "America/New_York"}
	for _, tc := range []struct {
		name string
		p    Preferences
		now  string
		want string // "" when not quiet
	}{
		{"none", Preferences{}, "2026-12-07T23:00:00Z", ""},
		{"before the start", overnight, "2026-12-07T21:59:00Z", ""},
		{"at the start", overnight, "2026-12-07T22:00:00Z", "2026-12-08T07:30:00Z"},
		{"after midnight", overnight, "2026-12-08T03:00:00Z", "2026-12-08T07:30:00Z"},
		{"at the end", overnight, "2026-12-08T07:30:00Z", ""},
		{"summer time", overnight, "2026-07-01T21:30:00Z", "2026-07-02T06:30:00Z"}, // 22:30 BST
		{"another zone", daytime, "2026-12-07T17:30:00Z", "2026-12-07T19:00:00Z"},  // 12:30 EST
		{"another zone, outside", daytime, "2026-12-07T12:30:00Z", ""},
	} {
		got, quiet := tc.p.QuietUntil(at(tc.now))
		if (tc.want == "") == quiet || (quiet && !got.Equal(at(tc.want))) {
			t.Errorf("%s: QuietUntil(%s) = %s, %v; want %q", tc.name, tc.now, got.UTC().Format(time.RFC3339), quiet, tc.want)
		}
	}
}

func TestNextDigest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ now, want string }{
		{"2026-12-07T07:59:00Z", "2026-12-07T08:00:00Z"},
		{"2026-12-07T08:00:00Z", "2026-12-08T08:00:00Z"}, // strictly after
		{"2026-07-01T06:59:00Z", "2026-07-01T07:00:00Z"}, // 08:00 BST
		{"2026-03-28T09:00:00Z", "2026-03-29T07:00:00Z"}, // the clocks go forward overnight
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := NextDigest(now, 8); !got.Equal(want) {
			t.Errorf("NextDigest(%s) = %s, want %s", tc.now, got.UTC().Format(time.RFC3339), tc.want)
		}
	}
}

func TestBackoffDoublesUpToItsCap(t *testing.T) {
	t.Parallel()
	c := Config{RetryBase: time.Minute, RetryMax: 10 * time.Minute}
	for attempts, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 4: 8 * time.Minute, 5: 10 * time.Minute, 30: 10 * time.Minute} {
		if got := c.Backoff(attempts); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", attempts, got, want)
		}
	}
}

func TestMayName(t *testing.T) {
	t.Parallel()
	spoc := Preferences{Role: auth.RoleSPOC, Regions: []string{"london"}}
	vet := Preferences{Role: auth.RoleVetting, Regions: []string{"london"}}
	adm := Preferences{Role: auth.RoleAdmin, Regions: []string{"london"}}
	sift := Notification{Region: "london", NextActor: MailboxSPOC}
	vetting := Notification{Region: "london", NextActor: MailboxVetting}
	wales := Notification{Region: "wales", NextActor: MailboxSPOC}
	for _, tc := range []struct {
		name string
		p    Preferences
		n    Notification
		want bool
	}{
		{"the region's SPOC", spoc, sift, true},
		{"the region's SPOC, a vetting case", spoc, vetting, true},
		{"a SPOC of another region", spoc, wales, false},
		{"the region's vetting contact point, a vetting case", vet, vetting, true},
		{"the region's vetting contact point, a SPOC's case", vet, sift, false},
		{"an admin", adm, sift, false},
	} {
		if got := mayName(tc.p, tc.n); got != tc.want {
			t.Errorf("%s: mayName = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseQuietHoursNamesTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ start, end, field string }{
		{"24:00", "07:00", "quiet_start"}, {"7:00", "08:00", "quiet_start"}, {"22:00", "", "quiet_end"},
		{"", "07:00", "quiet_start"}, {"22:00", "22:00", "quiet_end"}, {"22:00", "07:60", "quiet_end"},
	} {
		_, err := ParseQuietHours(tc.start, tc.end)
		fe, ok := err.(*validate.FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("ParseQuietHours(%q, %q) = %v, want an error naming %s", tc.start, tc.end, err, tc.field)
		}
	}
	q, err := ParseQuietHours("22:15", "06:45")
	if err != nil || *q != (QuietHours{Start: 22*60 + 15, End: 6*60 + 45}) {
		t.Errorf("ParseQuietHours(22:15, 06:45) = %v, %v", q, err)
	}
}

// TestConsumes: Consumes names exactly the events HandleEvent acts on.
func TestConsumes(t *testing.T) {
	t.Parallel()
	eventtest.WantConsumes(t, Consumes, NewService(nil, time.Now, DefaultConfig(), nil, nil, nil, nil, nil).HandleEvent)
}
