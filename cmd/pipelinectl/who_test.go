package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// The applications of the stuck list below: the caller may read the first
// candidate's contact, not the second's, and the third was erased.
const (
	readable = "0192f3a4-5b6c-7d8e-9f00-000000000001"
	refused  = "0192f3a4-5b6c-7d8e-9f00-000000000002"
	erased   = "0192f3a4-5b6c-7d8e-9f00-000000000003"
)

// stuckLists is a reporting service answering one stuck list, and an
// applications service answering contacts as the rules above say, counting
// the contact reads.
type stuckLists struct {
	reportingv1.UnimplementedReportingServiceServer
	applicationsv1.UnimplementedApplicationsServiceServer
	contacts atomic.Int32
}

func (s *stuckLists) ListStuckCandidates(context.Context, *reportingv1.ListStuckCandidatesRequest) (*reportingv1.ListStuckCandidatesResponse, error) {
	resp := &reportingv1.ListStuckCandidatesResponse{}
	for _, id := range []string{readable, refused, erased} {
		resp.Candidates = append(resp.Candidates, &reportingv1.StuckCandidate{ApplicationId: id, CampaignId: "c-1",
			CampaignTitle: "=London POs", Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Stage: commonv1.Stage_STAGE_SIFT})
	}
	return resp, nil
}

func (s *stuckLists) GetCandidateContact(_ context.Context, req *applicationsv1.GetCandidateContactRequest) (*applicationsv1.GetCandidateContactResponse, error) {
	s.contacts.Add(1)
	switch req.GetApplicationId() {
	case readable:
		return &applicationsv1.GetCandidateContactResponse{ApplicationId: readable, Candidate: &applicationsv1.Candidate{Name: "Ada Lovelace"}}, nil
	case erased:
		return &applicationsv1.GetCandidateContactResponse{ApplicationId: erased, Erased: true}, nil
	}
	return nil, status.Error(codes.PermissionDenied, "permission denied: no open vetting case")
}

func serveStuckLists(t *testing.T, s *stuckLists) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	reportingv1.RegisterReportingServiceServer(srv, s)
	applicationsv1.RegisterApplicationsServiceServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// TestStuckListNamesWhoMayBeNamed: the stuck list as csv names a candidate
// whose contact the caller may read, shows the reference only where the
// read is refused, says erased for an erased candidate, and carries the
// campaign's title (made safe for a spreadsheet); --no-names and json
// output read no contact at all.
func TestStuckListNamesWhoMayBeNamed(t *testing.T) {
	t.Parallel()
	s := &stuckLists{}
	addr := serveStuckLists(t, s)
	run := func(args ...string) [][]string {
		t.Helper()
		var out, errOut bytes.Buffer
		a := newApp(&out, &errOut)
		a.configHome = t.TempDir()
		args = append([]string{"reports", "stuck", "--region", "london", "--reporting-addr", addr, "--applications-addr", addr,
			"--token", "t", "--insecure"}, args...)
		if code := a.run(context.Background(), args); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut.String())
		}
		if slices.Contains(args, "json") {
			return nil
		}
		rows, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
		if err != nil || len(rows) != 4 {
			t.Fatalf("csv: %v\n%s", err, out.String())
		}
		return rows
	}
	rows := run("-o", "csv")
	title, name := slices.Index(rows[0], "campaign_title"), slices.Index(rows[0], "candidate")
	if title < 0 || name < 0 {
		t.Fatalf("header %q lacks campaign_title or candidate", rows[0])
	}
	want := map[string]string{readable: "Ada Lovelace", refused: "", erased: erasedName}
	for _, r := range rows[1:] {
		if r[name] != want[r[0]] || r[title] != "'=London POs" {
			t.Errorf("row %q: candidate %q, title %q; want %q and the title behind a quote", r[0], r[name], r[title], want[r[0]])
		}
	}
	if n := s.contacts.Load(); n != 3 {
		t.Errorf("%d contact reads, want one per row", n)
	}
	for _, r := range run("-o", "csv", "--no-names")[1:] {
		if r[name] != "" {
			t.Errorf("--no-names: row %q names %q", r[0], r[name])
		}
	}
	run("-o", "json")
	if n := s.contacts.Load(); n != 3 {
		t.Errorf("%d contact reads after --no-names and json, want none more", n-3)
	}
}
