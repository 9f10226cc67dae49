package grpcapi_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

// TestInterviewPassed: interview.passed opens an offer record awaiting an
// offer; a redelivery never resets it.
func TestInterviewPassed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	r := newRecord("london")
	r.role = commonv1.JobRole_JOB_ROLE_ADMINISTRATOR
	passed := r.interviewPassed(start.Add(-time.Hour))
	e.handle(t, passed)

	got, err := c.GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
	if err != nil {
		t.Fatal(err)
	}
	o := got.GetOffer()
	if o.GetStatus() != pb.OfferStatus_OFFER_STATUS_AWAITING_OFFER || o.GetVersion() != 1 || o.GetRegion() != "london" ||
		o.GetCampaignId() != r.campaign || o.GetRole() != commonv1.JobRole_JOB_ROLE_ADMINISTRATOR ||
		!o.GetStatusEnteredAt().AsTime().Equal(start.Add(-time.Hour)) || len(o.GetHistory()) != 1 || o.GetHistory()[0].GetEvent() != "interview.passed" {
		t.Errorf("opened offer = %v", o)
	}
	if rows := testenv.OutboxEvents(t, e.Pool, r.id); len(rows) != 0 {
		t.Errorf("opening wrote %v to the outbox; it is not an event of ours", testenv.EventNames(rows))
	}

	e.makeOffer(t, c, r)
	e.handle(t, passed)                                  // the same event again
	e.handle(t, r.interviewPassed(start.Add(time.Hour))) // or a repeat with a new id
	if o := e.get(t, r.id); o.State != offer.Made || o.Version != 2 || len(o.History) != 2 {
		t.Errorf("after redelivery the offer is %s v%d with %d history entries, want MADE v2 with 2", o.State, o.Version, len(o.History))
	}
}

// TestApplicationWithdrawn: the candidate's withdrawal ends an open offer,
// and wins even when it arrives before interview.passed.
func TestApplicationWithdrawn(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	tests := []struct {
		name  string
		ready func(t *testing.T, r record)
		// ends says whether the withdrawal ends the offer.
		ends bool
	}{
		{"awaiting offer", func(*testing.T, record) {}, true},
		{"made", func(t *testing.T, r record) { e.makeOffer(t, c, r) }, true},
		{"accepted", func(t *testing.T, r record) { e.accept(t, c, r) }, true},
		{"started", func(t *testing.T, r record) { e.startToday(t, c, r) }, false},
		{"declined", func(t *testing.T, r record) {
			e.makeOffer(t, c, r)
			if _, err := c.DeclineOffer(t.Context(), &pb.DeclineOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, ReasonCode: "salary"}); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.open(t, "london")
			tt.ready(t, r)
			before := e.get(t, r.id)
			outboxBefore := len(testenv.OutboxEvents(t, e.Pool, r.id))
			withdrawal := r.applicationWithdrawn(e.clock.Advance(time.Minute))
			e.handle(t, withdrawal)
			e.handle(t, withdrawal) // redelivered
			after := e.get(t, r.id)
			if !tt.ends {
				if after.State != before.State || after.Version != before.Version {
					t.Errorf("withdrawal moved a %s offer to %s v%d", before.State, after.State, after.Version)
				}
				return
			}
			if after.State != offer.Withdrawn || after.Version != before.Version+1 || after.ReasonCode != "candidate_request" {
				t.Errorf("after withdrawal: %s v%d %q; want WITHDRAWN v%d candidate_request", after.State, after.Version, after.ReasonCode, before.Version+1)
			}
			if last := after.History[len(after.History)-1]; last.Event != "application.withdrawn" || last.Actor.GetSubject() != "spoc-intake" {
				t.Errorf("last history entry = %+v, want application.withdrawn by spoc-intake", last)
			}
			if n := len(testenv.OutboxEvents(t, e.Pool, r.id)); n != outboxBefore {
				t.Errorf("withdrawal wrote %d events of ours; applications has already published it", n-outboxBefore)
			}
		})
	}

	t.Run("at sift, never reaching offers", func(t *testing.T) {
		r := newRecord("london")
		early := r.applicationWithdrawn(start)
		early.GetApplicationWithdrawn().Stage = commonv1.Stage_STAGE_SIFT
		e.handle(t, early)
		_, err := c.GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
		testenv.WantStatus(t, err, codes.NotFound, "no offer record")
	})

	t.Run("before interview.passed", func(t *testing.T) {
		r := newRecord("london")
		e.handle(t, r.applicationWithdrawn(start.Add(-time.Minute)))
		e.handle(t, r.interviewPassed(start.Add(-time.Hour)))
		got, err := c.GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
		if err != nil {
			t.Fatal(err)
		}
		if o := got.GetOffer(); o.GetStatus() != pb.OfferStatus_OFFER_STATUS_WITHDRAWN || o.GetReasonCode() != "candidate_request" {
			t.Errorf("after withdrawal then interview.passed: %v; want WITHDRAWN", o)
		}
		_, err = c.MakeConditionalOffer(t.Context(), &pb.MakeConditionalOfferRequest{RequestId: reqID(), ApplicationId: r.id,
			ExpectedVersion: got.GetOffer().GetVersion(), SalaryBandCode: "band_3", Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "WITHDRAWN")
		if rows := testenv.OutboxEvents(t, e.Pool, r.id); len(rows) != 0 {
			t.Errorf("outbox = %v, want nothing", testenv.EventNames(rows))
		}
	})
}

