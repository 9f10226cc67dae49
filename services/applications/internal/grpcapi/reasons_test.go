package grpcapi_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

// TestSourceAndWithdrawalReasons: a submission records where it came from
// (on the application and in application.submitted); a source or a
// withdrawal reason off the fixed lists is refused naming the field and
// listing the accepted codes, and writes nothing; other:<code> is
// accepted; a free-form reason stored before the lists still reads.
func TestSourceAndWithdrawalReasons(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	camp := e.openCampaign(t, "london")

	resp, err := c.SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: camp.GetId(),
		Candidate: candidate("Ada Source"), Source: "job_centre"})
	if err != nil {
		t.Fatal(err)
	}
	a := resp.GetApplication()
	if a.GetSource() != "job_centre" {
		t.Errorf("application source = %q, want job_centre", a.GetSource())
	}
	evs := testenv.OutboxEvents(t, e.Pool, a.GetId())
	if len(evs) != 1 || evs[0].Event.GetApplicationSubmitted().GetSource() != "job_centre" {
		t.Fatalf("outbox = %v, want one application.submitted with source job_centre", evs)
	}
	got, err := c.GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	if err != nil || got.GetApplication().GetSource() != "job_centre" {
		t.Errorf("read back: %v, %v; want source job_centre", got, err)
	}

	before := e.counts(t)
	for _, src := range []string{"newspaper", "Jobs Site", "other:", "unknown"} {
		_, err := c.SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: camp.GetId(),
			Candidate: candidate("Bad Source"), Source: src})
		st := testenv.WantStatus(t, err, codes.InvalidArgument)
		testenv.WantField(t, err, "source")
		for _, code := range reason.Source.Codes() {
			if !strings.Contains(st.Message(), code) {
				t.Errorf("source %q refused with %q, which does not list %q", src, st.Message(), code)
			}
		}
	}
	e.wantCounts(t, before)
	// other:<code> is a source of the caller's own.
	if _, err := c.SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: camp.GetId(),
		Candidate: candidate("Other Source"), Source: "other:careers_fair"}); err != nil {
		t.Errorf("source other:careers_fair: %v", err)
	}

	// Withdrawal: a code off the list is refused, naming the field and
	// the list; nothing changes.
	before = e.counts(t)
	_, err = c.WithdrawApplication(t.Context(), &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(),
		ExpectedVersion: a.GetVersion(), ReasonCode: "moved_away"})
	testenv.WantField(t, err, "reason_code")
	testenv.WantStatus(t, err, codes.InvalidArgument, "accepted_other_job", "process_too_long", "other:<code>")
	e.wantCounts(t, before)
	w, err := c.WithdrawApplication(t.Context(), &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(),
		ExpectedVersion: a.GetVersion(), ReasonCode: "other:moved_abroad"})
	if err != nil {
		t.Fatal(err)
	}
	if w.GetApplication().GetWithdrawalReasonCode() != "other:moved_abroad" {
		t.Errorf("withdrawal reason = %q", w.GetApplication().GetWithdrawalReasonCode())
	}

	// A withdrawal recorded before the lists, with a free-form code,
	// still reads.
	if _, err := e.Pool.Exec(t.Context(), `UPDATE applications SET withdrawal_reason = 'moved' WHERE id = $1`, a.GetId()); err != nil {
		t.Fatal(err)
	}
	old, err := c.GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	if err != nil || old.GetApplication().GetWithdrawalReasonCode() != "moved" {
		t.Errorf("historical reason: %v, %v; want it read as stored", old, err)
	}
}

// TestImportSource: an imported row's source is recorded on the
// application and carried in its application.submitted.
func TestImportSource(t *testing.T) {
	t.Parallel()
	e := setup(t)
	row := fullRow("SRC-1")
	row.Source = "referral"
	resp, err := e.as(t, importer).ImportApplications(t.Context(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{row}})
	if err != nil || resp.GetImported() != 1 {
		t.Fatalf("import: %v, %v", resp, err)
	}
	id := resp.GetResults()[0].GetApplicationId()
	got, err := e.as(t, admin).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: id})
	if err != nil || got.GetApplication().GetSource() != "referral" {
		t.Errorf("imported application: %v, %v; want source referral", got, err)
	}
	var submitted int
	for _, ev := range testenv.OutboxEvents(t, e.Pool, id) {
		if s := ev.Event.GetApplicationSubmitted(); s != nil {
			submitted++
			if s.GetSource() != "referral" {
				t.Errorf("application.submitted source = %q, want referral", s.GetSource())
			}
		}
	}
	if submitted != 1 {
		t.Errorf("%d application.submitted events, want 1", submitted)
	}
}
