package report

import (
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// FuzzResume: a stuck list's cursor comes back inside a page token, which
// a client can forge. Whatever it holds, Resume never panics and either
// refuses it as pagetoken.ErrInvalid or resumes at a UUID key; and the
// cursor of any row resumes exactly where that row was.
func FuzzResume(f *testing.F) {
	asOf := time.Date(2026, 11, 23, 10, 0, 0, 123456000, time.UTC)
	row := StuckRow{ApplicationID: "0190d6a0-0000-7000-8000-000000000001", Kind: projection.StuckVettingBlocked,
		WarningAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	f.Add(row.Cursor(asOf))
	f.Add("")
	f.Add("x|1|y")
	f.Add("2026-11-23T10:00:00Z|-9223372036854775808|2026-11-01T09:00:00Z 0190d6a0-0000-7000-8000-000000000001")
	f.Add("2026-11-23T10:00:00Z|1|2026-11-01T09:00:00Z {0190d6a0-0000-7000-8000-000000000001}")
	f.Add("2026-11-23T10:00:00Z|1|2026-11-01T09:00:00Z 0190d6a0-0000-7000-8000-000000000001|extra")
	f.Fuzz(func(t *testing.T, cursor string) {
		var fl StuckFilter
		if err := fl.Resume(cursor); err != nil {
			if err != pagetoken.ErrInvalid {
				t.Fatalf("Resume(%q) = %v, want ErrInvalid", cursor, err)
			}
			return
		}
		if cursor == "" {
			return
		}
		if len(fl.After.ID) != 36 || strings.Count(fl.After.ID, "-") != 4 {
			t.Fatalf("Resume(%q) resumes after id %q", cursor, fl.After.ID)
		}
		// What was resumed makes the same cursor again (times as the
		// report keeps them, in UTC).
		r := StuckRow{ApplicationID: fl.After.ID, Kind: fl.AfterKind, WarningAt: fl.After.At}
		var again StuckFilter
		if err := again.Resume(r.Cursor(fl.AsOf)); err != nil || !again.AsOf.Equal(fl.AsOf) || !again.After.At.Equal(fl.After.At) ||
			again.After.ID != fl.After.ID || again.AfterKind != fl.AfterKind {
			t.Fatalf("Resume(%q) = %+v; its own cursor resumes at %+v (%v)", cursor, fl, again, err)
		}
	})
}
