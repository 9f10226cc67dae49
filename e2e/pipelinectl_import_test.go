package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/importcsv"
)

// csvLine is a line of the import format with the given cells.
func csvLine(cells map[string]string) string {
	var out []string
	for _, c := range importcsv.Header() {
		out = append(out, cells[c])
	}
	return strings.Join(out, ",")
}

// TestPipelinectlImport imports the documented example file with two bad
// lines added, as an admin would: good lines go in, bad ones are reported
// by line and column, and a second run imports nothing twice.
func TestPipelinectlImport(t *testing.T) {
	t.Parallel()
	st := start(t)
	c := newCtl(t, st)
	admin := c.mint("--role", "admin", "--subject", "admin-1")

	_, file, _, _ := runtime.Caller(0)
	example, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "docs", "import-example.csv"))
	if err != nil {
		t.Fatal(err)
	}
	good := strings.Count(strings.TrimSpace(string(example)), "\n") // lines after the header
	row := map[string]string{
		"reference": "BAD-1", "campaign_reference": "BAD", "region": "wales", "role": "probation_officer",
		"campaign_title": "PO", "posts": "2", "opens_on": "2026-01-05", "closes_on": "2026-01-30",
		"candidate_name": "Rhys", "candidate_email": "rhys@example.org", "submitted_at": "yesterday",
	}
	unreadable := csvLine(row)
	row["reference"], row["submitted_at"] = "BAD-2", "2026-01-12 10:00"
	row["sift_decided_at"], row["sift_outcome"] = "2026-02-02 10:00", "pass"
	row["interview_booked_at"], row["interview_at"] = "2026-02-03 10:00", "2026-02-10 10:00"
	row["interview_decided_at"], row["interview_outcome"] = "2026-02-09 10:00", "pass"
	early := csvLine(row)
	path := filepath.Join(t.TempDir(), "history.csv")
	content := strings.TrimSpace(string(example)) + "\n" + unreadable + "\n" + early + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	dry := c.run(admin, "import", "--dry-run", path)
	dry.wantExit(t, 8, "(dry run: nothing changed)")
	first := c.run(admin, "import", path)
	first.wantExit(t, 8,
		"line "+strconv.Itoa(good+2)+": submitted_at: must be a time like 2026-01-31 09:30 (London)",
		"line "+strconv.Itoa(good+3)+": interview_decided_at: must not be before interview_at",
		"2 of "+strconv.Itoa(good+2)+" items failed")
	if want := "imported " + strconv.Itoa(good) + ", already imported 0, failed 2"; !strings.Contains(first.stdout, want) {
		t.Errorf("first run says:\n%s\nwant %q", first.stdout, want)
	}
	second := c.run(admin, "import", path)
	second.wantExit(t, 8)
	if want := "imported 0, already imported " + strconv.Itoa(good) + ", failed 2"; !strings.Contains(second.stdout, want) {
		t.Errorf("second run says:\n%s\nwant %q", second.stdout, want)
	}

	// A SPOC may not import; a bad header is a usage error.
	c.run(c.mint("--role", "spoc", "--subject", "spoc-1", "--region", "london"), "import", path).wantExit(t, 5)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("reference,nickname\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.run(admin, "import", bad).wantExit(t, 2, "line 1: nickname: is not a column of the import format")
}
