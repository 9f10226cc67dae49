package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

func (o siftServer) BatchRecordInterviewOutcomes(_ context.Context, r *siftingv1.BatchRecordInterviewOutcomesRequest) (*siftingv1.BatchRecordInterviewOutcomesResponse, error) {
	o.keep(r)
	resp := &siftingv1.BatchRecordInterviewOutcomesResponse{DryRun: r.GetDryRun()}
	for i, it := range r.GetOutcomes() {
		resp.Results = append(resp.Results, &siftingv1.InterviewOutcomeResult{Index: int32(i), ApplicationId: it.GetApplicationId(),
			Status: &commonv1.ItemStatus{Code: "OK"}, Case: &siftingv1.SiftCase{State: siftingv1.CaseState_CASE_STATE_INTERVIEW_PASSED, Version: it.GetExpectedVersion() + 1}})
		resp.Succeeded++
	}
	return resp, nil
}

func (o offerServer) BatchMakeConditionalOffers(_ context.Context, r *offersv1.BatchMakeConditionalOffersRequest) (*offersv1.BatchMakeConditionalOffersResponse, error) {
	o.keep(r)
	resp := &offersv1.BatchMakeConditionalOffersResponse{DryRun: r.GetDryRun(), Failed: 1}
	resp.Results = append(resp.Results, &offersv1.OfferResult{ApplicationId: r.GetItems()[0].GetApplicationId(),
		Status: &commonv1.ItemStatus{Code: "FAILED_PRECONDITION", Message: "no such offer record"}})
	return resp, nil
}

func (o vettingServer) GetCase(_ context.Context, r *vettingv1.GetCaseRequest) (*vettingv1.GetCaseResponse, error) {
	o.keep(r)
	return &vettingv1.GetCaseResponse{Case: &vettingv1.VettingCase{ApplicationId: r.GetApplicationId(), Version: 3}}, nil
}

func (o vettingServer) BatchClear(_ context.Context, r *vettingv1.BatchClearRequest) (*vettingv1.BatchClearResponse, error) {
	o.keep(r)
	resp := &vettingv1.BatchClearResponse{DryRun: r.GetDryRun()}
	for i, it := range r.GetItems() {
		resp.Results = append(resp.Results, &vettingv1.ClearResult{Index: int32(i), ApplicationId: it.GetApplicationId(),
			Status: &commonv1.ItemStatus{Code: "OK"}, Case: &vettingv1.VettingCase{Status: vettingv1.CaseStatus_CASE_STATUS_CLEARED, Version: it.GetExpectedVersion() + 1}})
		resp.Succeeded++
	}
	return resp, nil
}

func (o reportingServer) GetVettingDurations(_ context.Context, r *reportingv1.GetVettingDurationsRequest) (*reportingv1.GetVettingDurationsResponse, error) {
	o.keep(r)
	return &reportingv1.GetVettingDurationsResponse{
		Steps:   []*reportingv1.VettingStepDuration{{Step: reportingv1.VettingStep_VETTING_STEP_OPENED_TO_CLEARED, Days: &reportingv1.Statistics{Count: 4, Median: 21}}},
		Blocked: []*reportingv1.BlockedDuration{{Reason: commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS, Days: &reportingv1.Statistics{Count: 1, Median: 6}}},
	}, nil
}

func (o reportingServer) GetFunnel(_ context.Context, r *reportingv1.GetFunnelRequest) (*reportingv1.GetFunnelResponse, error) {
	o.keep(r)
	return &reportingv1.GetFunnelResponse{Stages: []*reportingv1.FunnelStage{{Stage: commonv1.Stage_STAGE_SIFT, Reached: 12, ConversionFromPrevious: 1}}}, nil
}

func (o reportingServer) GetStageDurations(_ context.Context, r *reportingv1.GetStageDurationsRequest) (*reportingv1.GetStageDurationsResponse, error) {
	o.keep(r)
	return &reportingv1.GetStageDurationsResponse{}, nil
}

