package grpcapi_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestDuplicateAndReorderedDelivery applies the same events in causal order
// once, and shuffled with every event delivered twice in random batches,
// into separate schemas: every report and every projection table must be
// the same.
func TestDuplicateAndReorderedDelivery(t *testing.T) {
	t.Parallel()
	s := newScripted()
	evs := append([]*eventsv1.Event(nil), s.events...)
	// Besides the scripted pipeline: c1's closing date moves to 2 April
	// (re-measuring its applications), and two withdrawals race sift
	// decisions, one on each side.
	closes := day(time.April, 2)
	evs = append(evs, s.c1.updated(at(time.April, 5, 9), day(time.March, 1), &closes))
	racedBefore := newApp(s.c1).submitted(at(time.March, 11, 10)).
		withdrawn(atm(time.March, 21, 9, 59), commonv1.Stage_STAGE_SIFT).siftFailed(at(time.March, 21, 10))
	racedAfter := newApp(s.c1).submitted(at(time.March, 12, 10)).
		siftPassed(at(time.March, 22, 10)).withdrawn(atm(time.March, 22, 10, 1), commonv1.Stage_STAGE_SIFT)
	evs = append(evs, racedBefore.evs...)
	evs = append(evs, racedAfter.evs...)

	inOrder := setup(t)
	for _, ev := range evs {
		inOrder.apply(t, ev)
	}
	want := reportResponses(t, inOrder.as(t, admin), s)
	wantTables := tables(t, inOrder.pool)
	byName := map[string]proto.Message{}
	for _, r := range want {
		byName[r.name] = r.m
	}

	// With c1 closing on 2 April, time to hire in London is 6 7 13 15 21
	// 30 (l1 l2 l3 l6, then c2's l9 l10): median (13+15)/2 = 14. The racing
	// withdrawals count where they happened first: one withdrawn in SIFT,
	// one withdrawn in INTERVIEW.
	summary := byName["summary london"].(*pb.GetRegionSummaryResponse).GetSummary()
	if summary.GetRegion() != "london" || summary.GetMedianTimeToHireDays() != 14 {
		t.Errorf("london summary %v: want median time to hire 14 after the new closing date", summary)
	}
	funnel := byName["funnel london"].(*pb.GetFunnelResponse).GetStages()
	if funnel[0].GetWithdrawn() != 1 || funnel[1].GetWithdrawn() != 1 || funnel[0].GetRejected() != 1 {
		t.Errorf("london funnel %v: want the raced withdrawals in SIFT and INTERVIEW and l4 alone rejected in SIFT", funnel)
	}

	for _, seed := range []uint64{uint64(time.Now().UnixNano()), 7} {
		t.Run(fmt.Sprintf("shuffled seed %d", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed))
			twice := append(append([]*eventsv1.Event(nil), evs...), evs...)
			rng.Shuffle(len(twice), func(i, j int) { twice[i], twice[j] = twice[j], twice[i] })
			e := setup(t)
			for len(twice) > 0 {
				n := min(len(twice), 1+rng.IntN(9))
				e.apply(t, twice[:n]...)
				twice = twice[n:]
			}
			got := reportResponses(t, e.as(t, admin), s)
			if len(got) != len(want) {
				t.Fatalf("%d answers, want %d", len(got), len(want))
			}
			for i := range want {
				wantProto(t, want[i].name, got[i].m, want[i].m)
			}
			wantSameTables(t, tables(t, e.pool), wantTables)
		})
	}
}

// answer is one report's response.
type answer struct {
	name string
	m    proto.Message
}

// reportResponses asks every report the contract offers, as c.
func reportResponses(t *testing.T, c pb.ReportingServiceClient, s *scripted) []answer {
	t.Helper()
	ctx := t.Context()
	asOf := ts(at(time.June, 1, 12))
	var out []answer
	add := func(name string, m proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, answer{name, m})
	}
	for _, region := range []string{"london", "wales"} {
		token := ""
		for page := 0; page == 0 || token != ""; page++ {
			r, err := c.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{Region: region, AsOf: asOf, PageSize: 2, PageToken: token})
			add(fmt.Sprintf("stuck %s page %d", region, page+1), r, err)
			token = r.GetNextPageToken()
		}
	}
	for _, req := range []*pb.ListStuckCandidatesRequest{
		{Region: "london", AsOf: ts(at(time.May, 27, 12))},
		{Region: "london", AsOf: asOf, Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT},
		{Region: "london", AsOf: asOf, Severity: pb.Severity_SEVERITY_WARNING},
		{Region: "london", AsOf: asOf, Severity: pb.Severity_SEVERITY_BREACH},
	} {
		r, err := c.ListStuckCandidates(ctx, req)
		add("stuck "+req.String(), r, err)
	}
	for _, req := range []*pb.GetTimeToHireRequest{
		{}, {Region: "london"}, {Region: "wales"}, {Region: "london", CampaignId: s.c1.id}, {Region: "london", Role: pso},
		{Region: "london", From: ts(at(time.April, 10, 0)), To: ts(at(time.May, 20, 12))},
	} {
		r, err := c.GetTimeToHire(ctx, req)
		add("time to hire "+req.String(), r, err)
	}
	for _, req := range []*pb.GetStageDurationsRequest{
		{Region: "london"}, {Region: "wales"}, {Region: "london", From: ts(at(time.April, 1, 0)), To: ts(at(time.April, 30, 0))},
	} {
		r, err := c.GetStageDurations(ctx, req)
		add("stage durations "+req.String(), r, err)
	}
	for _, f := range []struct {
		name string
		req  *pb.GetFunnelRequest
	}{
		{"funnel wales", &pb.GetFunnelRequest{Region: "wales"}},
		{"funnel c1", &pb.GetFunnelRequest{Region: "london", CampaignId: s.c1.id}},
		{"funnel london", &pb.GetFunnelRequest{Region: "london"}},
	} {
		r, err := c.GetFunnel(ctx, f.req)
		add(f.name, r, err)
	}
	thresholds, err := c.GetThresholds(ctx, &pb.GetThresholdsRequest{Region: "london"})
	add("thresholds", thresholds, err)
	wales, err := c.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: "wales", AsOf: asOf})
	add("summary wales", wales, err)
	london, err := c.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: "london", AsOf: asOf})
	add("summary london", london, err)
	later, err := c.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: "london", AsOf: ts(at(time.July, 10, 12))})
	add("summary london 10 July", later, err)
	all, err := c.ListRegionSummaries(ctx, &pb.ListRegionSummariesRequest{AsOf: asOf})
	add("summaries", all, err)
	return out
}
