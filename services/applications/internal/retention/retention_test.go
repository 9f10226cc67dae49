package retention_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
	"github.com/probation-recruitment/pipeline/services/applications/internal/retention"
	"github.com/probation-recruitment/pipeline/services/applications/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// t0 is when the candidates apply.
var t0 = time.Date(2024, 1, 10, 10, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

type env struct {
	*testing.T
	svc      *intake.Service
	store    *store.Store
	clock    *testenv.Clock
	campaign string
	n        int
}

func setup(t *testing.T) *env {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(t.Context(), pool, service.Migrations(store.Migrations)...); err != nil {
		t.Fatal(err)
	}
	e := &env{T: t, store: store.New(pool), clock: testenv.NewClock(t0)}
	e.svc = intake.NewService(e.store, e.clock.Now, time.UTC)
	c, err := e.svc.CreateCampaign(t.Context(), auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}, intake.NewCampaign{
		Role:            intake.RoleOther,
		CampaignDetails: intake.CampaignDetails{Title: "Admin staff", Regions: []intake.RegionPosts{{Region: "london", Posts: 300}}, OpensOn: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.campaign = c.ID
	return e
}

func (e *env) job() *retention.Job {
	return retention.New(e.svc, e.store, intake.DefaultRetention, time.Hour, prometheus.NewRegistry(), quiet)
}

// submit applies at t0.
func (e *env) submit() string {
	e.Helper()
	e.n++
	e.clock.Set(t0)
	a, err := e.svc.Submit(e.Context(), auth.Claims{Subject: "spoc-1", Role: auth.RoleSPOC, Regions: []string{"london"}}, e.campaign, "",
		intake.Candidate{Name: "Candidate", Email: fmt.Sprintf("c%d@example.org", e.n)}, "")
	if err != nil {
		e.Fatal(err)
	}
	return a.ID
}

// stage applies a stage owner's event about id at at.
func (e *env) stage(id string, at time.Time, producer string, payload any) {
	e.Helper()
	ev := &eventsv1.Event{ApplicationId: id, Region: "london", Producer: producer, OccurredAt: timestamppb.New(at)}
	switch p := payload.(type) {
	case *eventsv1.Event_SiftFailed:
		ev.Payload = p
	case *eventsv1.Event_OfferDeclined:
		ev.Payload = p
	case *eventsv1.Event_OfferWithdrawn:
		ev.Payload = p
	case *eventsv1.Event_CandidateStarted:
		ev.Payload = p
	}
	if err := e.svc.ApplyStageEvent(e.Context(), ev); err != nil {
		e.Fatal(err)
	}
}

func (e *env) rejected(at time.Time) string {
	id := e.submit()
	e.stage(id, at, "sifting", &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "insufficient_evidence"}})
	return id
}

func (e *env) hired(at time.Time) string {
	id := e.submit()
	e.stage(id, at, "offers", &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{}})
	return id
}

// erased returns which of ids are erased, checking that an erased one has
// no candidate left and the retention reason.
func (e *env) erased(ids map[string]string) map[string]bool {
	e.Helper()
	out := map[string]bool{}
	for name, id := range ids {
		a, err := e.store.Application(e.Context(), id, nil)
		if err != nil {
			e.Fatal(err)
		}
		if a.Erased() {
			if a.Candidate != (intake.Candidate{}) || a.ErasureReason != intake.ErasureRetention {
				e.Errorf("%s erased as %+v, %q", name, a.Candidate, a.ErasureReason)
			}
			out[name] = true
		}
	}
	return out
}

func (e *env) run(j *retention.Job, at time.Time, want int) {
	e.Helper()
	e.clock.Set(at)
	n, leader, err := j.RunOnce(e.Context())
	if err != nil || !leader || n != want {
		e.Fatalf("at %s: erased %d (leader %v, %v), want %d", at, n, leader, err, want)
	}
}

