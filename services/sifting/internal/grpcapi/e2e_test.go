package grpcapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/sift"
)

// pipeline is env plus JetStream, the sifting consumer wired as main.go
// wires it, and the outbox relay.
type pipeline struct {
	*env
	js     jetstream.JetStream
	stream jetstream.Stream
}

func setupPipeline(t *testing.T) *pipeline {
	t.Helper()
	e := setup(t)
	// The test publishes as the administrator; the consumer and relay run
	// as sifting, under its NATS permissions.
	url := testenv.NATS(t)
	_, js := testenv.Connect(t, url)
	_, asSifting := testenv.ConnectAs(t, url, "sifting")
	if _, err := stream.Ensure(t.Context(), asSifting, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	// The test reads the stream as the administrator.
	s, err := js.Stream(t.Context(), "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := consumer.New(e.Pool, asSifting, consumer.Config{Durable: "sifting", FilterSubject: "recruitment.*.application.>", Wants: consumer.Named(sift.Consumes)},
		func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
			return e.svc.HandleEvent(pg.WithTx(ctx, tx), ev)
		}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	relay := outbox.NewRelay(e.Pool, asSifting, outbox.RelayConfig{}, quiet)
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
	return &pipeline{env: e, js: js, stream: s}
}

// publish puts ev on the stream as the applications service's relay does,
// de-duplicated by its event id; msgID "" leaves the header off, as a
// republish after the duplicate window would look. It returns the stream
// sequence.
func (p *pipeline) publish(t *testing.T, ev *eventsv1.Event, msgID string) uint64 {
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
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := p.js.Publish(t.Context(), event.DefaultSubjectPrefix+"."+suffix, b, opts...)
	if err != nil {
		t.Fatalf("publish %s: %v", suffix, err)
	}
	return ack.Sequence
}

// consumed waits until the sifting consumer has acknowledged (so committed)
// every message up to stream sequence seq.
func (p *pipeline) consumed(t *testing.T, seq uint64) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("consumer acknowledging stream sequence %d", seq), func() (bool, string) {
		c, err := p.js.Consumer(t.Context(), "RECRUITMENT", "sifting")
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return info.AckFloor.Stream >= seq, fmt.Sprintf("ack floor %d", info.AckFloor.Stream)
	})
}

