package importcsv_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	"github.com/probation-recruitment/pipeline/pkg/importcsv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// readAll reads every row, failing on any line error.
func readAll(t *testing.T, r io.Reader) []*applicationsv1.ImportRow {
	t.Helper()
	rd, err := importcsv.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*applicationsv1.ImportRow
	for {
		row, _, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

func TestDemoRoundTrip(t *testing.T) {
	t.Parallel()
	rows := importcsv.Demo(now, 1)
	if len(rows) < 2000 {
		t.Fatalf("demo has %d rows, want a few thousand", len(rows))
	}
	var buf bytes.Buffer
	w := importcsv.NewWriter(&buf)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, &buf)
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
	}
	for i := range rows {
		// The file holds minutes; the demo's times are whole minutes.
		if !proto.Equal(got[i], rows[i]) {
			t.Fatalf("row %d changed on the way through the file:\nwrote %v\nread  %v", i, rows[i], got[i])
		}
	}
	if !proto.Equal(importcsv.Demo(now, 1)[7], rows[7]) {
		t.Error("the demo is not the same for the same seed and day")
	}
}

// TestDemoShape checks the demo has what the dashboards need to show: every
// stage, blocked cases, conditional starts, withdrawals.
func TestDemoShape(t *testing.T) {
	t.Parallel()
	var hired, conditional, blocked, awaitingSift, withdrawn, declined int
	for _, r := range importcsv.Demo(now, 1) {
		h := r.GetHistory()
		switch {
		case h.GetOffer().GetStartedAt() != nil:
			hired++
			if h.GetOffer().GetApprovedBy() != "" {
				conditional++
			}
		case h.GetSift() == nil && r.GetWithdrawnAt() == nil:
			awaitingSift++
		case h.GetOffer().GetDeclinedAt() != nil:
			declined++
		}
		if h.GetVetting().GetBlockedAt() != nil && h.GetVetting().GetUnblockedAt() == nil {
			blocked++
		}
		if r.GetWithdrawnAt() != nil {
			withdrawn++
		}
	}
	for name, n := range map[string]int{"hired": hired, "conditional starts": conditional, "blocked": blocked,
		"awaiting sift": awaitingSift, "withdrawn": withdrawn, "declined": declined} {
		if n < 10 {
			t.Errorf("%d %s, want at least 10", n, name)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	t.Parallel()
	header := strings.Join(importcsv.Header(), ",")
	tests := []struct {
		name, file string
		want       string
	}{
		{"unknown column", "reference,nickname\n", "line 1: nickname: is not a column of the import format (see docs/import.md)"},
		{"missing column", "reference,campaign_reference\n", "line 1: region: is a required column"},
		{"bad time", header + "\n" + line(map[string]string{"submitted_at": "yesterday"}),
			"line 2: submitted_at: must be a time like 2026-01-31 09:30 (London) or 2026-01-31T09:30:00Z"},
		{"bad role", header + "\n" + line(map[string]string{"role": "wizard"}),
			"line 2: role: must be one of administrator, other, probation_officer, probation_services_officer, upw_supervisor, victim_liaison_officer"},
		{"bad outcome", header + "\n" + line(map[string]string{"sift_outcome": "maybe"}), "line 2: sift_outcome: must be pass or fail"},
		{"short line", header + "\nR-1,C-1\n", "line 2: has 2 fields, the header 51"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rd, err := importcsv.NewReader(strings.NewReader(tt.file))
			if err == nil {
				_, _, err = rd.Read()
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// line is a valid row with some cells replaced.
func line(cells map[string]string) string {
	return strings.Join(lineCells(cells), ",") + "\n"
}

// lineCells is line's cells, unquoted.
func lineCells(cells map[string]string) []string {
	valid := map[string]string{
		"reference": "R-1", "campaign_reference": "C-1", "region": "london", "role": "probation_officer",
		"campaign_title": "PO", "posts": "3", "opens_on": "2026-01-05", "candidate_name": "Ada", "candidate_email": "ada@example.org",
		"submitted_at": "2026-01-10 09:00",
	}
	var out []string
	for _, c := range importcsv.Header() {
		v, ok := cells[c]
		if !ok {
			v = valid[c]
		}
		out = append(out, v)
	}
	return out
}

func TestColumn(t *testing.T) {
	t.Parallel()
	for field, want := range map[string]string{
		"rows[3].history.interview.decided_at": "interview_decided_at",
		"rows[0].candidate.email":              "candidate_email",
		"rows[12].region":                      "region",
	} {
		if got := importcsv.Column(field); got != want {
			t.Errorf("Column(%q) = %q, want %q", field, got, want)
		}
	}
	if got := importcsv.Describe("must not be before history.interview.scheduled_for"); got != "must not be before interview_at" {
		t.Errorf("Describe = %q", got)
	}
}

// TestWriterNeutralisesFormulas writes rows whose free text is each OWASP
// payload that a name may hold: the file has no cell a spreadsheet would
// evaluate, and the Reader gives back exactly what was written.
func TestWriterNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	base := importcsv.Demo(now, 1)[0]
	var rows []*applicationsv1.ImportRow
	for _, p := range csvsafe.Payloads {
		if strings.ContainsAny(p, "\t\r\n") {
			continue // the Reader trims a cell's surrounding space
		}
		r := proto.Clone(base).(*applicationsv1.ImportRow)
		r.Candidate.Name, r.CampaignTitle, r.Candidate.Phone = p, p, "+44 20 7946 0000"
		rows = append(rows, r)
	}
	var buf bytes.Buffer
	w := importcsv.NewWriter(&buf)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	cells, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range cells {
		for j, cell := range row {
			if csvsafe.Risky(cell) {
				t.Errorf("line %d, column %s: %q would run as a formula", i+1, cells[0][j], cell)
			}
		}
	}
	got := readAll(t, &buf)
	for i := range rows {
		if !proto.Equal(got[i], rows[i]) {
			t.Errorf("row %d changed on the way through the file:\nwrote %v\nread  %v", i, rows[i], got[i])
		}
	}
}

// TestDemoNationalCampaign: the demo's admin campaign is one campaign of
// 300 posts over the twelve regions (issue 16), each row in its own region,
// each candidate's email once in it.
func TestDemoNationalCampaign(t *testing.T) {
	t.Parallel()
	regions, emails := map[string]int{}, map[string]bool{}
	for _, r := range importcsv.Demo(now, 1) {
		if r.GetCampaignReference() != "DEMO-ADMIN-NATIONAL" {
			if len(r.GetCampaignRegions()) != 0 {
				t.Fatalf("row %s of a regional campaign has campaign_regions", r.GetReference())
			}
			continue
		}
		var posts int32
		for _, cr := range r.GetCampaignRegions() {
			posts += cr.GetPosts()
		}
		if len(r.GetCampaignRegions()) != 12 || posts != 300 || r.GetPosts() != 0 {
			t.Fatalf("row %s: campaign_regions %v (%d posts), posts %d; want 12 regions, 300 posts", r.GetReference(), r.GetCampaignRegions(), posts, r.GetPosts())
		}
		regions[r.GetRegion()]++
		if emails[r.GetCandidate().GetEmail()] {
			t.Errorf("email %s twice in the national campaign", r.GetCandidate().GetEmail())
		}
		emails[r.GetCandidate().GetEmail()] = true
	}
	if len(regions) != 12 {
		t.Errorf("national campaign rows in %d regions, want 12: %v", len(regions), regions)
	}
	if n := len(emails); n < 700 || n > 1100 {
		t.Errorf("national campaign draws %d applications, want about 900", n)
	}
}