// TestVettingCleared: once vetting has cleared, a start date needs no
// approver and is not subject to vetting.
func TestVettingCleared(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)

	r := e.open(t, "london")
	acc := e.accept(t, c, r)
	e.handle(t, r.vettingCleared(start))
	e.handle(t, r.vettingCleared(start)) // a repeat changes nothing
	noted := e.get(t, r.id)
	if !noted.VettingCleared || noted.Version != acc.GetVersion()+1 || noted.State != offer.Accepted {
		t.Fatalf("after vetting.cleared: cleared %v %s v%d; want noted at v%d", noted.VettingCleared, noted.State, noted.Version, acc.GetVersion()+1)
	}
	resp, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: noted.Version, StartDate: today})
	if err != nil {
		t.Fatalf("start date without approver after vetting cleared: %v", err)
	}
	if o := resp.GetOffer(); o.GetSubjectToVetting() || o.GetStartApprovedBy() != "" || o.GetVettingDueBy() != nil || !o.GetVettingCleared() {
		t.Errorf("offer = %v; want a start not subject to vetting", o)
	}
	rows := testenv.OutboxEvents(t, e.Pool, r.id)
	if want := (&eventsv1.OfferStartDateSet{StartDate: today}); !proto.Equal(rows[len(rows)-1].Event.GetOfferStartDateSet(), want) {
		t.Errorf("last event = %v, want offer.start_date_set %v", rows[len(rows)-1].Event, want)
	}
	started, err := c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: e.rightToWorkMet(t, c, r, resp.GetOffer().GetVersion())})
	if err != nil {
		t.Fatal(err)
	}
	rows = testenv.OutboxEvents(t, e.Pool, r.id)
	if want := (&eventsv1.CandidateStarted{StartDate: today}); started.GetOffer().GetSubjectToVetting() || !proto.Equal(rows[len(rows)-1].Event.GetCandidateStarted(), want) {
		t.Errorf("started %v with event %v, want %v", started.GetOffer(), rows[len(rows)-1].Event, want)
	}

	t.Run("without vetting cleared an approval is required", func(t *testing.T) {
		r := e.open(t, "london")
		e.accept(t, c, r)
		if _, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3, StartDate: today}); err != nil {
			t.Fatal(err)
		}
		_, err := c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 4})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "no approver has approved")
	})
	t.Run("for an application with no offer record", func(t *testing.T) {
		r := newRecord("london")
		e.handle(t, r.vettingCleared(start))
		if _, err := e.svc.Offer(t.Context(), admin, r.id); err == nil {
			t.Error("vetting.cleared created an offer record")
		}
	})
}