// caseIn waits until the case exists and is in want.
func (p *pipeline) caseIn(t *testing.T, c pb.SiftingServiceClient, id string, want pb.CaseState) *pb.SiftCase {
	t.Helper()
	var got *pb.SiftCase
	testenv.Eventually(t, fmt.Sprintf("case %s in %s", id, want), func() (bool, string) {
		resp, err := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: id})
		if err != nil {
			return false, err.Error()
		}
		got = resp.GetCase()
		return got.GetState() == want, got.GetState().String()
	})
	return got
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	p := setupPipeline(t)
	c := p.as(t, spocLondon)

	t.Run("submitted, queued, passed, published", func(t *testing.T) {
		t.Parallel()
		campaign, id := event.NewID(), event.NewID()
		submittedAt := start.Add(-(3*24 + 2) * time.Hour)
		ev := submitted(id, campaign, "london", submittedAt)
		p.publish(t, ev, ev.GetEventId())

		var entry *pb.QueueEntry
		testenv.Eventually(t, "case in the sift queue", func() (bool, string) {
			resp, err := c.ListSiftQueue(t.Context(), &pb.ListSiftQueueRequest{Region: "london", CampaignId: campaign})
			if err != nil {
				return false, err.Error()
			}
			for _, en := range resp.GetEntries() {
				if en.GetCase().GetApplicationId() == id {
					entry = en
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d entries", len(resp.GetEntries()))
		})
		if entry.GetDaysWaiting() != 3 || entry.GetCase().GetVersion() != 1 || !entry.GetCase().GetSubmittedAt().AsTime().Equal(submittedAt) {
			t.Errorf("queue entry = %v, want version 1, submitted %s, 3 days waiting", entry, submittedAt)
		}

		if _, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS,
		}); err != nil {
			t.Fatalf("pass: %v", err)
		}
		var row testenv.OutboxEvent
		testenv.Eventually(t, "sift.passed published", func() (bool, string) {
			rows := testenv.OutboxEvents(t, p.Pool, id)
			if len(rows) != 1 {
				return false, fmt.Sprintf("%d outbox rows", len(rows))
			}
			row = rows[0]
			return row.Published, "unpublished"
		})

		subject := "recruitment.london.sift.passed"
		info, err := p.stream.Info(t.Context(), jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects[subject]; n != 1 {
			t.Fatalf("%d messages on %s, want 1", n, subject)
		}
		msg, err := p.stream.GetLastMsgForSubject(t.Context(), subject)
		if err != nil {
			t.Fatal(err)
		}
		got, err := event.Unmarshal(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if h := msg.Header.Get(nats.MsgIdHdr); h != got.GetEventId() || h != row.Event.GetEventId() {
			t.Errorf("Nats-Msg-Id %q, event id %q, outbox event id %q: want all equal", h, got.GetEventId(), row.Event.GetEventId())
		}
		if got.GetSiftPassed() == nil || got.GetApplicationId() != id || got.GetAggregateVersion() != 2 || got.GetProducer() != "sifting" ||
			got.GetCampaignId() != campaign || got.GetRegion() != "london" || got.GetActor().GetSubject() != spocLondon.Subject {
			t.Errorf("published event = %v, want sift.passed of %s at version 2 from sifting", got, id)
		}
	})

	t.Run("withdrawal closes an open case", func(t *testing.T) {
		t.Parallel()
		campaign, id := event.NewID(), event.NewID()
		sub := submitted(id, campaign, "london", start.Add(-time.Hour))
		p.publish(t, sub, sub.GetEventId())
		p.caseIn(t, c, id, pb.CaseState_CASE_STATE_AWAITING_SIFT)
		wd := withdrawn(id, campaign, "london", start.Add(-time.Minute))
		p.publish(t, wd, wd.GetEventId())
		got := p.caseIn(t, c, id, pb.CaseState_CASE_STATE_WITHDRAWN)
		if got.GetVersion() != 2 || got.GetReasonCode() != "candidate_request" || len(got.GetHistory()) != 2 ||
			got.GetHistory()[1].GetEvent() != "application.withdrawn" {
			t.Errorf("withdrawn case = %v", got)
		}
		_, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2, Outcome: commonv1.Outcome_OUTCOME_PASS,
		})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "withdrawn")
		if rows := testenv.OutboxEvents(t, p.Pool, id); len(rows) != 0 {
			t.Errorf("outbox holds %v for a withdrawn case", rows)
		}
	})

	t.Run("withdrawal before submission", func(t *testing.T) {
		t.Parallel()
		campaign, id := event.NewID(), event.NewID()
		sub := submitted(id, campaign, "london", start.Add(-time.Hour))
		wd := withdrawn(id, campaign, "london", start.Add(-time.Minute))
		p.publish(t, wd, wd.GetEventId())
		p.caseIn(t, c, id, pb.CaseState_CASE_STATE_WITHDRAWN)
		p.consumed(t, p.publish(t, sub, sub.GetEventId()))
		got := p.caseIn(t, c, id, pb.CaseState_CASE_STATE_WITHDRAWN)
		if got.GetVersion() != 2 {
			t.Errorf("case after both events = %v, want WITHDRAWN at version 2", got)
		}
		_, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: got.GetVersion(), Outcome: commonv1.Outcome_OUTCOME_PASS,
		})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "withdrawn")
		resp, err := c.ListSiftQueue(t.Context(), &pb.ListSiftQueueRequest{Region: "london", CampaignId: campaign})
		if err != nil || len(resp.GetEntries()) != 0 {
			t.Errorf("sift queue = %v, %v; want empty", resp.GetEntries(), err)
		}
	})

	t.Run("redelivered submission leaves a decided case", func(t *testing.T) {
		t.Parallel()
		campaign, id := event.NewID(), event.NewID()
		sub := submitted(id, campaign, "london", start.Add(-time.Hour))
		p.publish(t, sub, sub.GetEventId())
		p.caseIn(t, c, id, pb.CaseState_CASE_STATE_AWAITING_SIFT)
		if _, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence",
		}); err != nil {
			t.Fatal(err)
		}
		// The same event again (past the duplicate window, so the stream
		// keeps it), and the application submitted again under a new id.
		p.consumed(t, p.publish(t, sub, ""))
		again := submitted(id, campaign, "london", start.Add(-time.Minute))
		p.consumed(t, p.publish(t, again, again.GetEventId()))

		got := p.caseIn(t, c, id, pb.CaseState_CASE_STATE_SIFT_FAILED)
		if got.GetVersion() != 2 || len(got.GetHistory()) != 2 || got.GetReasonCode() != "insufficient_evidence" {
			t.Errorf("case after redelivery = %v, want SIFT_FAILED at version 2 with two history entries", got)
		}
		var inbox int
		if err := p.Pool.QueryRow(t.Context(), `SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])`,
			[]string{sub.GetEventId(), again.GetEventId()}).Scan(&inbox); err != nil {
			t.Fatal(err)
		}
		if inbox != 2 {
			t.Errorf("inbox remembers %d of the two submissions, want 2", inbox)
		}
	})

	t.Run("unknown application is not created by a decision", func(t *testing.T) {
		t.Parallel()
		id := event.NewID()
		_, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS,
		})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "submitted moments ago")
		_, err = c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: id})
		if status.Code(err) != codes.NotFound {
			t.Errorf("GetCase after a refused decision: %v, want NotFound", err)
		}
	})
}
