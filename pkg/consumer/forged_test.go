package consumer

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probation-recruitment/pipeline/pkg/event"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// A forged vetting.cleared would let offers start a candidate without
// vetting (issue 13). Whoever manages to put one on the stream, the
// consumer terminates it unapplied, counts it, and goes on with the events
// after it.
func TestForgedEventsAreTerminatedUnapplied(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"one at a time", "in batches"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			reg := prometheus.NewRegistry()
			cfg := Config{Durable: "effects", Registerer: reg}
			var c *Consumer
			var err error
			if kind == "in batches" {
				c, err = NewBatch(e.pool, e.js, cfg, func(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
					for _, ev := range evs {
						if err := recordEffect(ctx, tx, ev); err != nil {
							return err
						}
					}
					return nil
				}, quiet)
			} else {
				c, err = New(e.pool, e.js, cfg, recordEffect, quiet)
			}
			if err != nil {
				t.Fatal(err)
			}

			// vetting.cleared with applications as its producer, on the
			// subject its envelope gives.
			forgedProducer := newEvent()
			forgedProducer.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
			// Genuine-looking envelopes on subjects they do not give: the
			// wrong region, and the wrong event (a consumer filtering on
			// "*.vetting.cleared" would otherwise take a sift.passed
			// published there for a clearance).
			wrongRegion, wrongName := newEvent(), newEvent()
			wrongName.Payload, wrongName.Producer = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}, "vetting"
			good := newEvent()

			e.publish(t, forgedProducer)
			e.publishAt(t, "recruitment.wales.application.submitted", wrongRegion)
			e.publishAt(t, "recruitment.london.sift.passed", wrongName)
			e.publish(t, good)
			run(t, c)
			settled(t, e.js, "effects", 4)

			var applied []string
			rows, err := e.pool.Query(context.Background(), `SELECT event_id::text FROM effects UNION ALL SELECT event_id::text FROM inbox`)
			if err != nil {
				t.Fatal(err)
			}
			applied, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) != 2 || applied[0] != good.GetEventId() || applied[1] != good.GetEventId() {
				t.Errorf("effects and inbox rows = %v; want the good event %s alone, once in each", applied, good.GetEventId())
			}
			want := `
# HELP consumer_events_forged_total Events terminated unapplied because their producer does not own their type (reason producer) or their subject is not their envelope's (reason subject).
# TYPE consumer_events_forged_total counter
consumer_events_forged_total{consumer="effects",reason="producer"} 1
consumer_events_forged_total{consumer="effects",reason="subject"} 2
`
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "consumer_events_forged_total"); err != nil {
				t.Error(err)
			}
			if got := testutil.ToFloat64(c.metrics.applied); got != 1 {
				t.Errorf("applied = %v, want 1", got)
			}
		})
	}
}

// publishAt puts ev on the stream under subject, whatever its envelope says.
func (e env) publishAt(t *testing.T, subject string, ev *eventsv1.Event) {
	t.Helper()
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(context.Background(), &nats.Msg{Subject: subject, Data: b}, jetstream.WithMsgID(ev.GetEventId())); err != nil {
		t.Fatal(err)
	}
}

func TestForged(t *testing.T) {
	t.Parallel()
	cleared := func(producer, region string) *eventsv1.Event {
		return &eventsv1.Event{Producer: producer, Region: region, Payload: &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}}
	}
	checkRecorded := func(producer, region string) *eventsv1.Event {
		return &eventsv1.Event{Producer: producer, Region: region, Payload: &eventsv1.Event_OfferCheckRecorded{OfferCheckRecorded: &eventsv1.OfferCheckRecorded{}}}
	}
	tests := []struct {
		prefix, subject string
		ev              *eventsv1.Event
		want            string
	}{
		{"recruitment", "recruitment.london.vetting.cleared", cleared("vetting", "london"), ""},
		{"t1", "t1.london.vetting.cleared", cleared("vetting", "london"), ""},
		{"recruitment", "recruitment.london.vetting.cleared", cleared("applications", "london"), ReasonProducer},
		{"recruitment", "recruitment.london.vetting.cleared", cleared("", "london"), ReasonProducer},
		{"recruitment", "recruitment.wales.vetting.cleared", cleared("vetting", "london"), ReasonSubject},
		{"recruitment", "recruitment.london.vetting.failed", cleared("vetting", "london"), ReasonSubject},
		{"recruitment", "other.london.vetting.cleared", cleared("vetting", "london"), ReasonSubject},
		{"recruitment", "recruitment.london.vetting.cleared.x", cleared("vetting", "london"), ReasonSubject},
		{"recruitment", "recruitment..vetting.cleared", cleared("vetting", ""), ReasonSubject},
		// A check recorded is offers' (issue 16): vetting, reporting or the
		// equality service naming themselves, or naming offers on another
		// region's subject, are forged.
		{"recruitment", "recruitment.london.offer.check_recorded", checkRecorded("offers", "london"), ""},
		{"recruitment", "recruitment.london.offer.check_recorded", checkRecorded("vetting", "london"), ReasonProducer},
		{"recruitment", "recruitment.london.offer.check_recorded", checkRecorded("equality", "london"), ReasonProducer},
		{"recruitment", "recruitment.london.offer.check_recorded", checkRecorded("reporting", "london"), ReasonProducer},
		{"recruitment", "recruitment.wales.offer.check_recorded", checkRecorded("offers", "london"), ReasonSubject},
		{"recruitment", "recruitment.london.offer.made", checkRecorded("offers", "london"), ReasonSubject},
		// A payload this code does not know: nothing acts on it.
		{"recruitment", "recruitment.london.vetting.reopened", &eventsv1.Event{Producer: "applications", Region: "london"}, ""},
	}
	for _, tt := range tests {
		if got := Forged(tt.prefix, tt.subject, tt.ev); got != tt.want {
			t.Errorf("Forged(%q, %q, producer %q) = %q, want %q", tt.prefix, tt.subject, tt.ev.GetProducer(), got, tt.want)
		}
	}
}
