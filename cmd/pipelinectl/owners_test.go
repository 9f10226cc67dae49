package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// owners is a sifting, offers and vetting service that keeps the
// requests pipelinectl sends it: every record is at version 3, and every
// change succeeds, answering with the owner it was asked for.
type owners struct {
	mu   sync.Mutex
	seen []proto.Message
}

func (o *owners) keep(m proto.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, m)
}

// calls returns the requests received, in order.
func (o *owners) calls() []proto.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]proto.Message{}, o.seen...)
}

func (o siftServer) GetCase(_ context.Context, r *siftingv1.GetCaseRequest) (*siftingv1.GetCaseResponse, error) {
	o.keep(r)
	return &siftingv1.GetCaseResponse{Case: &siftingv1.SiftCase{ApplicationId: r.GetApplicationId(), Version: 3}}, nil
}

func (o siftServer) AssignCase(_ context.Context, r *siftingv1.AssignCaseRequest) (*siftingv1.AssignCaseResponse, error) {
	o.keep(r)
	return &siftingv1.AssignCaseResponse{Case: &siftingv1.SiftCase{ApplicationId: r.GetApplicationId(), Assignee: r.GetAssignee(), Version: 4}}, nil
}

func (o siftServer) ListMyCases(_ context.Context, r *siftingv1.ListMyCasesRequest) (*siftingv1.ListMyCasesResponse, error) {
	o.keep(r)
	return &siftingv1.ListMyCasesResponse{Cases: []*siftingv1.MyCase{{
		Case:  &siftingv1.SiftCase{ApplicationId: "app-1", Assignee: "spoc-london-2", Version: 2},
		Stage: commonv1.Stage_STAGE_INTERVIEW, DaysInStage: 6,
	}}}, nil
}

// siftServer, offerServer and vettingServer are owners as each service.
type siftServer struct {
	siftingv1.UnimplementedSiftingServiceServer
	*owners
}

type offerServer struct {
	offersv1.UnimplementedOffersServiceServer
	*owners
}

func (o offerServer) GetOffer(_ context.Context, r *offersv1.GetOfferRequest) (*offersv1.GetOfferResponse, error) {
	o.keep(r)
	return &offersv1.GetOfferResponse{Offer: &offersv1.Offer{ApplicationId: r.GetApplicationId(), Version: 3}}, nil
}

func (o offerServer) UnassignCase(_ context.Context, r *offersv1.UnassignCaseRequest) (*offersv1.UnassignCaseResponse, error) {
	o.keep(r)
	return &offersv1.UnassignCaseResponse{Offer: &offersv1.Offer{ApplicationId: r.GetApplicationId(), Version: r.GetExpectedVersion() + 1}}, nil
}

func (o offerServer) BatchAssign(_ context.Context, r *offersv1.BatchAssignRequest) (*offersv1.BatchAssignResponse, error) {
	o.keep(r)
	resp := &offersv1.BatchAssignResponse{DryRun: r.GetDryRun()}
	for i, it := range r.GetItems() {
		resp.Results = append(resp.Results, &offersv1.AssignResult{Index: int32(i), ApplicationId: it.GetApplicationId(),
			Status: &commonv1.ItemStatus{Code: "OK"}, Offer: &offersv1.Offer{Assignee: r.GetAssignee(), Version: it.GetExpectedVersion() + 1}})
		resp.Succeeded++
	}
	return resp, nil
}

type vettingServer struct {
	vettingv1.UnimplementedVettingServiceServer
	*owners
}

func (o vettingServer) AssignCase(_ context.Context, r *vettingv1.AssignCaseRequest) (*vettingv1.AssignCaseResponse, error) {
	o.keep(r)
	return &vettingv1.AssignCaseResponse{Case: &vettingv1.VettingCase{ApplicationId: r.GetApplicationId(), Assignee: r.GetAssignee(), Version: 4}}, nil
}

type reportingServer struct {
	reportingv1.UnimplementedReportingServiceServer
	*owners
}

