package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// regionCalls are every RPC that names a region, called for region.
func regionCalls(region string) map[string]func(ctx context.Context, c pb.ReportingServiceClient) error {
	return map[string]func(ctx context.Context, c pb.ReportingServiceClient) error{
		"ListStuckCandidates": func(ctx context.Context, c pb.ReportingServiceClient) error {
			_, err := c.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{Region: region})
			return err
		},
		"GetTimeToHire": func(ctx context.Context, c pb.ReportingServiceClient) error {
			_, err := c.GetTimeToHire(ctx, &pb.GetTimeToHireRequest{Region: region})
			return err
		},
		"GetFunnel": func(ctx context.Context, c pb.ReportingServiceClient) error {
			_, err := c.GetFunnel(ctx, &pb.GetFunnelRequest{Region: region})
			return err
		},
		"GetStageDurations": func(ctx context.Context, c pb.ReportingServiceClient) error {
			_, err := c.GetStageDurations(ctx, &pb.GetStageDurationsRequest{Region: region})
			return err
		},
		"GetRegionSummary": func(ctx context.Context, c pb.ReportingServiceClient) error {
			_, err := c.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: region})
			return err
		},
		"GetThresholds": func(ctx context.Context, c pb.ReportingServiceClient) error {
			_, err := c.GetThresholds(ctx, &pb.GetThresholdsRequest{Region: region})
			return err
		},
		"GetWorkload": func(ctx context.Context, c pb.ReportingServiceClient) error {
			_, err := c.GetWorkload(ctx, &pb.GetWorkloadRequest{Region: region})
			return err
		},
		"WatchRegion": func(ctx context.Context, c pb.ReportingServiceClient) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			s, err := c.WatchRegion(ctx, &pb.WatchRegionRequest{Region: region})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
	}
}

// TestRegionIsolation feeds the scripted pipeline through the live
// consumer and checks that London's readers see London only.
func TestRegionIsolation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.startPipeline(t)
	s := newScripted()
	p.publish(t, s.events...)
	p.waitApplied(t)
	adminClient := e.as(t, admin)

	t.Run("another region is denied", func(t *testing.T) {
		t.Parallel()
		for _, caller := range []auth.Claims{dashLondon, spocLondon, vettingLondon} {
			c := e.as(t, caller)
			for name, call := range regionCalls("wales") {
				t.Run(string(caller.Role)+" "+name, func(t *testing.T) {
					t.Parallel()
					testenv.WantStatus(t, call(t.Context(), c), codes.PermissionDenied)
				})
			}
			// The same calls for its own region pass, so the denial is about
			// the region.
			for name, call := range regionCalls("london") {
				if name == "WatchRegion" {
					continue // a stream that works does not end; see TestWatchRegion
				}
				t.Run(string(caller.Role)+" own region "+name, func(t *testing.T) {
					t.Parallel()
					if err := call(t.Context(), c); err != nil {
						t.Errorf("%s for london: %v", name, err)
					}
				})
			}
		}
	})

	t.Run("no token or a bad one", func(t *testing.T) {
		t.Parallel()
		other, err := auth.KeyConfig{HS256Key: "another-key-that-signs-nothing-here-0123456789"}.Signer()
		if err != nil {
			t.Fatal(err)
		}
		forged, err := other.Mint(admin, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for who, c := range map[string]pb.ReportingServiceClient{"no token": e.dial(t, ""), "forged token": e.dial(t, forged)} {
			for name, call := range regionCalls("london") {
				t.Run(who+" "+name, func(t *testing.T) {
					t.Parallel()
					testenv.WantStatus(t, call(t.Context(), c), codes.Unauthenticated)
				})
			}
			_, err := c.ListRegionSummaries(t.Context(), &pb.ListRegionSummariesRequest{})
			testenv.WantStatus(t, err, codes.Unauthenticated)
			_, err = c.SetThresholds(t.Context(), &pb.SetThresholdsRequest{RequestId: "r1", Thresholds: defaultThresholds("london", 0)})
			testenv.WantStatus(t, err, codes.Unauthenticated)
		}
	})

	t.Run("thresholds are set by admins only", func(t *testing.T) {
		t.Parallel()
		for _, caller := range []auth.Claims{dashLondon, spocLondon, vettingLondon} {
			_, err := e.as(t, caller).SetThresholds(t.Context(), &pb.SetThresholdsRequest{
				RequestId: "r-" + caller.Subject, Thresholds: defaultThresholds("london", 0)})
			testenv.WantStatus(t, err, codes.PermissionDenied)
		}
		got, err := adminClient.GetThresholds(t.Context(), &pb.GetThresholdsRequest{Region: "london"})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetThresholds().GetVersion() != 0 {
			t.Errorf("a denied SetThresholds changed london's thresholds: %v", got.GetThresholds())
		}
	})

	t.Run("time to hire without a region covers the caller's", func(t *testing.T) {
		t.Parallel()
		mine, err := e.as(t, dashLondon).GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		london, err := adminClient.GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{Region: "london"})
		if err != nil {
			t.Fatal(err)
		}
		wantProto(t, "london dashboard's time to hire", mine, london)
		// Everything (admin): wales's w1 adds its offer (31/3 → 7/4, 7 days) to
		// London's six: 7 8 9 15 17 21 30: median (rank 3) 15, p90 (rank 5.4) 21 + 0.4*9 = 24.6.
		everything, err := adminClient.GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		wantStats(t, "time to hire of all regions", everything.GetMeasures()[0].GetCalendarDays(), stats(7, 107.0/7, 15, 24.6))
		wantStats(t, "london dashboard's time to hire", mine.GetMeasures()[0].GetCalendarDays(), stats(6, 100.0/6, 16, 25.5))
	})

	t.Run("region summaries list the caller's regions", func(t *testing.T) {
		t.Parallel()
		asOf := ts(at(time.June, 1, 12))
		list, err := e.as(t, dashLondon).ListRegionSummaries(t.Context(), &pb.ListRegionSummariesRequest{AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		london, err := adminClient.GetRegionSummary(t.Context(), &pb.GetRegionSummaryRequest{Region: "london", AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		wantProto(t, "london dashboard's summaries", list, &pb.ListRegionSummariesResponse{Summaries: []*pb.RegionSummary{london.GetSummary()}})
		everyRegion, err := adminClient.ListRegionSummaries(t.Context(), &pb.ListRegionSummariesRequest{AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		if len(everyRegion.GetSummaries()) != 12 {
			t.Errorf("admin sees %d region summaries, want all 12", len(everyRegion.GetSummaries()))
		}
	})

	t.Run("lists hold the region's candidates only", func(t *testing.T) {
		t.Parallel()
		wales := map[string]bool{s.w1.id: true, s.w2.id: true}
		resp, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetCandidates()) != 6 {
			t.Errorf("%d London candidates, want 6", len(resp.GetCandidates()))
		}
		for _, c := range resp.GetCandidates() {
			if wales[c.GetApplicationId()] || c.GetRegion() != "london" {
				t.Errorf("London's stuck list holds %v", c)
			}
		}
		// Wales does have a stuck candidate: w2, in SIFT since 1/5.
		resp, err = adminClient.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "wales"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetCandidates()) != 1 || resp.GetCandidates()[0].GetApplicationId() != s.w2.id {
			t.Errorf("wales stuck list %v, want w2 alone", resp.GetCandidates())
		}
	})
}
