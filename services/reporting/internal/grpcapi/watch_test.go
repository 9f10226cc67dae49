package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// stageCount returns the summary's count for stage.
func stageCount(s *pb.RegionSummary, stage commonv1.Stage) int32 {
	for _, c := range s.GetStageCounts() {
		if c.GetStage() == stage {
			return c.GetCount()
		}
	}
	return -1
}

// recv reads the stream's next summary, failing the test if none comes
// before a generous deadline.
func recv(t *testing.T, s pb.ReportingService_WatchRegionClient) *pb.RegionSummary {
	t.Helper()
	type result struct {
		resp *pb.WatchRegionResponse
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := s.Recv()
		ch <- result{resp, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("watch: %v", r.err)
		}
		return r.resp.GetSummary()
	case <-time.After(30 * time.Second):
		t.Fatal("watch: no summary")
		return nil
	}
}

// TestWatchRegion follows a region's summary through the live path: the
// batch consumer applies an event, the projection's NOTIFY reaches the
// hub, and the stream sends the new summary.
func TestWatchRegion(t *testing.T) {
	t.Parallel()
	// A short coalescing interval; no periodic refresh, so only the hub's
	// notifications can wake a stream.
	e := setupWith(t, options{watchInterval: 10 * time.Millisecond, watchRefresh: time.Hour})
	e.runHub(t)
	p := e.startPipeline(t)
	london, wales := newCampaign("london", po), newCampaign("wales", po)
	closes := day(time.May, 29)
	l1 := newApp(london).submitted(at(time.May, 2, 10))
	p.publish(t, london.created(at(time.May, 1, 9), day(time.May, 1), &closes), wales.created(at(time.May, 1, 9), day(time.May, 1), &closes))
	p.publish(t, l1.evs...)
	p.waitApplied(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	londonStream, err := e.as(t, dashLondon).WatchRegion(ctx, &pb.WatchRegionRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	walesStream, err := e.as(t, admin).WatchRegion(t.Context(), &pb.WatchRegionRequest{Region: "wales"})
	if err != nil {
		t.Fatal(err)
	}

	// At once: l1 in SIFT (submitted 2/5, stuck since 12/5 at the server's
	// 1/6); wales is empty.
	first := recv(t, londonStream)
	if first.GetRegion() != "london" || stageCount(first, commonv1.Stage_STAGE_SIFT) != 1 || first.GetStuckCount() != 1 {
		t.Fatalf("first london summary %v, want l1 in SIFT and stuck", first)
	}
	if w := recv(t, walesStream); stageCount(w, commonv1.Stage_STAGE_SIFT) != 0 {
		t.Fatalf("first wales summary %v, want empty", w)
	}

	// A wales application: the wales stream hears of it...
	p.publish(t, newApp(wales).submitted(at(time.May, 20, 10)).evs...)
	if w := recv(t, walesStream); stageCount(w, commonv1.Stage_STAGE_SIFT) != 1 {
		t.Fatalf("wales summary after a submission %v, want 1 in SIFT", w)
	}
	// ...and London's, whose next message must be London's own change: had
	// the wales event sent it anything, that would arrive first.
	l1.siftPassed(at(time.May, 25, 10))
	p.publish(t, l1.evs[len(l1.evs)-1])
	next := recv(t, londonStream)
	if stageCount(next, commonv1.Stage_STAGE_SIFT) != 0 || stageCount(next, commonv1.Stage_STAGE_INTERVIEW) != 1 || next.GetStuckCount() != 0 {
		t.Errorf("london summary after l1 passed sift %v, want l1 in INTERVIEW and nothing stuck", next)
	}

	// The client goes away: its stream ends, and the handler returns
	// without an error of its own.
	cancel()
	if _, err := londonStream.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after cancelling = %v, want Canceled", err)
	}
	select {
	case err := <-e.watchEnded:
		if err != nil && status.Code(err) != codes.Canceled {
			t.Errorf("the london watch ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the london watch handler did not return after the client cancelled")
	}
}

// TestWatchRegionEndsWhenTokenExpires: a watch lives no longer than the
// token that opened it. One opened with a two-second token ends
// Unauthenticated once the token expires (it used to deliver for as long as
// the client stayed); the same caller's watch with a valid token goes on.
func TestWatchRegionEndsWhenTokenExpires(t *testing.T) {
	t.Parallel()
	// No periodic refresh: only a notification wakes a stream.
	e := setupWith(t, options{watchInterval: 10 * time.Millisecond, watchRefresh: time.Hour})
	london := newCampaign("london", po)
	closes := day(time.May, 29)
	e.apply(t, london.created(at(time.May, 1, 9), day(time.May, 1), &closes))

	minted := time.Now()
	short, err := e.signer.Mint(dashLondon, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Generous: a watch that should end and does not fails the test here.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	expiring, err := e.dial(t, short).WatchRegion(ctx, &pb.WatchRegionRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	lasting, err := e.as(t, dashLondon).WatchRegion(ctx, &pb.WatchRegionRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, expiring)
	recv(t, lasting)

	_, err = expiring.Recv()
	testenv.WantStatus(t, err, codes.Unauthenticated, "token expired; sign in again")
	// The token's exp is whole seconds: at least one second after minting.
	if took := time.Since(minted); took < time.Second {
		t.Errorf("the watch ended %v after its token was minted, before the token expired", took)
	}

	e.apply(t, newApp(london).submitted(at(time.May, 20, 10)).evs...)
	e.hub.Notify("london")
	if s := recv(t, lasting); stageCount(s, commonv1.Stage_STAGE_SIFT) != 1 {
		t.Errorf("the watch with a valid token sent %v after a submission, want 1 in SIFT", s)
	}
}
