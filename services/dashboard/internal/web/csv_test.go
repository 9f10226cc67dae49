package web

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// payloadReports answers the stuck list with the OWASP CSV injection
// payloads where a forged event could put text (the ids the reporting
// service takes from events), over two pages.
type payloadReports struct {
	Reports // only ListStuckCandidates is called
}

func (payloadReports) ListStuckCandidates(_ context.Context, in *pb.ListStuckCandidatesRequest, _ ...grpc.CallOption) (*pb.ListStuckCandidatesResponse, error) {
	half := len(csvsafe.Payloads) / 2
	page, next := csvsafe.Payloads[:half], "page-2"
	if in.GetPageToken() == "page-2" {
		page, next = csvsafe.Payloads[half:], ""
	}
	resp := &pb.ListStuckCandidatesResponse{NextPageToken: next}
	for _, p := range page {
		resp.Candidates = append(resp.Candidates, &pb.StuckCandidate{
			ApplicationId: p, CampaignId: p, CampaignTitle: p, Stage: commonv1.Stage_STAGE_SIFT, Days: 12, DaysOverdue: 2,
			Since: timestamppb.New(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)), Severity: pb.Severity_SEVERITY_WARNING,
		})
	}
	return resp, nil
}

// TestStuckCSVNeutralisesFormulas downloads a stuck list through the
// dashboard's handler: every payload is written as text behind a single
// quote, no cell would run as a formula, and the numbers stay numbers.
func TestStuckCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	s := &Server{reports: payloadReports{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now,
		csv: newLimiter(rate.Limit(1), 10, time.Now)}
	req := httptest.NewRequest(http.MethodGet, "/regions/london/stuck.csv", nil)
	req.SetPathValue("region", "london")
	rec := httptest.NewRecorder()
	s.stuckCSV(rec, req, &session.Session{Subject: "dashboard-london"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	body := rec.Body.String()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not csv: %v\n%s", err, body)
	}
	if len(rows) != 1+len(csvsafe.Payloads) {
		t.Fatalf("%d rows, want the header and %d", len(rows), len(csvsafe.Payloads))
	}
	for i, p := range csvsafe.Payloads {
		row := rows[i+1]
		if row[0] != "'"+p || row[1] != "'"+p || row[12] != "'"+p {
			t.Errorf("payload %q written as %q, %q and %q, want %q", p, row[0], row[1], row[12], "'"+p)
		}
		if row[7] != "12" || row[8] != "2" {
			t.Errorf("days written as %q and %q, want 12 and 2", row[7], row[8])
		}
		for j, cell := range row {
			if csvsafe.Risky(cell) {
				t.Errorf("row %d, column %s: %q would run as a formula", i+1, csvHeader[j], cell)
			}
		}
	}
}