func (o reportingServer) ListMyCases(_ context.Context, r *reportingv1.ListMyCasesRequest) (*reportingv1.ListMyCasesResponse, error) {
	o.keep(r)
	return &reportingv1.ListMyCasesResponse{Assignee: "spoc-london-2", Cases: []*reportingv1.MyCase{{
		ApplicationId: appID, Region: "london", Stage: commonv1.Stage_STAGE_OFFER, Record: reportingv1.CaseRecord_CASE_RECORD_OFFER,
		Since: timestamppb.New(time.Date(2026, 5, 24, 10, 0, 0, 0, time.UTC)), Kind: reportingv1.StuckKind_STUCK_KIND_STAGE,
		Severity: reportingv1.Severity_SEVERITY_WARNING, DaysOverdue: 1, NextThreshold: reportingv1.Severity_SEVERITY_BREACH,
		NextThresholdAt: timestamppb.New(time.Date(2026, 6, 3, 10, 0, 0, 0, time.UTC)),
	}}}, nil
}

func (o reportingServer) GetWorkload(_ context.Context, r *reportingv1.GetWorkloadRequest) (*reportingv1.GetWorkloadResponse, error) {
	o.keep(r)
	return &reportingv1.GetWorkloadResponse{Rows: []*reportingv1.Workload{
		{Actor: reportingv1.NextActor_NEXT_ACTOR_SPOC, Open: 3, Breach: 1, OldestSince: timestamppb.New(time.Date(2026, 5, 10, 10, 0, 0, 0, time.UTC))},
		{Assignee: "vetting-london-2", Actor: reportingv1.NextActor_NEXT_ACTOR_VETTING, Open: 2, Warning: 2,
			OldestSince: timestamppb.New(time.Date(2026, 5, 15, 10, 0, 0, 0, time.UTC))},
	}}, nil
}

func (o reportingServer) ListStuckCandidates(_ context.Context, r *reportingv1.ListStuckCandidatesRequest) (*reportingv1.ListStuckCandidatesResponse, error) {
	o.keep(r)
	return &reportingv1.ListStuckCandidatesResponse{Candidates: []*reportingv1.StuckCandidate{{ApplicationId: appID, Assignee: "spoc-london-2"}}}, nil
}

// serveOwners serves o as the three stage services and reporting on one
// loopback port and returns the flags that point pipelinectl at it.
func serveOwners(t *testing.T, o *owners) []string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	siftingv1.RegisterSiftingServiceServer(srv, siftServer{owners: o})
	offersv1.RegisterOffersServiceServer(srv, offerServer{owners: o})
	vettingv1.RegisterVettingServiceServer(srv, vettingServer{owners: o})
	reportingv1.RegisterReportingServiceServer(srv, reportingServer{owners: o})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	addr := l.Addr().String()
	return []string{"--sifting-addr", addr, "--offers-addr", addr, "--vetting-addr", addr, "--reporting-addr", addr, "--token", "t"}
}

const appID = "0192f3a4-5b6c-7d8e-9f00-112233445566"

