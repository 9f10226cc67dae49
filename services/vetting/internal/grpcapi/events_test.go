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
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

// TestOfferAccepted: an accepted offer opens a case at the role's level
// and publishes vetting.opened once, however often it is delivered.
func TestOfferAccepted(t *testing.T) {
	t.Parallel()
	sc, err := vetting.ParseLevels("administrator=SC")
	if err != nil {
		t.Fatal(err)
	}
	bpss, ctc := commonv1.VettingLevel_VETTING_LEVEL_BPSS, commonv1.VettingLevel_VETTING_LEVEL_CTC
	tests := []struct {
		name   string
		levels vetting.Levels
		role   commonv1.JobRole
		want   commonv1.VettingLevel
	}{
		{"probation officer", vetting.DefaultLevels(), commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, ctc},
		{"probation services officer", vetting.DefaultLevels(), commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER, ctc},
		{"administrator", vetting.DefaultLevels(), commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, bpss},
		{"administrator, VETTING_LEVELS=administrator=SC", sc, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, commonv1.VettingLevel_VETTING_LEVEL_SC},
		{"probation officer, VETTING_LEVELS=administrator=SC", sc, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, ctc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setupWith(t, tt.levels)
			r := newRecord("london")
			r.role = tt.role
			accepted := r.offerAccepted(start.Add(-time.Hour))
			e.handle(t, accepted)
			e.handle(t, accepted)                              // redelivered
			e.handle(t, r.offerAccepted(start.Add(time.Hour))) // or repeated with a new id

			got, err := e.as(t, spocLondon).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
			if err != nil {
				t.Fatal(err)
			}
			c := got.GetCase()
			if c.GetStatus() != pb.CaseStatus_CASE_STATUS_OPEN || c.GetLevel() != tt.want || c.GetVersion() != 1 || c.GetRole() != tt.role ||
				c.GetCampaignId() != r.campaign || !c.GetOpenedAt().AsTime().Equal(start.Add(-time.Hour)) || len(c.GetHistory()) != 1 {
				t.Errorf("opened case = %v; want OPEN v1 at %s opened at the acceptance", c, tt.want)
			}
			rows := testenv.OutboxEvents(t, e.Pool, r.id)
			if len(rows) != 1 || rows[0].Name != "vetting.opened" {
				t.Fatalf("outbox = %v, want one vetting.opened", testenv.EventNames(rows))
			}
			ev := rows[0].Event
			wantActor := &commonv1.Actor{Subject: "system:vetting", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM}
			if ev.GetVettingOpened().GetLevel() != tt.want || ev.GetAggregateVersion() != 1 || !proto.Equal(ev.GetActor(), wantActor) ||
				ev.GetProducer() != "vetting" || ev.GetRole() != tt.role || rows[0].Subject != "london.vetting.opened" {
				t.Errorf("vetting.opened = %s %v", rows[0].Subject, ev)
			}
		})
	}
}

