package importcsv_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/importcsv"
)

// FuzzReaderCells is FuzzReader's round trip on lines that are mostly
// valid: three cells of a good line take the fuzzer's values (quoted as a
// spreadsheet would), so the fuzzer spends its time on cell values rather
// than on CSV syntax.
func FuzzReaderCells(f *testing.F) {
	col := func(name string) uint8 { return uint8(slices.Index(importcsv.Header(), name)) }
	f.Add(col("submitted_at"), "2026-10-25 01:30", col("sift_outcome"), "PASS", col("posts"), "+1")
	f.Add(col("submitted_at"), "2026-10-25T00:30:00.5Z", col("vetting_block_reason"), "overseas-checks", col("start_date"), "2026-02-29")
	f.Add(col("interview_outcome"), "fail", col("offer_conditions"), "right_to_work;;references", col("closes_on"), "0001-01-01")
	f.Add(col("candidate_name"), " Zoë\r\n ", col("withdrawn_at"), "1847-12-01 00:00", col("role"), "Probation-Officer")
	f.Add(col("candidate_phone"), "\"", col("salary_band"), "\u00a0", col("interview_at"), "2026-03-29T01:30")
	f.Fuzz(func(t *testing.T, c1 uint8, v1 string, c2 uint8, v2 string, c3 uint8, v3 string) {
		header := importcsv.Header()
		cells := map[string]string{}
		for _, c := range []struct {
			i uint8
			v string
		}{{c1, v1}, {c2, v2}, {c3, v3}} {
			cells[header[int(c.i)%len(header)]] = c.v
		}
		var file bytes.Buffer
		w := csv.NewWriter(&file)
		_ = w.Write(header)
		_ = w.Write(lineCells(cells))
		w.Flush()
		roundTrip(t, file.String())
	})
}

// Whatever the file, the reader never panics, every problem is a
// *LineError (or the end), and every row it reads goes out through the
// writer and comes back the same.
func FuzzReader(f *testing.F) {
	header := strings.Join(importcsv.Header(), ",")
	f.Add(header + "\n" + line(nil))
	f.Add(header + "\n" + line(map[string]string{"sift_decided_at": "2026-01-12 10:00", "sift_outcome": "pass",
		"interview_booked_at": "2026-01-13 10:00", "interview_at": "2026-01-20T10:00:00Z", "offer_conditions": "right_to_work; references",
		"vetting_blocked_at": "2026-02-01 09:00", "vetting_block_reason": "missing-documents", "closes_on": "2026-01-31"}))
	f.Add(header + "\n" + line(map[string]string{"submitted_at": "2026-10-25 01:30"}))             // the hour that happens twice
	f.Add(header + "\n" + line(map[string]string{"submitted_at": "2026-10-25T00:30:00Z"}))         // its first time (BST)
	f.Add(header + "\n" + line(map[string]string{"submitted_at": "2026-10-25T01:30:00Z"}))         // its second time (GMT)
	f.Add(header + "\n" + line(map[string]string{"submitted_at": "2026-01-10T09:00:30.25+01:00"})) // seconds
	f.Add(header + "\n" + line(map[string]string{"interview_outcome": "fail"}))                    // an outcome alone
	f.Add(header + "\n" + line(map[string]string{"vetting_block_reason": "other"}))                // a reason alone
	f.Add(header + "\n" + line(map[string]string{"candidate_name": "\"Ó Briain, \"\"Seán\"\"\"", "posts": "+7"}))
	f.Add("\ufeffreference,campaign_reference,region,role,campaign_title,posts,opens_on,candidate_name,candidate_email,submitted_at\nR,C,london,other,T,1,2026-01-01,A,a@b.c,2026-01-01 00:00\n")
	f.Add(header + "\n\"unterminated\n")
	f.Add("")
	f.Fuzz(roundTrip)
}

// roundTrip reads file, checking that errors are LineErrors and that each
// row read survives the writer.
func roundTrip(t *testing.T, file string) {
	rd, err := importcsv.NewReader(strings.NewReader(file))
	if err != nil {
		var le *importcsv.LineError
		if !errors.As(err, &le) || le.Line != 1 {
			t.Fatalf("NewReader: %v, want a LineError for line 1", err)
		}
		return
	}
	for range 1000 {
		row, _, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		var le *importcsv.LineError
		if err != nil {
			if !errors.As(err, &le) || le.Line < 2 {
				t.Fatalf("Read: %v, want a LineError for a line after the header", err)
			}
			continue
		}
		var buf bytes.Buffer
		w := importcsv.NewWriter(&buf)
		if err := w.Write(row); err != nil {
			t.Fatalf("write a row read: %v", err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		written := buf.String()
		back, err := importcsv.NewReader(&buf)
		if err != nil {
			t.Fatalf("read the written header: %v", err)
		}
		got, _, err := back.Read()
		if err != nil || !proto.Equal(got, row) {
			t.Fatalf("row changed on the way through the writer (%v):\nread    %v\nwritten %q\nre-read %v", err, row, written, got)
		}
	}
}
