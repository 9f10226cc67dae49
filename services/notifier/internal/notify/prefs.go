package notify

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// The limits of a preferences record.
const (
	maxEmail        = 254
	maxWebhookURL   = 2000
	minSecret       = 16
	maxSecret       = 256
	minutesInTheDay = 24 * 60
)

// ParseClock reads "HH:MM" (24-hour) as minutes after midnight.
func ParseClock(field, v string) (int, error) {
	t, err := time.Parse("15:04", v)
	if err != nil || len(v) != 5 {
		return 0, validate.Field(field, fmt.Sprintf("must be a time of day as HH:MM (00:00-23:59), got %q", v))
	}
	return t.Hour()*60 + t.Minute(), nil
}

// FormatClock writes minutes after midnight as "HH:MM".
func FormatClock(m int) string {
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

// ParseQuietHours reads quiet hours from their start and end, "HH:MM"
// each; both empty is none.
func ParseQuietHours(start, end string) (*QuietHours, error) {
	if start == "" && end == "" {
		return nil, nil
	}
	if start == "" {
		return nil, validate.Field("quiet_start", "is required with quiet_end")
	}
	if end == "" {
		return nil, validate.Field("quiet_end", "is required with quiet_start")
	}
	s, err := ParseClock("quiet_start", start)
	if err != nil {
		return nil, err
	}
	e, err := ParseClock("quiet_end", end)
	if err != nil {
		return nil, err
	}
	if s == e {
		return nil, validate.Field("quiet_end", "must differ from quiet_start")
	}
	return &QuietHours{Start: s, End: e}, nil
}

// CheckEmail checks a single bare address ("name@example.org"), as field.
func CheckEmail(field, v string) error {
	if v == "" {
		return validate.Field(field, "is required")
	}
	if len(v) > maxEmail {
		return validate.Field(field, fmt.Sprintf("must be at most %d characters", maxEmail))
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || !strings.Contains(v, "@") {
		return validate.Field(field, "must be a single email address such as name@example.org")
	}
	return nil
}

// CheckTimeZone checks an IANA time zone name.
func CheckTimeZone(v string) (*time.Location, error) {
	if v == "" || v == "Local" {
		return nil, validate.Field("time_zone", `must be an IANA time zone such as "Europe/London"`)
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		return nil, validate.Field("time_zone", fmt.Sprintf("is not a known IANA time zone: %q", v))
	}
	return loc, nil
}

// CheckWebhook checks a webhook URL: https, or http to a loopback address
// (a developer's own receiver), with no user information.
func CheckWebhook(v string) error {
	if len(v) > maxWebhookURL {
		return validate.Field("webhook_url", fmt.Sprintf("must be at most %d characters", maxWebhookURL))
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil {
		return validate.Field("webhook_url", "must be an absolute https URL with no user name or password")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return validate.Field("webhook_url", "must be https (http only to a loopback address)")
}

// CheckSecret checks a webhook signing secret.
func CheckSecret(v string) error {
	if len(v) < minSecret || len(v) > maxSecret {
		return validate.Field("webhook_secret", fmt.Sprintf("must be %d-%d characters", minSecret, maxSecret))
	}
	return validate.NoFormatChars("webhook_secret", v)
}

// Location is where p's quiet hours are read.
func (p Preferences) Location() *time.Location {
	if loc, err := time.LoadLocation(p.TimeZone); err == nil && p.TimeZone != "" {
		return loc
	}
	return london
}

// QuietUntil returns the end of the quiet hours that t falls in, and
// false when t is outside them (or there are none).
func (p Preferences) QuietUntil(t time.Time) (time.Time, bool) {
	if p.Quiet == nil {
		return time.Time{}, false
	}
	local := t.In(p.Location())
	m := local.Hour()*60 + local.Minute()
	q := *p.Quiet
	inside := (q.Start < q.End && m >= q.Start && m < q.End) ||
		(q.Start > q.End && (m >= q.Start || m < q.End))
	if !inside {
		return time.Time{}, false
	}
	day := local
	if q.Start > q.End && m >= q.Start {
		day = local.AddDate(0, 0, 1) // the quiet hours end tomorrow
	}
	return time.Date(day.Year(), day.Month(), day.Day(), q.End/60, q.End%60, 0, 0, day.Location()), true
}

// london is DefaultTimeZone; the binary embeds the time zone database.
var london = mustLoad(DefaultTimeZone)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("time zone %s: %v (import time/tzdata)", name, err))
	}
	return loc
}

// NextDigest is the first digest time after now: hour o'clock, Europe/London.
func NextDigest(now time.Time, hour int) time.Time {
	local := now.In(london)
	at := time.Date(local.Year(), local.Month(), local.Day(), hour, 0, 0, 0, london)
	if !at.After(now) {
		at = time.Date(local.Year(), local.Month(), local.Day()+1, hour, 0, 0, 0, london)
	}
	return at
}
