package live

import (
	"sync"
	"testing"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// The upstream streams are tested against the real reporting service in
// internal/web and e2e/dashboard_test.go; these test the fan-out's
// buffering, and how streams follow their tokens against a fake service
// that ends each stream when its token expires, as reporting does.

func update(region string, stuck int32) Update {
	return Update{Region: region, Connected: true, Summary: &pb.RegionSummary{Region: region, StuckCount: stuck}}
}

func newSubscription() *Subscription {
	return &Subscription{ready: make(chan struct{}, 1), pending: map[string]Update{}}
}

func TestSubscriptionKeepsTheLatestPerRegion(t *testing.T) {
	t.Parallel()
	s := newSubscription()
	s.offer(update("london", 1))
	s.offer(update("wales", 5))
	s.offer(update("london", 2))
	select {
	case <-s.Ready():
	default:
		t.Fatal("not ready with updates pending")
	}
	got := s.Take()
	if len(got) != 2 || got[0].Region != "london" || got[0].Summary.GetStuckCount() != 2 || got[1].Region != "wales" {
		t.Errorf("Take = %v, want london's latest (2) then wales", got)
	}
	if again := s.Take(); len(again) != 0 {
		t.Errorf("second Take = %v, want nothing", again)
	}
}

// A reader that falls behind still ends with every region's newest update,
// and never blocks the writer.
func TestSubscriptionUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	s := newSubscription()
	regions := []string{"london", "wales", "north-east"}
	var wg sync.WaitGroup
	for _, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int32(1); i <= 1000; i++ {
				s.offer(update(r, i))
			}
		}()
	}
	latest := map[string]int32{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-s.Ready():
		case <-done:
			finished = true
		}
		for _, u := range s.Take() {
			if u.Summary.GetStuckCount() < latest[u.Region] {
				t.Fatalf("%s went back from %d to %d", u.Region, latest[u.Region], u.Summary.GetStuckCount())
			}
			latest[u.Region] = u.Summary.GetStuckCount()
		}
	}
	for _, r := range regions {
		if latest[r] != 1000 {
			t.Errorf("%s ended at %d, want 1000", r, latest[r])
		}
	}
	if len(latest) != len(regions) {
		t.Errorf("regions seen: %v", latest)
	}
}
