package grpcapi_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

// TestRequestLogKeepsNoCandidateData: SubmitApplication's request log row
// holds none of the candidate's name, email or phone, and a retry is
// answered from the application: the same response, nothing applied
// twice; after a withdrawal, the application as it now stands.
func TestRequestLogKeepsNoCandidateData(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.openCampaign(t, "london")
	spoc := e.as(t, spocLondon)
	cand := &pb.Candidate{Name: "Ada Lovelace-Byron", Email: "ada.lovelace@example.org", Phone: "+44 20 7946 0958"}
	req := &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: cand}
	first, err := spoc.SubmitApplication(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	testenv.NoTextInRequestLog(t, e.Pool, "Ada Lovelace", "Lovelace", "ada.lovelace@example.org", "7946 0958", "2079460958")
	before := e.counts(t)
	again, err := spoc.SubmitApplication(t.Context(), req)
	if err != nil || !proto.Equal(again, first) {
		t.Fatalf("retry = %v, %v; want the first response %v", again, err, first)
	}
	e.wantCounts(t, before)

	w, err := spoc.WithdrawApplication(t.Context(), &pb.WithdrawApplicationRequest{
		RequestId: reqID(), ApplicationId: first.GetApplication().GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request",
	})
	if err != nil {
		t.Fatal(err)
	}
	late, err := spoc.SubmitApplication(t.Context(), req)
	if err != nil || !proto.Equal(late.GetApplication(), w.GetApplication()) {
		t.Errorf("retry after a withdrawal = %v, %v; want the application as it stands %v", late, err, w.GetApplication())
	}
	testenv.NoTextInRequestLog(t, e.Pool, "Ada Lovelace", "Lovelace", "ada.lovelace@example.org", "7946 0958", "2079460958")
}

// TestRetryChecksRegionAgain: the same SPOC retrying after losing the
// application's region from their token is refused as a read of the
// application is, and sees none of the candidate.
func TestRetryChecksRegionAgain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.openCampaign(t, "london")
	req := &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Grace Hopper")}
	first, err := e.as(t, spocLondon).SubmitApplication(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	moved := e.as(t, auth.Claims{Subject: spocLondon.Subject, Role: auth.RoleSPOC, Regions: []string{"wales"}})
	before := e.counts(t)
	resp, err := moved.SubmitApplication(t.Context(), req)
	if err == nil || resp != nil {
		t.Fatalf("retry after losing the region = %v, %v; want a refusal", resp, err)
	}
	_, readErr := moved.GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: first.GetApplication().GetId()})
	if code := status.Code(err); code != status.Code(readErr) || code == codes.OK || code == codes.Internal {
		t.Errorf("retry refused %v, a read of the application %v; want the same out-of-region answer", err, readErr)
	}
	if st, _ := status.FromError(err); st != nil && (containsAny(st.Message(), "Grace", "Hopper", "example.org")) {
		t.Errorf("the refusal quotes the candidate: %s", st.Message())
	}
	e.wantCounts(t, before)
}

func containsAny(s string, parts ...string) bool {
	return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(s, p) })
}
