package report

import (
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// FuzzResume: a stuck list's cursor comes back inside a page token, which
// a client can forge. Whatever it holds, Resume never panics and either
// refuses it as pagetoken.ErrInvalid or resumes at a position whose own
// cursor resumes at the same position; and the cursor of any row resumes
// exactly where that row was.
func FuzzResume(f *testing.F) {
	asOf := time.Date(2026, 11, 23, 10, 0, 0, 123456000, time.UTC)
	row := StuckRow{ApplicationID: "0190d6a0-0000-7000-8000-000000000001", Kind: projection.StuckVettingBlocked,
		WarningAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), Since: time.Date(2026, 10, 20, 9, 0, 0, 0, time.UTC)}
	f.Add(row.Cursor(asOf))
	f.Add("")
	f.Add("x|1|y")
	f.Add("2026-11-23T10:00:00Z|1|-9223372036854775808|2026-11-01T09:00:00Z|0190d6a0-0000-7000-8000-000000000001|3")
	f.Add("2026-11-23T10:00:00Z|0|2|2026-11-01T09:00:00Z|{0190d6a0-0000-7000-8000-000000000001}|3")
	f.Add("2026-11-23T10:00:00Z|1|2|2026-11-01T09:00:00Z|0190d6a0-0000-7000-8000-000000000001|3|extra")
	f.Fuzz(func(t *testing.T, cursor string) {
		var fl StuckFilter
		if err := fl.Resume(cursor); err != nil {
			if err != pagetoken.ErrInvalid {
				t.Fatalf("Resume(%q) = %v, want ErrInvalid", cursor, err)
			}
			return
		}
		if cursor == "" {
			if fl.After != nil {
				t.Fatalf("Resume(\"\") resumes after %+v", fl.After)
			}
			return
		}
		var again StuckFilter
		if err := again.Resume(fl.After.cursor(fl.AsOf)); err != nil || !samePosition(*again.After, *fl.After) || !again.AsOf.Equal(fl.AsOf) {
			t.Fatalf("Resume(%q) = %+v; its own cursor resumes at %+v (%v)", cursor, fl.After, again.After, err)
		}
	})
}

func samePosition(p, q StuckPosition) bool {
	return p.Breach == q.Breach && p.DaysOverdue == q.DaysOverdue && p.Since.Equal(q.Since) && p.App == q.App && p.Kind == q.Kind
}

// TestRowCursorResumesAtTheRow: a row's cursor resumes exactly at its
// position.
func TestRowCursorResumesAtTheRow(t *testing.T) {
	asOf := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	row := StuckRow{ApplicationID: "0190d6a0-0000-7000-8000-000000000001", Kind: projection.StuckVettingBlocked,
		WarningAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), Since: time.Date(2026, 10, 20, 9, 0, 0, 0, time.UTC)}
	var fl StuckFilter
	if err := fl.Resume(row.Cursor(asOf)); err != nil {
		t.Fatal(err)
	}
	if want := row.Position(asOf.Truncate(time.Microsecond)); !samePosition(*fl.After, want) || !fl.AsOf.Equal(asOf) {
		t.Errorf("resumed at %+v as of %v, want %+v as of %v", fl.After, fl.AsOf, want, asOf)
	}
}