// TestVettingFailed: failed vetting withdraws a made or accepted offer, or
// ends a conditional start, as offers' own offer.withdrawn event.
func TestVettingFailed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	tests := []struct {
		name       string
		ready      func(t *testing.T, r record)
		withdraws  bool
		afterStart bool
	}{
		{"made", func(t *testing.T, r record) { e.makeOffer(t, c, r) }, true, false},
		{"accepted", func(t *testing.T, r record) { e.accept(t, c, r) }, true, false},
		{"started", func(t *testing.T, r record) { e.startToday(t, c, r) }, true, true},
		{"awaiting offer", func(*testing.T, record) {}, false, false},
		{"declined", func(t *testing.T, r record) {
			e.makeOffer(t, c, r)
			if _, err := c.DeclineOffer(t.Context(), &pb.DeclineOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, ReasonCode: "salary"}); err != nil {
				t.Fatal(err)
			}
		}, false, false},
		{"withdrawn", func(t *testing.T, r record) {
			e.makeOffer(t, c, r)
			if _, err := c.WithdrawOffer(t.Context(), &pb.WithdrawOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2, ReasonCode: "post_cancelled"}); err != nil {
				t.Fatal(err)
			}
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.open(t, "london")
			tt.ready(t, r)
			before := e.get(t, r.id)
			outboxBefore := len(testenv.OutboxEvents(t, e.Pool, r.id))
			at := e.clock.Advance(time.Minute).Add(-30 * time.Second)
			failed := r.vettingFailed(at)
			e.handle(t, failed)
			e.handle(t, failed) // redelivered
			after := e.get(t, r.id)
			rows := testenv.OutboxEvents(t, e.Pool, r.id)[outboxBefore:]
			if !tt.withdraws {
				if after.State != before.State || after.Version != before.Version || len(rows) != 0 {
					t.Errorf("vetting failed on %s: offer %s v%d, new events %v; want no change", before.State, after.State, after.Version, testenv.EventNames(rows))
				}
				return
			}
			if after.State != offer.Withdrawn || after.ReasonCode != offer.ReasonVettingFailed || after.Version != before.Version+1 {
				t.Errorf("after vetting failed: %s v%d %q; want WITHDRAWN v%d vetting_failed", after.State, after.Version, after.ReasonCode, before.Version+1)
			}
			if len(rows) != 1 || rows[0].Name != "offer.withdrawn" {
				t.Fatalf("new events %v, want one offer.withdrawn", testenv.EventNames(rows))
			}
			ev := rows[0].Event
			want := &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: tt.afterStart}
			if !proto.Equal(ev.GetOfferWithdrawn(), want) {
				t.Errorf("offer.withdrawn = %v, want %v", ev.GetOfferWithdrawn(), want)
			}
			wantActor := &commonv1.Actor{Subject: "system:offers", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM}
			if !proto.Equal(ev.GetActor(), wantActor) || ev.GetProducer() != "offers" || ev.GetAggregateVersion() != after.Version ||
				!ev.GetOccurredAt().AsTime().Equal(at) || rows[0].Subject != "london.offer.withdrawn" {
				t.Errorf("envelope = %s %v; want by system:offers at v%d at the failure's time %v", rows[0].Subject, ev, after.Version, at)
			}
			if last := after.History[len(after.History)-1]; last.Event != "offer.withdrawn" || last.ReasonCode != "vetting_failed" || last.Actor.GetSubject() != "system:offers" {
				t.Errorf("history ends %+v", last)
			}
		})
	}
	t.Run("for an application with no offer record", func(t *testing.T) {
		r := newRecord("london")
		e.handle(t, r.vettingFailed(start))
		if len(testenv.OutboxEvents(t, e.Pool, r.id)) != 0 {
			t.Error("vetting failed for an unknown application wrote an event")
		}
	})
}

