package main

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// reportsServer is a reporting service that keeps the report requests it
// is sent, answering each with an empty report.
type reportsServer struct {
	reportingv1.UnimplementedReportingServiceServer
	*owners
}

func (s reportsServer) GetTimeToHire(_ context.Context, r *reportingv1.GetTimeToHireRequest) (*reportingv1.GetTimeToHireResponse, error) {
	s.keep(r)
	return &reportingv1.GetTimeToHireResponse{}, nil
}

func (s reportsServer) GetFunnel(_ context.Context, r *reportingv1.GetFunnelRequest) (*reportingv1.GetFunnelResponse, error) {
	s.keep(r)
	return &reportingv1.GetFunnelResponse{}, nil
}

func (s reportsServer) GetStageDurations(_ context.Context, r *reportingv1.GetStageDurationsRequest) (*reportingv1.GetStageDurationsResponse, error) {
	s.keep(r)
	return &reportingv1.GetStageDurationsResponse{}, nil
}

func (s reportsServer) GetRegionSummary(_ context.Context, r *reportingv1.GetRegionSummaryRequest) (*reportingv1.GetRegionSummaryResponse, error) {
	s.keep(r)
	return &reportingv1.GetRegionSummaryResponse{Summary: &reportingv1.RegionSummary{Region: r.GetRegion(), AsOf: r.GetAsOf()}}, nil
}

func (s reportsServer) ListRegionSummaries(_ context.Context, r *reportingv1.ListRegionSummariesRequest) (*reportingv1.ListRegionSummariesResponse, error) {
	s.keep(r)
	return &reportingv1.ListRegionSummariesResponse{}, nil
}

func (s reportsServer) ListStuckCandidates(_ context.Context, r *reportingv1.ListStuckCandidatesRequest) (*reportingv1.ListStuckCandidatesResponse, error) {
	s.keep(r)
	return &reportingv1.ListStuckCandidatesResponse{}, nil
}

// TestEveryReportTakesAsOf: each report command sends --as-of as the
// request's as_of, and sends none without it.
func TestEveryReportTakesAsOf(t *testing.T) {
	t.Parallel()
	at := timestamppb.New(time.Date(2026, 6, 30, 22, 59, 59, 0, time.UTC))
	tests := []struct {
		args []string
		want proto.Message
	}{
		{[]string{"stuck", "--region", "london", "--no-names"}, &reportingv1.ListStuckCandidatesRequest{Region: "london", AsOf: at}},
		{[]string{"time-to-hire", "--region", "london"}, &reportingv1.GetTimeToHireRequest{Region: "london", AsOf: at}},
		{[]string{"funnel", "--region", "london"}, &reportingv1.GetFunnelRequest{Region: "london", AsOf: at}},
		{[]string{"durations", "--region", "london"}, &reportingv1.GetStageDurationsRequest{Region: "london", AsOf: at}},
		{[]string{"summary", "--region", "london"}, &reportingv1.GetRegionSummaryRequest{Region: "london", AsOf: at}},
		{[]string{"summaries"}, &reportingv1.ListRegionSummariesRequest{AsOf: at}},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			t.Parallel()
			for _, asOf := range []bool{true, false} {
				o := &owners{}
				args := append([]string{"reports"}, tt.args...)
				want := proto.Clone(tt.want)
				if asOf {
					args = append(args, "--as-of", "2026-06-30T23:59:59+01:00")
				} else {
					m := want.ProtoReflect()
					m.Clear(m.Descriptor().Fields().ByName("as_of"))
				}
				if _, stderr, code := runCLI(t, append(args, serveReports(t, o)...)...); code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, stderr)
				}
				got := o.calls()
				if len(got) != 1 || !proto.Equal(got[0], want) {
					t.Errorf("%v sent %v, want %v", args, got, want)
				}
			}
		})
	}
}

func serveReports(t *testing.T, o *owners) []string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	reportingv1.RegisterReportingServiceServer(srv, reportsServer{owners: o})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return []string{"--reporting-addr", l.Addr().String(), "--token", "t"}
}