// Retention erases exactly the candidates whose period has run out: 183
// days after a rejection or a withdrawal, 730 after the start; never one
// still in the pipeline.
func TestRetentionErasesExactlyTheDue(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := map[string]string{
		"rejected": e.rejected(t0.Add(1 * day)),
		"declined": e.submit(),
		"hired":    e.hired(t0.Add(4 * day)),
		// Started, then vetting failed: withdrawn 300 days later.
		"hired then withdrawn": e.hired(t0.Add(4 * day)),
		"in the pipeline":      e.submit(),
	}
	e.stage(ids["declined"], t0.Add(3*day), "offers", &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: "salary"}})
	e.stage(ids["hired then withdrawn"], t0.Add(300*day), "offers",
		&eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}})
	ids["withdrew"] = e.submit()
	e.clock.Set(t0.Add(2 * day))
	if _, err := e.svc.Withdraw(t.Context(), auth.Claims{Subject: "spoc-1", Role: auth.RoleSPOC, Regions: []string{"london"}},
		ids["withdrew"], 1, "candidate_request"); err != nil {
		t.Fatal(err)
	}

	j := e.job()
	e.run(j, t0.Add(184*day-time.Microsecond), 0) // the rejection is 183 days old less a microsecond
	e.run(j, t0.Add(184*day), 1)
	if got := e.erased(ids); len(got) != 1 || !got["rejected"] {
		t.Errorf("erased after 183 days of the rejection: %v", got)
	}
	e.run(j, t0.Add(186*day), 2) // the withdrawal (day 2) and the declined offer (day 3)
	e.run(j, t0.Add(186*day), 0) // again: nothing left
	e.run(j, t0.Add(483*day), 1) // 183 days after the withdrawal on day 300
	e.run(j, t0.Add(734*day-time.Microsecond), 0)
	e.run(j, t0.Add(734*day), 1) // 730 days after the start on day 4
	e.run(j, t0.Add(5000*day), 0)
	got := e.erased(ids)
	for name := range ids {
		if want := name != "in the pipeline"; got[name] != want {
			t.Errorf("%s: erased = %v, want %v", name, got[name], want)
		}
	}
	for name, id := range ids {
		want := 1
		if name == "in the pipeline" {
			want = 0
		}
		if n := testenv.CountEvents(t, e.store.Pool(), id, "application.erased"); n != want {
			t.Errorf("%s: %d application.erased events, want %d", name, n, want)
		}
	}
}

// Two replicas running at once erase each due candidate once between them;
// while another holds the lock, a replica does nothing.
func TestRetentionOneRunnerAtATime(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var ids []string
	for i := range 40 {
		ids = append(ids, e.rejected(t0.Add(time.Duration(i)*time.Hour)))
	}
	e.clock.Set(t0.Add(400 * day))

	// Another replica holds the lock: this one skips its pass.
	pool := e.store.Pool()
	conn, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lock := `hashtextextended(current_schema() || '.retention', 0)`
	if _, err := conn.Exec(t.Context(), `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	j := retention.New(e.svc, e.store, intake.DefaultRetention, time.Hour, reg, quiet)
	n, leader, err := j.RunOnce(t.Context())
	if err != nil || leader || n != 0 {
		t.Fatalf("with the lock held elsewhere: erased %d, leader %v, %v", n, leader, err)
	}
	if _, err := conn.Exec(t.Context(), `SELECT pg_advisory_unlock(`+lock+`)`); err != nil {
		t.Fatal(err)
	}
	conn.Release()

	// Two replicas at once.
	other := e.job()
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, job := range []*retention.Job{j, other} {
		wg.Go(func() {
			n, _, err := job.RunOnce(context.Background())
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if counts[0]+counts[1] != len(ids) {
		t.Errorf("erased %v between the two, want %d in all", counts, len(ids))
	}
	for _, id := range ids {
		if n := testenv.CountEvents(t, pool, id, "application.erased"); n != 1 {
			t.Errorf("%s: %d application.erased events, want 1", id, n)
		}
	}
	if got := testutil.ToFloat64(j.Erased()); got != float64(counts[0]) {
		t.Errorf("retention_erased_total = %v, want %d", got, counts[0])
	}
}