// TestConsumerOnJetStream wires the service to an in-process JetStream as
// main.go does (durable consumer of four event names, outbox relay) and
// drives it with published events.
func TestConsumerOnJetStream(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	// The test publishes as the administrator; the consumer and relay run
	// as offers, under its NATS permissions.
	url := testenv.NATS(t)
	_, js := testenv.Connect(t, url)
	_, asOffers := testenv.ConnectAs(t, url, "offers")
	if _, err := stream.Ensure(t.Context(), asOffers, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	cons, err := consumer.New(e.Pool, asOffers, consumer.Config{Durable: "offers",
		Wants: consumer.Named(offer.Consumes)},
		func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
			return e.svc.HandleEvent(pg.WithTx(ctx, tx), ev)
		}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	relay := outbox.NewRelay(e.Pool, asOffers, outbox.RelayConfig{PollInterval: 50 * time.Millisecond}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- cons.Run(ctx) }()
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("consumer or relay: %v", err)
			}
		}
	})

	publish := func(t *testing.T, ev *eventsv1.Event, withID bool) uint64 {
		t.Helper()
		b, err := event.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		suffix, _ := event.SubjectSuffix(ev)
		var opts []jetstream.PublishOpt
		if withID {
			opts = append(opts, jetstream.WithMsgID(ev.GetEventId()))
		}
		ack, err := js.Publish(t.Context(), "recruitment."+suffix, b, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	consumed := func(t *testing.T, seq uint64) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("consumer acknowledging stream sequence %d", seq), func() (bool, string) {
			cs, err := js.Consumer(t.Context(), "RECRUITMENT", "offers")
			if err != nil {
				return false, err.Error()
			}
			info, err := cs.Info(t.Context())
			if err != nil {
				return false, err.Error()
			}
			return info.AckFloor.Stream >= seq, fmt.Sprintf("ack floor %d", info.AckFloor.Stream)
		})
	}

	r := newRecord("london")
	passed := r.interviewPassed(start)
	consumed(t, publish(t, passed, true))
	if o := e.get(t, r.id); o.State != offer.AwaitingOffer || o.Version != 1 {
		t.Fatalf("after interview.passed on the stream: %s v%d", o.State, o.Version)
	}
	e.accept(t, c, r)
	// Republished without a message id (past the duplicate window): the
	// inbox, not JetStream, must drop it.
	consumed(t, publish(t, passed, false))
	if o := e.get(t, r.id); o.State != offer.Accepted || o.Version != 3 {
		t.Fatalf("after a republished interview.passed: %s v%d, want ACCEPTED v3", o.State, o.Version)
	}
	var inbox int
	if err := e.Pool.QueryRow(t.Context(), `SELECT count(*) FROM inbox WHERE consumer = 'offers' AND event_id = $1`, passed.GetEventId()).Scan(&inbox); err != nil || inbox != 1 {
		t.Errorf("inbox rows for interview.passed = %d, %v; want 1", inbox, err)
	}

	consumed(t, publish(t, r.vettingFailed(start.Add(time.Hour)), true))
	if o := e.get(t, r.id); o.State != offer.Withdrawn || o.ReasonCode != offer.ReasonVettingFailed {
		t.Fatalf("after vetting.failed on the stream: %s %q", o.State, o.ReasonCode)
	}

	// The relay publishes offers' own events, the withdrawal last; the
	// consumer skips them (not among its event names).
	var got []string
	testenv.Eventually(t, "offer.withdrawn published", func() (bool, string) {
		got = nil
		sub, err := js.OrderedConsumer(t.Context(), "RECRUITMENT", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"recruitment.london.offer.>"}})
		if err != nil {
			return false, err.Error()
		}
		batch, err := sub.FetchNoWait(100)
		if err != nil {
			return false, err.Error()
		}
		for msg := range batch.Messages() {
			ev, err := event.Unmarshal(msg.Data())
			if err != nil {
				return false, err.Error()
			}
			if ev.GetApplicationId() == r.id {
				name, _ := event.Name(ev)
				got = append(got, msg.Subject()+" "+name+" "+ev.GetOfferWithdrawn().GetReasonCode())
			}
		}
		return len(got) == 3, fmt.Sprint(got)
	})
	want := []string{"recruitment.london.offer.made offer.made ", "recruitment.london.offer.accepted offer.accepted ",
		"recruitment.london.offer.withdrawn offer.withdrawn vetting_failed"}
	if !slices.Equal(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}
}
