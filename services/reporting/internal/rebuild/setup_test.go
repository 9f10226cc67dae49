package rebuild_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/rebuild"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	// durable is the reporting service's consumer (main.go: its name).
	durable = "reporting"
	// streamName is the default stream's.
	streamName = "RECRUITMENT"
)

// migrated returns a fresh schema holding a reporting projection.
func migrated(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, rebuild.Migrations...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

// jetStream starts an in-process JetStream with the events stream, and
// returns connections to it as the administrator (to publish what the
// owners would) and as reporting: the live consumer and the rebuild run
// under reporting's NATS permissions.
func jetStream(t *testing.T) (admin, asReporting jetstream.JetStream) {
	t.Helper()
	url := testenv.NATS(t)
	_, admin = testenv.Connect(t, url)
	if _, err := stream.Ensure(t.Context(), admin, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	_, asReporting = testenv.ConnectAs(t, url, "reporting")
	return admin, asReporting
}

// live runs the reporting batch consumer, as main.go wires it, into pool
// until stop is called (or the test ends).
type live struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func startLive(t *testing.T, pool *pgxpool.Pool, js jetstream.JetStream, cfg consumer.Config, handle consumer.BatchHandler) *live {
	t.Helper()
	cfg.Durable = durable
	if handle == nil {
		handle = store.New(pool).Apply
	}
	c, err := consumer.NewBatch(pool, js, cfg, handle, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &live{cancel: cancel, done: make(chan error, 1)}
	go func() { l.done <- c.Run(ctx) }()
	t.Cleanup(func() { l.stop(t) })
	return l
}

func (l *live) stop(t *testing.T) {
	t.Helper()
	l.once.Do(func() {
		l.cancel()
		if err := <-l.done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
}

// publisher puts events on the stream and remembers the distinct ones.
type publisher struct {
	js  jetstream.JetStream
	ids map[string]bool
}

// publish publishes ev as an outbox relay does; dup publishes it again
// without the de-duplication header, as a relay retrying after the
// duplicate window would, so only the consumer's inbox can drop it.
func (p *publisher) publish(t *testing.T, ev *eventsv1.Event, dup bool) {
	t.Helper()
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	suffix, err := event.SubjectSuffix(ev)
	if err != nil {
		t.Fatal(err)
	}
	var opts []jetstream.PublishOpt
	if !dup {
		opts = append(opts, jetstream.WithMsgID(ev.GetEventId()))
	}
	if _, err := p.js.Publish(t.Context(), event.DefaultSubjectPrefix+"."+suffix, b, opts...); err != nil {
		t.Fatalf("publish: %v", err)
	}
	p.ids[ev.GetEventId()] = true
}

// waitApplied waits until pool's inbox holds n events.
func waitApplied(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	testenv.Eventually(t, "the consumer applies every event", func() (bool, string) {
		got, err := inboxCount(pool)
		return err == nil && got == n, "applied " + strconv.Itoa(got) + " of " + strconv.Itoa(n)
	})
}

func inboxCount(pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox WHERE consumer = $1`, durable).Scan(&n)
	return n, err
}

// tables is the projection as rows of text per table (counters and
// histogram rows that sum to zero left out), and the inbox's event ids.
func tables(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"apps":      `SELECT t::text FROM apps t ORDER BY 1`,
		"campaigns": `SELECT t::text FROM campaigns t ORDER BY 1`,
		// Each version of a campaign has its own title (campaign.event), so
		// equal rows mean the latest title of each.
		"campaign_titles": `SELECT t::text FROM campaign_titles t ORDER BY 1`,
		"counts":          `SELECT t::text FROM counts t WHERE n <> 0 ORDER BY 1`,
		"durations":       `SELECT t::text FROM durations t WHERE n <> 0 ORDER BY 1`,
		"stuck":           `SELECT t::text FROM stuck t ORDER BY 1`,
		"thresholds":      `SELECT t::text FROM thresholds t ORDER BY 1`,
		"inbox":           `SELECT consumer || ' ' || event_id FROM inbox ORDER BY 1`,
		// The stuck events written and not yet published (no relay runs
		// here): a rebuild carries them over and, replaying quietly,
		// adds none of its own.
		"outbox": `SELECT event_id::text || ' ' || subject FROM outbox WHERE published_at IS NULL ORDER BY 1`,
		// What each running clock has announced, and its next crossing.
		"alerts": `SELECT application_id || ' ' || kind || ' ' || stage || ' ' || since || ' ' || level || ' ' || coalesce(due_at::text, '-')
			FROM stuck_alerts WHERE since IS NOT NULL ORDER BY 1`,
	}
	out := map[string][]string{}
	for name, q := range queries {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		out[name], err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
	}
	return out
}

// wantSameTables fails unless both projections hold the same rows.
func wantSameTables(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for name, w := range want {
		g := got[name]
		if len(w) == 0 && name != "thresholds" {
			t.Errorf("table %s is empty: the comparison would prove nothing", name)
		}
		if strings.Join(g, "\n") == strings.Join(w, "\n") {
			continue
		}
		t.Errorf("table %s differs: %d rows, want %d", name, len(g), len(w))
		for _, diff := range []struct {
			what     string
			from, in []string
		}{{"unexpected", g, w}, {"missing", w, g}} {
			in := map[string]bool{}
			for _, r := range diff.in {
				in[r] = true
			}
			shown := 0
			for _, r := range diff.from {
				if !in[r] && shown < 5 {
					t.Errorf("  %s %s row: %s", diff.what, name, r)
					shown++
				}
			}
		}
	}
}

// workload is a random pipeline: campaigns in three regions, and
// applications taking random paths, with withdrawals racing decisions.
type workload struct {
	rng       *rand.Rand
	campaigns []*campaign
	apps      [][]*eventsv1.Event
}

var system = event.SystemActor("test")

type campaign struct {
	id, region string
	role       commonv1.JobRole
	version    int64
}

func (c *campaign) event(at time.Time, closes *time.Time, update bool) *eventsv1.Event {
	c.version++
	ev := event.New("applications", system, at, event.Record{CampaignID: c.id, Region: c.region, Role: c.role, Version: c.version})
	d := &eventsv1.CampaignDetails{Title: "Campaign " + c.id[:8] + " v" + strconv.FormatInt(c.version, 10), Posts: 5, OpensOn: event.Date(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))}
	if closes != nil {
		d.ClosesOn = event.Date(*closes)
	}
	if update {
		ev.Payload = &eventsv1.Event_CampaignUpdated{CampaignUpdated: &eventsv1.CampaignUpdated{Campaign: d}}
	} else {
		ev.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: d}}
	}
	return ev
}

func date(y int, m time.Month, d int) *time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return &t
}

// newWorkload builds n applications over two campaigns in each of three
// regions: one closing on 31 March, one rolling.
func newWorkload(seed uint64, n int) *workload {
	w := &workload{rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	for _, region := range []string{"london", "wales", "north-east"} {
		w.campaigns = append(w.campaigns,
			&campaign{id: event.NewID(), region: region, role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER},
			&campaign{id: event.NewID(), region: region, role: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER})
	}
	for range n {
		w.apps = append(w.apps, w.path(w.campaigns[w.rng.IntN(len(w.campaigns))]))
	}
	return w
}

// created are the campaigns' first events; updated move every closing
// date (the rolling campaigns get one).
func (w *workload) created() []*eventsv1.Event {
	var out []*eventsv1.Event
	for i, c := range w.campaigns {
		var closes *time.Time
		if i%2 == 0 {
			closes = date(2026, time.March, 31)
		}
		out = append(out, c.event(time.Date(2026, 2, 20, 9, 0, 0, 0, time.UTC), closes, false))
	}
	return out
}

func (w *workload) updated() []*eventsv1.Event {
	var out []*eventsv1.Event
	for i, c := range w.campaigns {
		closes := date(2026, time.April, 14)
		if i%2 == 1 {
			closes = date(2026, time.May, 1)
		}
		out = append(out, c.event(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), closes, true))
	}
	return out
}

// path is one application's events, in causal order but for a withdrawal
// racing a decision, which comes before or after it at random.
// assign makes ev producer's event naming to as its record's owner (""
// to unassign).
func assign(ev *eventsv1.Event, producer, to string) {
	switch {
	case producer == "sifting" && to == "":
		ev.Payload = &eventsv1.Event_SiftUnassigned{SiftUnassigned: &eventsv1.CaseUnassigned{}}
	case producer == "sifting":
		ev.Payload = &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: to}}
	case producer == "offers" && to == "":
		ev.Payload = &eventsv1.Event_OfferUnassigned{OfferUnassigned: &eventsv1.CaseUnassigned{}}
	case producer == "offers":
		ev.Payload = &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: to}}
	case to == "":
		ev.Payload = &eventsv1.Event_VettingUnassigned{VettingUnassigned: &eventsv1.VettingUnassigned{}}
	default:
		ev.Payload = &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: to}}
	}
}

func (w *workload) path(c *campaign) []*eventsv1.Event {
	rng := w.rng
	id := event.NewID()
	versions := map[string]int64{}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(60*24*60)) * time.Minute)
	var evs []*eventsv1.Event
	add := func(producer string, when time.Time, set func(*eventsv1.Event)) {
		versions[producer]++
		ev := event.New(producer, system, when, event.Record{ApplicationID: id, CampaignID: c.id, Region: c.region, Role: c.role, Version: versions[producer]})
		set(ev)
		evs = append(evs, ev)
	}
	step := func() { at = at.Add(time.Duration(60+rng.IntN(20*24*60)) * time.Minute) }
	stop := func() bool { return rng.IntN(8) == 0 } // stays where it is
	raceAt := rng.IntN(8)                           // 1-3: a withdrawal races that decision
	decide := func(n int, decision func(time.Time)) bool {
		if raceAt != n {
			decision(at)
			return false
		}
		withdrawnAt := at.Add(time.Duration(rng.IntN(121)-60) * time.Minute)
		withdraw := func() {
			add("applications", withdrawnAt, func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "candidate_request"}}
			})
		}
		if rng.IntN(2) == 0 {
			withdraw()
			decision(at)
		} else {
			decision(at)
			withdraw()
		}
		return true
	}
	add("applications", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	})
	// Owners named, changed and removed: the rebuild keeps the latest of each.
	for _, producer := range []string{"sifting", "offers", "vetting"} {
		for range rng.IntN(3) {
			to := []string{"", "staff-1", "staff-2"}[rng.IntN(3)]
			add(producer, at.Add(time.Minute), func(ev *eventsv1.Event) { assign(ev, producer, to) })
		}
	}
	if stop() {
		return evs
	}
	step()
	if rng.IntN(5) == 0 {
		decide(1, func(at time.Time) {
			add("sifting", at, func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "criteria_not_met"}}
			})
		})
		return evs
	}
	if decide(1, func(at time.Time) {
		add("sifting", at, func(ev *eventsv1.Event) { ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}} })
	}) || stop() {
		return evs
	}
	step()
	if rng.IntN(4) == 0 {
		decide(2, func(at time.Time) {
			add("sifting", at, func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: "below_bar"}}
			})
		})
		return evs
	}
	if decide(2, func(at time.Time) {
		add("sifting", at, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
		})
	}) || stop() {
		return evs
	}
	step()
	if decide(3, func(at time.Time) {
		add("offers", at, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "band_3"}}
		})
	}) || stop() {
		return evs
	}
	step()
	if rng.IntN(7) == 0 {
		add("offers", at, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: "salary"}}
		})
		return evs
	}
	add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	})
	at = at.Add(time.Hour)
	add("vetting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{Level: commonv1.VettingLevel_VETTING_LEVEL_CTC}}
	})
	for range rng.IntN(3) {
		step()
		reason := commonv1.BlockReason(1 + rng.IntN(6))
		add("vetting", at, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: reason}}
		})
		if rng.IntN(2) == 0 {
			step()
			add("vetting", at, func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
			})
		}
	}
	start := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 14+rng.IntN(45))
	due := start.AddDate(0, 0, 30)
	for range 1 + rng.IntN(2) {
		subject := rng.IntN(2) == 0
		start = start.AddDate(0, 0, rng.IntN(7))
		at = at.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
		add("offers", at, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{
				StartDate: event.Date(start), SubjectToVetting: subject, VettingDueBy: event.Date(due)}}
		})
	}
	if stop() {
		return evs
	}
	startedAt := start.Add(9 * time.Hour)
	switch rng.IntN(3) {
	case 0: // cleared, then started
		at = at.Add(time.Hour)
		add("vetting", at, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
		})
		add("offers", startedAt, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: event.Date(start)}}
		})
	case 1: // started subject to vetting, perhaps cleared later
		add("offers", startedAt, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{
				StartDate: event.Date(start), SubjectToVetting: true, VettingDueBy: event.Date(due)}}
		})
		if rng.IntN(2) == 0 {
			add("vetting", startedAt.AddDate(0, 0, 1+rng.IntN(40)), func(ev *eventsv1.Event) {
				ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
			})
		}
	case 2: // started subject to vetting, which then failed
		add("offers", startedAt, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{
				StartDate: event.Date(start), SubjectToVetting: true, VettingDueBy: event.Date(due)}}
		})
		failed := startedAt.AddDate(0, 0, 2+rng.IntN(20))
		add("vetting", failed, func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: "adverse_result"}}
		})
		add("offers", failed.Add(time.Hour), func(ev *eventsv1.Event) {
			ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}}
		})
	}
	return evs
}

// publishAll publishes the campaigns, then the applications' events
// interleaved at random (each application's in its own order), the
// campaign updates half-way, and about one event in twenty a second time.
func (w *workload) publishAll(t *testing.T, p *publisher) {
	t.Helper()
	for _, ev := range w.created() {
		p.publish(t, ev, false)
	}
	total := 0
	for _, evs := range w.apps {
		total += len(evs)
	}
	queues := append([][]*eventsv1.Event(nil), w.apps...)
	sent := 0
	for len(queues) > 0 {
		i := w.rng.IntN(len(queues))
		ev := queues[i][0]
		if queues[i] = queues[i][1:]; len(queues[i]) == 0 {
			queues = append(queues[:i], queues[i+1:]...)
		}
		p.publish(t, ev, false)
		if w.rng.IntN(20) == 0 {
			p.publish(t, ev, true)
		}
		if sent++; sent == total/2 {
			for _, ev := range w.updated() {
				p.publish(t, ev, false)
			}
		}
	}
}