// TestBulkCommands: each bulk command reads its CSV, fills a missing
// version from the record, and sends one batch; the national and vetting
// reports send what their flags say.
func TestBulkCommands(t *testing.T) {
	t.Parallel()
	const other = "0192f3a4-aaaa-7d8e-9f00-112233445566"
	file := func(body string) string {
		p := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		args  []string
		want  []proto.Message
		shown string
		code  int
	}{
		{"interview outcomes, a version read first", []string{"interviews", "batch-outcomes", "--request-id", "r-1",
			"--file", file("outcome,application_id,reason_code,version\npass," + appID + ",,5\nfail," + other + ",poor_fit,\n")},
			[]proto.Message{
				&siftingv1.GetCaseRequest{ApplicationId: other},
				&siftingv1.BatchRecordInterviewOutcomesRequest{RequestId: "r-1", Outcomes: []*siftingv1.InterviewOutcome{
					{ApplicationId: appID, ExpectedVersion: 5, Outcome: commonv1.Outcome_OUTCOME_PASS},
					{ApplicationId: other, ExpectedVersion: 3, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "poor_fit"},
				}},
			}, "2 succeeded, 0 failed", 0},
		{"sifting batch-outcomes is the same command", []string{"sifting", "batch-outcomes", "--request-id", "r-5",
			"--file", file("application_id,outcome,expected_version\n" + appID + ",pass,4\n")},
			[]proto.Message{&siftingv1.BatchRecordInterviewOutcomesRequest{RequestId: "r-5", Outcomes: []*siftingv1.InterviewOutcome{
				{ApplicationId: appID, ExpectedVersion: 4, Outcome: commonv1.Outcome_OUTCOME_PASS},
			}}}, "1 succeeded", 0},
		{"offers with conditions, one failing", []string{"offers", "batch-make", "--request-id", "r-2", "--dry-run",
			"--file", file("application_id,salary_band_code,conditions,expected_version\n" + appID + ",band_3,vetting;references,2\n")},
			[]proto.Message{&offersv1.BatchMakeConditionalOffersRequest{RequestId: "r-2", DryRun: true, Items: []*offersv1.OfferItem{
				{ApplicationId: appID, ExpectedVersion: 2, SalaryBandCode: "band_3",
					Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_REFERENCES}},
			}}}, "no such offer record", 8},
		{"vetting clears as a dry run", []string{"vetting", "batch-clear", "--request-id", "r-3", "--dry-run", "-o", "csv",
			"--file", file("application_id\n" + appID + "\n")},
			[]proto.Message{
				&vettingv1.GetCaseRequest{ApplicationId: appID},
				&vettingv1.BatchClearRequest{RequestId: "r-3", DryRun: true, Items: []*vettingv1.ClearItem{{ApplicationId: appID, ExpectedVersion: 3}}},
			}, "dry run: nothing was changed", 0},
		{"the national funnel", []string{"reports", "funnel", "-o", "csv"},
			[]proto.Message{&reportingv1.GetFunnelRequest{}}, "sift,12", 0},
		{"durations of a role everywhere", []string{"reports", "durations", "--role", "administrator"},
			[]proto.Message{&reportingv1.GetStageDurationsRequest{Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR}}, "CURRENT", 0},
		{"where vetting waits", []string{"reports", "vetting-durations", "--region", "london", "-o", "csv"},
			[]proto.Message{&reportingv1.GetVettingDurationsRequest{Region: "london"}}, "blocked: overseas-checks,1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := &owners{}
			stdout, stderr, code := runCLI(t, append(tt.args, serveOwners(t, o)...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr)
			}
			got := o.calls()
			if len(got) != len(tt.want) {
				t.Fatalf("calls = %v, want %v", got, tt.want)
			}
			for i := range got {
				if !proto.Equal(got[i], tt.want[i]) {
					t.Errorf("call %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
			if !strings.Contains(stdout+stderr, tt.shown) {
				t.Errorf("output does not show %q:\n%s\n%s", tt.shown, stdout, stderr)
			}
		})
	}
}

// TestBulkCSVErrors: a bad file is refused before anything is sent.
func TestBulkCSVErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{"", "empty"},
		{"application_id,verdict\n", `unknown column "verdict"`},
		{"application_id\n", "no outcome column"},
		{"application_id,outcome\n,pass\n", "line 2: application_id is empty"},
		{"application_id,outcome\n" + appID + ",maybe\n", "line 2: outcome"},
		{"application_id,outcome,expected_version\n" + appID + ",pass,0\n", "line 2: expected_version"},
		{"application_id,outcome\n", "no rows"},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(p, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		o := &owners{}
		_, stderr, code := runCLI(t, append([]string{"interviews", "batch-outcomes", "--file", p, "--request-id", "r"}, serveOwners(t, o)...)...)
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, %q; want an error with %q", tt.body, code, stderr, tt.want)
		}
		if calls := o.calls(); len(calls) != 0 {
			t.Errorf("%q: sent %v", tt.body, calls)
		}
	}
}