// TestOwnerCommandsReachTheStage: the generic owner commands call the
// service of --stage, reading the version first unless given, and a
// stage's alias (`vetting assign`) is the same command.
func TestOwnerCommandsReachTheStage(t *testing.T) {
	t.Parallel()
	csvFile := filepath.Join(t.TempDir(), "offers.csv")
	if err := os.WriteFile(csvFile, []byte("days_in_stage,application_id,version\n2,"+appID+",5\n1,0192f3a4-aaaa-7d8e-9f00-112233445566,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		want  []proto.Message
		shown string
	}{
		{"assign a sift case, its version read first", []string{"assign", appID, "--stage", "sift", "--to", "spoc-london-2", "--request-id", "r-1"},
			[]proto.Message{
				&siftingv1.GetCaseRequest{ApplicationId: appID},
				&siftingv1.AssignCaseRequest{RequestId: "r-1", ApplicationId: appID, ExpectedVersion: 3, Assignee: "spoc-london-2"},
			}, "spoc-london-2"},
		{"unassign an offer record at a given version", []string{"unassign", appID, "--stage", "offer", "--version", "7", "--request-id", "r-2"},
			[]proto.Message{&offersv1.UnassignCaseRequest{RequestId: "r-2", ApplicationId: appID, ExpectedVersion: 7}}, appID},
		{"vetting assign is assign --stage vetting", []string{"vetting", "assign", appID, "--to", "vetting-london-2", "--version", "2", "--request-id", "r-3"},
			[]proto.Message{&vettingv1.AssignCaseRequest{RequestId: "r-3", ApplicationId: appID, ExpectedVersion: 2, Assignee: "vetting-london-2"}}, "vetting-london-2"},
		{"batch-assign offers from a csv, a missing version read first, as a dry run", []string{"batch-assign", "--stage", "offer", "--file", csvFile, "--to", "spoc-london-2", "--dry-run", "--request-id", "r-4"},
			[]proto.Message{
				&offersv1.GetOfferRequest{ApplicationId: "0192f3a4-aaaa-7d8e-9f00-112233445566"},
				&offersv1.BatchAssignRequest{RequestId: "r-4", Assignee: "spoc-london-2", DryRun: true, Items: []*offersv1.AssignItem{
					{ApplicationId: appID, ExpectedVersion: 5}, {ApplicationId: "0192f3a4-aaaa-7d8e-9f00-112233445566", ExpectedVersion: 3},
				}},
			}, "dry run: nothing was changed"},
		{"my sift cases", []string{"my", "--stage", "sift", "--page-size", "10", "--no-names", "-o", "csv"},
			[]proto.Message{&siftingv1.ListMyCasesRequest{PageSize: 10}}, "days_in_stage,stage,stage_entered_at,application_id"},
		{"my across stages is reporting's", []string{"my", "--no-names", "-o", "csv"},
			[]proto.Message{&reportingv1.ListMyCasesRequest{}},
			"application_id,region,role,stage,record,since,severity,days_overdue,next_threshold,next_threshold_at,rule"},
		{"an admin's look at someone's cases in a region", []string{"my", "--no-names", "--assignee", "spoc-london-2", "--region", "london", "--as-of", "2026-06-01T12:00:00Z"},
			[]proto.Message{&reportingv1.ListMyCasesRequest{Assignee: "spoc-london-2", Region: "london",
				AsOf: timestamppb.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))}}, "2026-06-03T10:00:00Z"},
		{"a region's workload", []string{"reports", "workload", "--region", "london", "-o", "csv"},
			[]proto.Message{&reportingv1.GetWorkloadRequest{Region: "london"}}, "(unassigned),spoc,3,0,1,2026-05-10T10:00:00Z"},
		{"the stuck list of nobody's", []string{"reports", "stuck", "--region", "london", "--assignee", "-", "--no-names", "-o", "csv"},
			[]proto.Message{&reportingv1.ListStuckCandidatesRequest{Region: "london", Assignee: "-"}}, ",spoc-london-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := &owners{}
			stdout, stderr, code := runCLI(t, append(tt.args, serveOwners(t, o)...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
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

func TestOwnerCommandsNeedAStage(t *testing.T) {
	t.Parallel()
	o := &owners{}
	flags := serveOwners(t, o)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"assign", appID, "--to", "spoc-1"}, `required flag(s) "stage" not set`},
		{[]string{"my", "--stage", "sift", "--region", "london"}, "leave out --stage"},
		{[]string{"unassign", appID, "--stage", "hiring"}, `unknown stage "hiring"; use one of: sift, offer, vetting`},
		{[]string{"batch-assign", "--stage", "sift", "--to", "spoc-1"}, "no cases"},
		{[]string{"vetting", "my", "--stage", "sift"}, "unknown flag: --stage"},
	} {
		_, stderr, code := runCLI(t, append(tt.args, flags...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
	if calls := o.calls(); len(calls) != 0 {
		t.Errorf("usage errors sent %v", calls)
	}
}

// TestOwnerChangeRefused: a change the service refuses prints the refusal
// and exits with its code, at every stage (a refused sift assign with
// --version once crashed pipelinectl rendering the absent case).
func TestOwnerChangeRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	siftingv1.RegisterSiftingServiceServer(srv, siftingv1.UnimplementedSiftingServiceServer{})
	offersv1.RegisterOffersServiceServer(srv, offersv1.UnimplementedOffersServiceServer{})
	vettingv1.RegisterVettingServiceServer(srv, vettingv1.UnimplementedVettingServiceServer{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	addr := l.Addr().String()
	flags := []string{"--sifting-addr", addr, "--offers-addr", addr, "--vetting-addr", addr, "--token", "t", "--version", "3"}
	for _, stage := range []string{"sift", "offer", "vetting"} {
		for _, args := range [][]string{{"assign", appID, "--stage", stage, "--to", "spoc-1"}, {"unassign", appID, "--stage", stage}} {
			stdout, stderr, code := runCLI(t, append(args, flags...)...)
			method := map[string]string{"assign": "AssignCase", "unassign": "UnassignCase"}[args[0]]
			if code == exitOK || !strings.Contains(stderr, "method "+method+" not implemented") || stdout != "" {
				t.Errorf("%v against a refusing service: exit %d, stdout %q, stderr %q; want the refusal", args, code, stdout, stderr)
			}
		}
	}
}