// TestCaseClosed: the candidate withdrawing, or the offer being withdrawn
// for any reason but failed vetting, closes a case in progress.
func TestCaseClosed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	ready := map[string]func(t *testing.T, r record){
		"OPEN":           func(*testing.T, record) {},
		"FORMS_RECEIVED": func(t *testing.T, r record) { e.formsIn(t, c, r) },
		"BLOCKED":        func(t *testing.T, r record) { e.block(t, c, r, 1, missingDocs) },
		"CLEARED": func(t *testing.T, r record) {
			e.formsIn(t, c, r)
			if _, err := c.ClearCase(t.Context(), &pb.ClearCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2}); err != nil {
				t.Fatal(err)
			}
		},
		"FAILED": func(t *testing.T, r record) {
			if _, err := c.FailCase(t.Context(), &pb.FailCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, ReasonCode: "adverse_information"}); err != nil {
				t.Fatal(err)
			}
		},
	}
	ending := []struct {
		name   string
		ev     func(r record, at time.Time) *eventsv1.Event
		reason string
		// closes says whether it closes a case in progress.
		closes bool
	}{
		{"application.withdrawn", func(r record, at time.Time) *eventsv1.Event { return r.applicationWithdrawn(at) }, "candidate_request", true},
		{"offer.withdrawn", func(r record, at time.Time) *eventsv1.Event { return r.offerWithdrawn(at, "post_cancelled") }, "post_cancelled", true},
		{"offer.withdrawn for failed vetting", func(r record, at time.Time) *eventsv1.Event { return r.offerWithdrawn(at, "vetting_failed") }, "", false},
	}
	for _, end := range ending {
		for _, from := range []string{"OPEN", "FORMS_RECEIVED", "BLOCKED", "CLEARED", "FAILED"} {
			t.Run(end.name+" on "+from, func(t *testing.T) {
				r := e.open(t, "london")
				ready[from](t, r)
				before := e.get(t, r.id)
				outboxBefore := len(testenv.OutboxEvents(t, e.Pool, r.id))
				at := e.clock.Advance(time.Minute)
				ev := end.ev(r, at)
				e.handle(t, ev)
				e.handle(t, ev) // redelivered
				after := e.get(t, r.id)
				if n := len(testenv.OutboxEvents(t, e.Pool, r.id)); n != outboxBefore {
					t.Errorf("closing wrote %d events; the owner of the ending has published it", n-outboxBefore)
				}
				if !end.closes || !before.State.InProgress() {
					if after.State != before.State || after.Version != before.Version {
						t.Errorf("%s moved a %s case to %s v%d", end.name, before.State, after.State, after.Version)
					}
					return
				}
				if after.State != vetting.Closed || after.Version != before.Version+1 || after.ReasonCode != end.reason ||
					after.BlockedSince != nil || after.BlockNote != "" || !after.StateEnteredAt.Equal(at) {
					t.Errorf("after %s: %+v; want CLOSED v%d %s with no block", end.name, after, before.Version+1, end.reason)
				}
				if last := after.History[len(after.History)-1]; last.Event != end.name || last.ReasonCode != end.reason {
					t.Errorf("history ends %+v, want %s", last, end.name)
				}
			})
		}
	}

	t.Run("withdrawal before offer.accepted", func(t *testing.T) {
		r := newRecord("london")
		e.handle(t, r.applicationWithdrawn(start.Add(-time.Minute)))
		e.handle(t, r.offerAccepted(start.Add(-time.Hour)))
		got := e.get(t, r.id)
		if got.State != vetting.Closed || got.ReasonCode != "candidate_request" {
			t.Errorf("after withdrawal then offer.accepted: %s %q, want CLOSED", got.State, got.ReasonCode)
		}
		if rows := testenv.OutboxEvents(t, e.Pool, r.id); len(rows) != 0 {
			t.Errorf("outbox = %v, want nothing: no case was opened", testenv.EventNames(rows))
		}
		_, err := c.RecordFormsReceived(t.Context(), &pb.RecordFormsReceivedRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: got.Version})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "CLOSED")
	})
	t.Run("withdrawal at interview, never reaching vetting", func(t *testing.T) {
		r := newRecord("london")
		early := r.applicationWithdrawn(start)
		early.GetApplicationWithdrawn().Stage = commonv1.Stage_STAGE_INTERVIEW
		e.handle(t, early)
		if _, err := e.svc.Case(t.Context(), admin, r.id); err == nil {
			t.Error("a withdrawal before any offer left a vetting case")
		}
	})
	t.Run("offer withdrawn for an application with no case", func(t *testing.T) {
		r := newRecord("london")
		e.handle(t, r.offerWithdrawn(start, "post_cancelled"))
		if _, err := e.svc.Case(t.Context(), admin, r.id); err == nil {
			t.Error("offer.withdrawn created a case")
		}
	})
}

