package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/watch"
)

// replica serves the env's projection from a second process's point of
// view: its own report cache, empty until asked.
func (e *env) replica(t *testing.T) pb.ReportingServiceClient {
	t.Helper()
	reports := report.NewService(store.New(e.pool))
	api := grpcapi.New(reports, e.pool, watch.NewHub(e.pool, quiet, reports), func() time.Time { return serverNow }, quiet)
	srv := testenv.StartGRPC(t, testKey, quiet, func(s *grpc.Server) { pb.RegisterReportingServiceServer(s, api) })
	return pb.NewReportingServiceClient(testenv.Dial(t, srv.Addr, testenv.Token(t, srv.Signer, admin)))
}

// wantSameAnswers fails unless two sets of answers are equal.
func wantSameAnswers(t *testing.T, got, want []answer) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d answers, want %d", len(got), len(want))
	}
	for i := range want {
		wantProto(t, want[i].name, got[i].m, want[i].m)
	}
}

// TestReportCacheFollowsTheProjection asks every report, changes the
// projection underneath (more applications, a campaign's new closing date,
// new thresholds, then a projection with another epoch), and asks again
// of the same server: every answer must equal a fresh replica's, whose
// cache is empty. It runs twice: with the watch hub down, when every
// report reads the projection's versions, and with it listening, when
// reports reuse a read until a change is noticed (report/versions.go).
func TestReportCacheFollowsTheProjection(t *testing.T) {
	t.Parallel()
	for _, listening := range []bool{false, true} {
		t.Run(map[bool]string{false: "every report reads versions", true: "hub listening"}[listening], func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if listening {
				e.runHub(t)
			}
			testReportCacheFollowsTheProjection(t, e)
		})
	}
}

func testReportCacheFollowsTheProjection(t *testing.T, e *env) {
	s := newScripted()
	cached := e.as(t, admin)
	check := func(t *testing.T, what string) {
		t.Helper()
		got := reportResponses(t, cached, s)
		want := reportResponses(t, e.replica(t), s)
		t.Run(what, func(t *testing.T) { wantSameAnswers(t, got, want) })
	}

	e.apply(t, s.events[:3]...)
	apps := s.apps()
	for _, a := range apps[:5] {
		e.apply(t, a.evs...)
	}
	_ = reportResponses(t, cached, s) // fills the cache
	for _, a := range apps[5:] {
		e.apply(t, a.evs...)
	}
	check(t, "more applications")

	closes := day(time.April, 2)
	e.apply(t, s.c1.updated(at(time.April, 5, 9), day(time.March, 1), &closes))
	check(t, "a new closing date")

	if _, err := cached.SetThresholds(t.Context(), &pb.SetThresholdsRequest{RequestId: "tighten", Thresholds: tighter("london", 0)}); err != nil {
		t.Fatal(err)
	}
	check(t, "new thresholds")

	// Another projection in the same place, as a rebuild swaps in: versions
	// count from 1 again, so only the epoch tells it apart. It holds one
	// application more than the old.
	if _, err := e.pool.Exec(context.Background(), `TRUNCATE apps, campaigns, counts, durations, stuck, region_versions, campaign_versions;
		UPDATE projection_epoch SET epoch = gen_random_uuid(); SELECT setval('projection_version', 1, false)`); err != nil {
		t.Fatal(err)
	}
	extra := newApp(s.c1).submitted(at(time.March, 13, 10)).siftPassed(at(time.March, 24, 10)).
		interviewPassed(at(time.April, 3, 10)).offerMade(at(time.April, 6, 10))
	e.apply(t, append(append([]*eventsv1.Event(nil), s.events...), extra.evs...)...)
	check(t, "a rebuilt projection")
	funnel, err := cached.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	if got := funnel.GetStages()[0]; got.GetStage() != commonv1.Stage_STAGE_SIFT || got.GetReached() != 11 {
		t.Errorf("london SIFT after the rebuild %v, want 11 reached (the extra application counted)", got)
	}
}