// TestConsumerOnJetStream wires the service to an in-process JetStream as
// main.go does (a durable consumer of three event names) and drives it
// with published events.
func TestConsumerOnJetStream(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// The test publishes as the administrator; the consumer runs as
	// vetting, under its NATS permissions.
	url := testenv.NATS(t)
	_, js := testenv.Connect(t, url)
	_, asVetting := testenv.ConnectAs(t, url, "vetting")
	if _, err := stream.Ensure(t.Context(), asVetting, stream.Config{}); err != nil {
		t.Fatal(err)
	}
	cons, err := consumer.New(e.Pool, asVetting, consumer.Config{Durable: "vetting",
		Wants: consumer.Named(vetting.Consumes)},
		func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
			return e.svc.HandleEvent(pg.WithTx(ctx, tx), ev)
		}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
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
			cs, err := js.Consumer(t.Context(), "RECRUITMENT", "vetting")
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
	accepted := r.offerAccepted(start)
	consumed(t, publish(t, accepted, true))
	if got := e.get(t, r.id); got.State != vetting.Open || got.Level != commonv1.VettingLevel_VETTING_LEVEL_CTC {
		t.Fatalf("after offer.accepted on the stream: %s %s", got.State, got.Level)
	}
	// Republished without a message id (past the duplicate window): the
	// inbox must drop it.
	consumed(t, publish(t, accepted, false))
	// An event the consumer does not want is acknowledged and ignored.
	other := r.event("offers", offerSPOC, start, 2)
	other.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "band_3"}}
	consumed(t, publish(t, other, true))
	if rows := testenv.OutboxEvents(t, e.Pool, r.id); !slices.Equal(testenv.EventNames(rows), []string{"vetting.opened"}) {
		t.Errorf("outbox = %v, want one vetting.opened", testenv.EventNames(rows))
	}
	var inbox int
	if err := e.Pool.QueryRow(t.Context(), `SELECT count(*) FROM inbox WHERE consumer = 'vetting'`).Scan(&inbox); err != nil || inbox != 1 {
		t.Errorf("inbox holds %d events, %v; want only offer.accepted", inbox, err)
	}

	e.block(t, e.as(t, vettingLondon), r, 1, thirdParty)
	consumed(t, publish(t, r.applicationWithdrawn(start.Add(time.Hour)), true))
	if got := e.get(t, r.id); got.State != vetting.Closed || got.BlockedSince != nil {
		t.Errorf("after application.withdrawn on the stream: %s blocked since %v, want CLOSED", got.State, got.BlockedSince)
	}
	e.noNoteInOutbox(t)
}

// TestImportedHistoryOpensTheCaseAsItStands: offer.accepted carrying an
// imported vetting history opens the case with the history applied —
// blocked, with its reason and since when — in one write, and publishes
// the steps' events after vetting.opened, at their historical times.
func TestImportedHistoryOpensTheCaseAsItStands(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := newRecord("london")
	accepted := r.offerAccepted(start.Add(-48 * time.Hour))
	formsAt, blockedAt := start.Add(-40*time.Hour), start.Add(-30*time.Hour)
	accepted.GetOfferAccepted().Imported = &commonv1.ImportedHistory{Vetting: &commonv1.ImportedVetting{
		FormsReceivedAt: timestamppb.New(formsAt), BlockedAt: timestamppb.New(blockedAt),
		BlockReason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS,
	}}
	e.handle(t, accepted)
	e.handle(t, accepted) // redelivered: nothing more
	got, err := e.as(t, spocLondon).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id})
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetCase()
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_BLOCKED || c.GetBlockReason() != commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS ||
		!c.GetBlockedSince().AsTime().Equal(blockedAt) || c.GetVersion() != 3 || len(c.GetHistory()) != 3 {
		t.Errorf("case = %v; want BLOCKED (missing documents) since %v at version 3 with three history entries", c, blockedAt)
	}
	evs := testenv.OutboxEvents(t, e.Pool, r.id)
	if names := testenv.EventNames(evs); fmt.Sprint(names) != "[vetting.opened vetting.forms_received vetting.blocked]" {
		t.Errorf("events %v", names)
	}
	if at := evs[len(evs)-1].Event.GetOccurredAt().AsTime(); !at.Equal(blockedAt) {
		t.Errorf("vetting.blocked at %v, want the historical %v", at, blockedAt)
	}
}
