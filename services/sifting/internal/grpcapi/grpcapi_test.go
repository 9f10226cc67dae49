package grpcapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	"github.com/probation-recruitment/pipeline/services/sifting/internal/grpcapi"
)

func int32p(n int32) *int32 { return &n }

// TestConcurrentSiftDecisions: 50 callers decide the same case from the
// same version at once; exactly one wins and writes one event.
func TestConcurrentSiftDecisions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	id := e.open(t, event.NewID(), "london", start.Add(-time.Hour))
	c := e.as(t, spocLondon)

	winner := testenv.OneWins(t, 50, func(i int) (int, error) {
		req := &pb.RecordSiftDecisionRequest{
			RequestId: fmt.Sprintf("race-%d-%s", i, reqID()), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS,
		}
		if i%2 == 1 {
			req.Outcome, req.ReasonCode = commonv1.Outcome_OUTCOME_FAIL, "insufficient_evidence"
		}
		_, err := c.RecordSiftDecision(t.Context(), req)
		return i, err
	})

	wantSubject := "london.sift.passed"
	if winner%2 == 1 {
		wantSubject = "london.sift.failed"
	}
	var sift []testenv.OutboxEvent
	for _, o := range testenv.OutboxEvents(t, e.Pool, id) {
		if strings.HasPrefix(o.Subject, "london.sift.") {
			sift = append(sift, o)
		}
	}
	if len(sift) != 1 || sift[0].Subject != wantSubject || sift[0].Event.GetAggregateVersion() != 2 {
		t.Errorf("sift events in the outbox: %v; want one %s at version 2 (caller %d won)", sift, wantSubject, winner)
	}
	resp, err := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: id})
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.GetCase().GetVersion(); v != 2 || len(resp.GetCase().GetHistory()) != 2 {
		t.Errorf("case at version %d with %d history entries, want 2 and 2", v, len(resp.GetCase().GetHistory()))
	}
}

func TestRecordSiftDecision(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()
	t.Run("pass", func(t *testing.T) {
		t.Parallel()
		submittedAt := start.Add(-50 * time.Hour)
		id := e.open(t, campaign, "london", submittedAt)
		resp, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(81),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := resp.GetCase()
		if got.GetState() != pb.CaseState_CASE_STATE_AWAITING_INTERVIEW || got.GetVersion() != 2 || got.GetSiftScore() != 81 ||
			!got.GetStateEnteredAt().AsTime().Equal(start) || !got.GetSubmittedAt().AsTime().Equal(submittedAt) ||
			got.GetCampaignId() != campaign || got.GetRegion() != "london" || got.GetRole() != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER {
			t.Errorf("case after pass = %v", got)
		}
		rows := testenv.OutboxEvents(t, e.Pool, id)
		if len(rows) != 1 || rows[0].Subject != "london.sift.passed" || rows[0].Event.GetProducer() != "sifting" ||
			rows[0].Event.GetAggregateVersion() != 2 || rows[0].Event.GetActor().GetSubject() != spocLondon.Subject ||
			rows[0].Event.GetCampaignId() != campaign || !rows[0].Event.GetOccurredAt().AsTime().Equal(start) {
			t.Errorf("outbox = %v, want one sift.passed v2 by %s", rows, spocLondon.Subject)
		}
	})
	t.Run("fail", func(t *testing.T) {
		t.Parallel()
		id := e.open(t, campaign, "london", start.Add(-time.Hour))
		resp, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence",
		})
		if err != nil {
			t.Fatal(err)
		}
		if s := resp.GetCase(); s.GetState() != pb.CaseState_CASE_STATE_SIFT_FAILED || s.GetReasonCode() != "insufficient_evidence" {
			t.Errorf("case after fail = %v", s)
		}
		rows := testenv.OutboxEvents(t, e.Pool, id)
		if len(rows) != 1 || rows[0].Subject != "london.sift.failed" || rows[0].Event.GetSiftFailed().GetReasonCode() != "insufficient_evidence" {
			t.Errorf("outbox = %v, want one sift.failed with its reason code", rows)
		}
	})

	decided := e.open(t, campaign, "london", start.Add(-time.Hour))
	e.passSift(t, c, decided)
	open := e.open(t, campaign, "london", start.Add(-time.Hour))
	tests := []struct {
		name  string
		req   *pb.RecordSiftDecisionRequest
		code  codes.Code
		field string   // for InvalidArgument
		texts []string // for other codes
	}{
		{name: "unknown application", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: event.NewID(), ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS},
			code: codes.FailedPrecondition, texts: []string{"no sift case for this application yet", "retry"}},
		{name: "malformed application id", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: "app-7", ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS},
			code: codes.InvalidArgument, field: "application_id"},
		{name: "no request id", req: &pb.RecordSiftDecisionRequest{ApplicationId: open, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS},
			code: codes.InvalidArgument, field: "request_id"},
		{name: "no expected version", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: open, Outcome: commonv1.Outcome_OUTCOME_PASS},
			code: codes.InvalidArgument, field: "expected_version"},
		{name: "outcome unspecified", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: open, ExpectedVersion: 1},
			code: codes.InvalidArgument, field: "outcome"},
		{name: "fail without reason", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: open, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL},
			code: codes.InvalidArgument, field: "reason_code"},
		{name: "score above 100", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: open, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(101)},
			code: codes.InvalidArgument, field: "score"},
		{name: "negative score", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: open, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(-1)},
			code: codes.InvalidArgument, field: "score"},
		{name: "stale version", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: open, ExpectedVersion: 2, Outcome: commonv1.Outcome_OUTCOME_PASS},
			code: codes.Aborted, texts: []string{"stale"}},
		{name: "second decision", req: &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: decided, ExpectedVersion: 2, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence"},
			code: codes.FailedPrecondition, texts: []string{"AWAITING_INTERVIEW"}},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := c.RecordSiftDecision(t.Context(), tt.req)
				if tt.code == codes.InvalidArgument {
					testenv.WantField(t, err, tt.field)
				} else {
					testenv.WantStatus(t, err, tt.code, tt.texts...)
				}
			})
		}
	})
	// The group above returns once all its parallel subtests have.
	resp, err := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: open})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetCase().GetVersion() != 1 || len(testenv.OutboxEvents(t, e.Pool, open)) != 0 {
		t.Errorf("refused decisions changed case %s: version %d, %d events", open, resp.GetCase().GetVersion(), len(testenv.OutboxEvents(t, e.Pool, open)))
	}
}

// batchItem is one item of the mixed batch and what must become of it.
type batchItem struct {
	name  string
	item  *pb.SiftDecision
	code  string
	field string
}

func TestBatchRecordSiftDecisions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign, otherCampaign := event.NewID(), event.NewID()
	at := start.Add(-24 * time.Hour)
	pass, fail := e.open(t, campaign, "london", at), e.open(t, campaign, "london", at)
	noReason, stale := e.open(t, campaign, "london", at), e.open(t, campaign, "london", at)
	decided := e.open(t, campaign, "london", at)
	e.passSift(t, c, decided)
	elsewhere := e.open(t, otherCampaign, "london", at)
	wales := e.open(t, event.NewID(), "wales", at)

	items := []batchItem{
		{"good pass", &pb.SiftDecision{ApplicationId: pass, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(80)}, "OK", ""},
		{"good fail", &pb.SiftDecision{ApplicationId: fail, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence"}, "OK", ""},
		{"fail without reason", &pb.SiftDecision{ApplicationId: noReason, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL}, "INVALID_ARGUMENT", "decisions[2].reason_code"},
		{"stale version", &pb.SiftDecision{ApplicationId: stale, ExpectedVersion: 2, Outcome: commonv1.Outcome_OUTCOME_PASS}, "ABORTED", ""},
		{"already decided", &pb.SiftDecision{ApplicationId: decided, ExpectedVersion: 2, Outcome: commonv1.Outcome_OUTCOME_PASS}, "FAILED_PRECONDITION", ""},
		{"unknown application", &pb.SiftDecision{ApplicationId: event.NewID(), ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}, "FAILED_PRECONDITION", ""},
		{"other campaign", &pb.SiftDecision{ApplicationId: elsewhere, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}, "INVALID_ARGUMENT", "decisions[6].application_id"},
		{"malformed id", &pb.SiftDecision{ApplicationId: "not-a-uuid", ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}, "INVALID_ARGUMENT", "decisions[7].application_id"},
		// As an unknown application: the caller cannot tell it exists.
		{"other region", &pb.SiftDecision{ApplicationId: wales, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}, "FAILED_PRECONDITION", ""},
		{"score out of range", &pb.SiftDecision{ApplicationId: noReason, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(101)}, "INVALID_ARGUMENT", "decisions[9].score"},
	}
	var decisions []*pb.SiftDecision
	for _, it := range items {
		decisions = append(decisions, it.item)
	}
	requestID := reqID()
	batch := func(t *testing.T, dryRun bool) *pb.BatchRecordSiftDecisionsResponse {
		t.Helper()
		resp, err := c.BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{
			RequestId: requestID, CampaignId: campaign, Decisions: decisions, DryRun: dryRun,
		})
		if err != nil {
			t.Fatalf("batch (dry run %v): %v", dryRun, err)
		}
		wantResults(t, resp, items, dryRun)
		return resp
	}

	// The dry run goes first: it previews the real run, under the same
	// request id, and must leave that id unused.
	before := e.snapshot(t)
	dry := batch(t, true)
	e.wantSnapshot(t, before)

	real := batch(t, false)
	for i := range items {
		if d, r := dry.GetResults()[i].GetStatus(), real.GetResults()[i].GetStatus(); d.GetCode() != r.GetCode() || d.GetField() != r.GetField() {
			t.Errorf("item %d (%s): dry run said %v, real run %v", i, items[i].name, d, r)
		}
	}
	if d, r := dry.GetResults()[0].GetCase(), real.GetResults()[0].GetCase(); d.GetState() != r.GetState() || d.GetVersion() != r.GetVersion() {
		t.Errorf("dry run predicted %v, real run gave %v", d, r)
	}

	after := e.snapshot(t)
	for _, tt := range []struct {
		id, state string
		events    []string
	}{
		{pass, "AWAITING_INTERVIEW v2", []string{"london.sift.passed"}},
		{fail, "SIFT_FAILED v2", []string{"london.sift.failed"}},
		{noReason, "AWAITING_SIFT v1", nil},
		{stale, "AWAITING_SIFT v1", nil},
		{decided, "AWAITING_INTERVIEW v2", []string{"london.sift.passed"}}, // its earlier decision
		{elsewhere, "AWAITING_SIFT v1", nil},
		{wales, "AWAITING_SIFT v1", nil},
	} {
		if got := after.cases[tt.id]; !strings.HasPrefix(got, tt.state+" ") {
			t.Errorf("case %s is %q, want %s", tt.id, got, tt.state)
		}
		var subjects []string
		for _, o := range testenv.OutboxEvents(t, e.Pool, tt.id) {
			subjects = append(subjects, o.Subject)
		}
		if !slices.Equal(subjects, tt.events) {
			t.Errorf("outbox for %s holds %v, want %v", tt.id, subjects, tt.events)
		}
	}
	if rows := testenv.OutboxEvents(t, e.Pool, fail); len(rows) == 1 && rows[0].Event.GetSiftFailed().GetReasonCode() != "insufficient_evidence" {
		t.Errorf("sift.failed carries reason %q", rows[0].Event.GetSiftFailed().GetReasonCode())
	}
	if got, want := after.counts["outbox"], before.counts["outbox"]+2; got != want {
		t.Errorf("outbox holds %d rows after the batch, want %d", got, want)
	}

	retry := batch(t, false)
	if !proto.Equal(retry, real) {
		t.Errorf("retried batch answered\n%v\nfirst answer was\n%v", retry, real)
	}
	e.wantSnapshot(t, after)
}

func wantResults(t *testing.T, resp *pb.BatchRecordSiftDecisionsResponse, items []batchItem, dryRun bool) {
	t.Helper()
	if resp.GetDryRun() != dryRun {
		t.Errorf("dry_run = %v, want %v", resp.GetDryRun(), dryRun)
	}
	if len(resp.GetResults()) != len(items) {
		t.Fatalf("%d results for %d items", len(resp.GetResults()), len(items))
	}
	var ok int32
	for i, it := range items {
		r := resp.GetResults()[i]
		if r.GetIndex() != int32(i) || r.GetApplicationId() != it.item.GetApplicationId() {
			t.Errorf("result %d is for item %d, application %q", i, r.GetIndex(), r.GetApplicationId())
		}
		if st := r.GetStatus(); st.GetCode() != it.code || st.GetField() != it.field {
			t.Errorf("item %d (%s): status %v, want code %s field %q", i, it.name, st, it.code, it.field)
		}
		if it.code == "OK" {
			ok++
			if r.GetCase().GetVersion() != 2 || r.GetCase().GetApplicationId() != it.item.GetApplicationId() {
				t.Errorf("item %d (%s): case %v, want the case at version 2", i, it.name, r.GetCase())
			}
		} else if r.GetCase() != nil || r.GetStatus().GetMessage() == "" {
			t.Errorf("item %d (%s) failed but has case %v and message %q", i, it.name, r.GetCase(), r.GetStatus().GetMessage())
		}
	}
	if resp.GetSucceeded() != ok || resp.GetFailed() != int32(len(items))-ok {
		t.Errorf("succeeded %d failed %d, want %d and %d", resp.GetSucceeded(), resp.GetFailed(), ok, int32(len(items))-ok)
	}
}

func TestBatchLimits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()
	some := func(n int) []*pb.SiftDecision {
		out := make([]*pb.SiftDecision, n)
		for i := range out {
			out[i] = &pb.SiftDecision{ApplicationId: event.NewID(), ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		req   *pb.BatchRecordSiftDecisionsRequest
		field string
	}{
		{"no items", &pb.BatchRecordSiftDecisionsRequest{RequestId: reqID(), CampaignId: campaign}, "decisions"},
		{"1001 items", &pb.BatchRecordSiftDecisionsRequest{RequestId: reqID(), CampaignId: campaign, Decisions: some(grpcapi.MaxBatch + 1)}, "decisions"},
		{"1001 items, dry run", &pb.BatchRecordSiftDecisionsRequest{CampaignId: campaign, Decisions: some(grpcapi.MaxBatch + 1), DryRun: true}, "decisions"},
		{"no request id", &pb.BatchRecordSiftDecisionsRequest{CampaignId: campaign, Decisions: some(1)}, "request_id"},
		{"no campaign", &pb.BatchRecordSiftDecisionsRequest{RequestId: reqID(), Decisions: some(1)}, "campaign_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.BatchRecordSiftDecisions(t.Context(), tt.req)
			testenv.WantField(t, err, tt.field)
		})
	}
	t.Run("dashboard may not", func(t *testing.T) {
		t.Parallel()
		_, err := e.as(t, dashboard).BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{
			RequestId: reqID(), CampaignId: campaign, Decisions: some(1),
		})
		testenv.WantStatus(t, err, codes.PermissionDenied)
	})
}

// TestBatchOfAThousand: a campaign's whole sift in one call.
func TestBatchOfAThousand(t *testing.T) {
	t.Parallel()
	e := setup(t)
	campaign := event.NewID()
	ids := make([]string, grpcapi.MaxBatch)
	err := pg.InTx(t.Context(), e.Pool, func(tx pgx.Tx) error {
		ctx := pg.WithTx(t.Context(), tx)
		for i := range ids {
			ids[i] = event.NewID()
			if err := e.svc.HandleEvent(ctx, submitted(ids[i], campaign, "london", start.Add(-time.Duration(i)*time.Minute))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("open %d cases: %v", len(ids), err)
	}
	decisions := make([]*pb.SiftDecision, len(ids))
	for i, id := range ids {
		decisions[i] = &pb.SiftDecision{ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}
		if i%3 == 0 {
			decisions[i] = &pb.SiftDecision{ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence"}
		}
	}
	resp, err := e.as(t, spocLondon).BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{
		RequestId: reqID(), CampaignId: campaign, Decisions: decisions,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetSucceeded() != grpcapi.MaxBatch || resp.GetFailed() != 0 || len(resp.GetResults()) != grpcapi.MaxBatch {
		t.Fatalf("succeeded %d, failed %d, %d results; want all %d", resp.GetSucceeded(), resp.GetFailed(), len(resp.GetResults()), grpcapi.MaxBatch)
	}
	for _, r := range resp.GetResults() {
		if r.GetStatus().GetCode() != "OK" {
			t.Errorf("item %d: %v", r.GetIndex(), r.GetStatus())
		}
	}
	if n := len(testenv.OutboxEvents(t, e.Pool, "")); n != grpcapi.MaxBatch {
		t.Errorf("outbox holds %d events, want %d", n, grpcapi.MaxBatch)
	}
}

// TestInterviewFlow books, rebooks and passes an interview over gRPC, and
// reads the case's history back.
func TestInterviewFlow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()
	submittedAt := start.Add(-48 * time.Hour)
	id := e.open(t, campaign, "london", submittedAt)

	e.passSift(t, c, id)
	passedAt := start
	firstSlot, secondSlot := start.Add(7*24*time.Hour), start.Add(9*24*time.Hour)

	bookedAt := e.clock.Advance(time.Hour)
	booked, err := c.ScheduleInterview(t.Context(), &pb.ScheduleInterviewRequest{
		RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2, ScheduledFor: timestamppb.New(firstSlot),
	})
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	if s := booked.GetCase(); s.GetVersion() != 3 || s.GetState() != pb.CaseState_CASE_STATE_AWAITING_INTERVIEW ||
		!s.GetInterviewAt().AsTime().Equal(firstSlot) || !s.GetStateEnteredAt().AsTime().Equal(passedAt) {
		t.Errorf("case after booking = %v", s)
	}

	rebookedAt := e.clock.Advance(time.Hour)
	rebooked, err := e.as(t, admin).ScheduleInterview(t.Context(), &pb.ScheduleInterviewRequest{
		RequestId: reqID(), ApplicationId: id, ExpectedVersion: 3, ScheduledFor: timestamppb.New(secondSlot),
	})
	if err != nil {
		t.Fatalf("reschedule: %v", err)
	}
	if s := rebooked.GetCase(); s.GetVersion() != 4 || !s.GetInterviewAt().AsTime().Equal(secondSlot) {
		t.Errorf("case after rebooking = %v", s)
	}

	// Before the interview's time the outcome is refused, live as on
	// import, naming when it is; nothing is written.
	e.clock.Advance(24 * time.Hour)
	_, err = c.RecordInterviewOutcome(t.Context(), &pb.RecordInterviewOutcomeRequest{
		RequestId: reqID(), ApplicationId: id, ExpectedVersion: 4, Outcome: commonv1.Outcome_OUTCOME_PASS,
	})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "scheduled for "+secondSlot.UTC().Format(time.RFC3339))
	if n := len(testenv.OutboxEvents(t, e.Pool, id)); n != 3 {
		t.Errorf("a refused early outcome left %d events, want the 3 before it", n)
	}

	decidedAt := secondSlot.Add(2 * time.Hour)
	e.clock.Set(decidedAt)
	passed, err := c.RecordInterviewOutcome(t.Context(), &pb.RecordInterviewOutcomeRequest{
		RequestId: reqID(), ApplicationId: id, ExpectedVersion: 4, Outcome: commonv1.Outcome_OUTCOME_PASS,
	})
	if err != nil {
		t.Fatalf("interview outcome: %v", err)
	}
	if s := passed.GetCase(); s.GetVersion() != 5 || s.GetState() != pb.CaseState_CASE_STATE_INTERVIEW_PASSED || !s.GetStateEnteredAt().AsTime().Equal(decidedAt) {
		t.Errorf("case after interview = %v", s)
	}

	rows := testenv.OutboxEvents(t, e.Pool, id)
	var subjects []string
	for _, o := range rows {
		subjects = append(subjects, o.Subject)
	}
	wantSubjects := []string{"london.sift.passed", "london.interview.scheduled", "london.interview.scheduled", "london.interview.passed"}
	if !slices.Equal(subjects, wantSubjects) {
		t.Fatalf("outbox = %v, want %v", subjects, wantSubjects)
	}
	for i, want := range []proto.Message{
		&eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(firstSlot), Rescheduled: false},
		&eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(secondSlot), Rescheduled: true},
	} {
		if got := rows[i+1].Event.GetInterviewScheduled(); !proto.Equal(got, want) {
			t.Errorf("booking %d: payload %v, want %v", i+1, got, want)
		}
	}
	for i, o := range rows {
		if o.Event.GetAggregateVersion() != int64(i+2) || o.Event.GetProducer() != "sifting" || o.Event.GetApplicationId() != id {
			t.Errorf("event %d (%s): version %d producer %q application %q", i, o.Subject, o.Event.GetAggregateVersion(), o.Event.GetProducer(), o.Event.GetApplicationId())
		}
	}
	if p := rows[3].Event; p.GetInterviewPassed() == nil || !p.GetOccurredAt().AsTime().Equal(decidedAt) {
		t.Errorf("last event = %v, want interview.passed at %s", p, decidedAt)
	}

	t.Run("GetCase returns the history", func(t *testing.T) {
		t.Parallel()
		// An admin sees who acted; a SPOC sees roles only.
		resp, err := e.as(t, admin).GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: id})
		if err != nil {
			t.Fatal(err)
		}
		asSPOC, err := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: id})
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range asSPOC.GetCase().GetHistory() {
			if h.GetActor().GetSubject() != "" || h.GetActor().GetRole() != resp.GetCase().GetHistory()[i].GetActor().GetRole() {
				t.Errorf("a SPOC sees history[%d] actor %v; want its role alone", i, h.GetActor())
			}
		}
		spoc := &commonv1.Actor{Subject: spocLondon.Subject, Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
		adm := &commonv1.Actor{Subject: admin.Subject, Role: commonv1.CallerRole_CALLER_ROLE_ADMIN}
		want := []*commonv1.HistoryEntry{
			{Event: "application.submitted", Actor: applicant, OccurredAt: timestamppb.New(submittedAt), Version: 1},
			{Event: "sift.passed", Actor: spoc, OccurredAt: timestamppb.New(passedAt), Version: 2},
			{Event: "interview.scheduled", Actor: spoc, OccurredAt: timestamppb.New(bookedAt), Version: 3},
			{Event: "interview.scheduled", Actor: adm, OccurredAt: timestamppb.New(rebookedAt), Version: 4},
			{Event: "interview.passed", Actor: spoc, OccurredAt: timestamppb.New(decidedAt), Version: 5},
		}
		got := resp.GetCase().GetHistory()
		if len(got) != len(want) {
			t.Fatalf("history has %d entries, want %d: %v", len(got), len(want), got)
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Errorf("history[%d] = %v, want %v", i, got[i], want[i])
			}
		}
	})

	t.Run("a second outcome is refused", func(t *testing.T) {
		t.Parallel()
		_, err := c.RecordInterviewOutcome(t.Context(), &pb.RecordInterviewOutcomeRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 5, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "below_interview_standard",
		})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "INTERVIEW_PASSED")
	})

	t.Run("bad bookings", func(t *testing.T) {
		t.Parallel()
		other := e.open(t, campaign, "london", submittedAt)
		e.passSift(t, c, other)
		now := e.clock.Now()
		for _, tt := range []struct {
			name string
			at   *timestamppb.Timestamp
		}{
			{"in the past", timestamppb.New(now.Add(-time.Hour))},
			{"now", timestamppb.New(now)},
			{"missing", nil},
			// Far outside 2000-2100: once stored as a time in 1970.
			{"seconds 1<<62", &timestamppb.Timestamp{Seconds: 1 << 62}},
			{"year 2101", timestamppb.New(time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC))},
			{"invalid nanos", &timestamppb.Timestamp{Seconds: now.Add(time.Hour).Unix(), Nanos: -1}},
		} {
			_, err := c.ScheduleInterview(t.Context(), &pb.ScheduleInterviewRequest{
				RequestId: reqID(), ApplicationId: other, ExpectedVersion: 2, ScheduledFor: tt.at,
			})
			t.Run(tt.name, func(t *testing.T) { testenv.WantField(t, err, "scheduled_for") })
		}
		_, err := c.RecordInterviewOutcome(t.Context(), &pb.RecordInterviewOutcomeRequest{
			RequestId: reqID(), ApplicationId: other, ExpectedVersion: 2, Outcome: commonv1.Outcome_OUTCOME_PASS,
		})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "before an interview is scheduled")
		if rows := testenv.OutboxEvents(t, e.Pool, other); len(rows) != 1 {
			t.Errorf("refused bookings left %d events for the case, want only its sift.passed", len(rows))
		}
	})

	t.Run("outcome before the sift", func(t *testing.T) {
		t.Parallel()
		fresh := e.open(t, campaign, "london", submittedAt)
		_, err := c.RecordInterviewOutcome(t.Context(), &pb.RecordInterviewOutcomeRequest{
			RequestId: reqID(), ApplicationId: fresh, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS,
		})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "AWAITING_SIFT")
		_, err = c.ScheduleInterview(t.Context(), &pb.ScheduleInterviewRequest{
			RequestId: reqID(), ApplicationId: fresh, ExpectedVersion: 1, ScheduledFor: timestamppb.New(e.clock.Now().Add(48 * time.Hour)),
		})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "AWAITING_SIFT")
	})
}

// TestQueues pages through a region's interview queue, checks days waiting
// and keeps regions apart.
func TestQueues(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()

	// Five cases submitted in one order and passed in another: the
	// interview queue follows the time each entered the stage.
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = e.open(t, campaign, "london", start.Add(-10*24*time.Hour+time.Duration(i)*time.Minute))
	}
	passOrder := []string{ids[3], ids[0], ids[4], ids[1], ids[2]}
	for _, id := range passOrder {
		e.clock.Advance(time.Hour)
		e.passSift(t, c, id)
	}
	waiting := e.open(t, campaign, "london", start.Add(-10*24*time.Hour))
	wales := e.open(t, event.NewID(), "wales", start.Add(-24*time.Hour))
	e.passSift(t, e.as(t, spocWales), wales)
	e.clock.Set(start.Add(2*24*time.Hour + 6*time.Hour))

	t.Run("interview queue, oldest first, paged", func(t *testing.T) {
		t.Parallel()
		var got []string
		var sizes []int
		token := ""
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatalf("still paging after %d pages: %v", page, got)
			}
			resp, err := c.ListInterviewQueue(t.Context(), &pb.ListInterviewQueueRequest{Region: "london", PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(resp.GetEntries()))
			for _, en := range resp.GetEntries() {
				got = append(got, en.GetCase().GetApplicationId())
				if en.GetDaysWaiting() != 2 || en.GetCase().GetState() != pb.CaseState_CASE_STATE_AWAITING_INTERVIEW {
					t.Errorf("entry %s: %d days waiting in %s, want 2 in AWAITING_INTERVIEW", en.GetCase().GetApplicationId(), en.GetDaysWaiting(), en.GetCase().GetState())
				}
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if !slices.Equal(got, passOrder) || !slices.Equal(sizes, []int{2, 2, 1}) {
			t.Errorf("queue = %v in pages of %v, want %v in pages of [2 2 1]", got, sizes, passOrder)
		}
	})
	t.Run("sift queue counts days from submission", func(t *testing.T) {
		t.Parallel()
		resp, err := c.ListSiftQueue(t.Context(), &pb.ListSiftQueueRequest{Region: "london", CampaignId: campaign})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEntries()) != 1 || resp.GetEntries()[0].GetCase().GetApplicationId() != waiting || resp.GetEntries()[0].GetDaysWaiting() != 12 {
			t.Errorf("sift queue = %v, want only %s, 12 days waiting", resp.GetEntries(), waiting)
		}
	})
	t.Run("campaign filter", func(t *testing.T) {
		t.Parallel()
		resp, err := c.ListInterviewQueue(t.Context(), &pb.ListInterviewQueueRequest{Region: "london", CampaignId: event.NewID()})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEntries()) != 0 {
			t.Errorf("another campaign's queue lists %d cases", len(resp.GetEntries()))
		}
	})
	t.Run("a page token belongs to its query", func(t *testing.T) {
		t.Parallel()
		resp, err := c.ListInterviewQueue(t.Context(), &pb.ListInterviewQueueRequest{Region: "london", PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListSiftQueue(t.Context(), &pb.ListSiftQueueRequest{Region: "london", PageSize: 1, PageToken: resp.GetNextPageToken()})
		testenv.WantField(t, err, "page_token")
	})
	t.Run("wales sees wales", func(t *testing.T) {
		t.Parallel()
		resp, err := e.as(t, spocWales).ListInterviewQueue(t.Context(), &pb.ListInterviewQueueRequest{Region: "wales"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEntries()) != 1 || resp.GetEntries()[0].GetCase().GetApplicationId() != wales {
			t.Errorf("wales queue = %v, want only %s", resp.GetEntries(), wales)
		}
	})
	t.Run("admin sees london", func(t *testing.T) {
		t.Parallel()
		resp, err := e.as(t, admin).ListInterviewQueue(t.Context(), &pb.ListInterviewQueueRequest{Region: "london", PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEntries()) != 5 {
			t.Errorf("admin sees %d london cases, want 5", len(resp.GetEntries()))
		}
	})

	noToken := e.dial(t, "")
	for _, tt := range []struct {
		name string
		call func(ctx context.Context) error
		code codes.Code
	}{
		{"wales SPOC lists london", func(ctx context.Context) error {
			_, err := e.as(t, spocWales).ListInterviewQueue(ctx, &pb.ListInterviewQueueRequest{Region: "london"})
			return err
		}, codes.PermissionDenied},
		{"wales SPOC lists london sift queue", func(ctx context.Context) error {
			_, err := e.as(t, spocWales).ListSiftQueue(ctx, &pb.ListSiftQueueRequest{Region: "london"})
			return err
		}, codes.PermissionDenied},
		// Another region's case is one that does not exist (see
		// TestAnotherRegionsRecordIsNotFound).
		{"wales SPOC reads a london case", func(ctx context.Context) error {
			_, err := e.as(t, spocWales).GetCase(ctx, &pb.GetCaseRequest{ApplicationId: ids[0]})
			return err
		}, codes.NotFound},
		{"wales SPOC decides a london case", func(ctx context.Context) error {
			_, err := e.as(t, spocWales).RecordSiftDecision(ctx, &pb.RecordSiftDecisionRequest{
				RequestId: reqID(), ApplicationId: waiting, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS,
			})
			return err
		}, codes.FailedPrecondition},
		{"dashboard lists", func(ctx context.Context) error {
			_, err := e.as(t, dashboard).ListInterviewQueue(ctx, &pb.ListInterviewQueueRequest{Region: "london"})
			return err
		}, codes.PermissionDenied},
		{"dashboard reads a case", func(ctx context.Context) error {
			_, err := e.as(t, dashboard).GetCase(ctx, &pb.GetCaseRequest{ApplicationId: ids[0]})
			return err
		}, codes.PermissionDenied},
		{"no token lists", func(ctx context.Context) error {
			_, err := noToken.ListInterviewQueue(ctx, &pb.ListInterviewQueueRequest{Region: "london"})
			return err
		}, codes.Unauthenticated},
		{"no token reads a case", func(ctx context.Context) error {
			_, err := noToken.GetCase(ctx, &pb.GetCaseRequest{ApplicationId: ids[0]})
			return err
		}, codes.Unauthenticated},
		{"bad token", func(ctx context.Context) error {
			_, err := e.dial(t, "not.a.token").GetCase(ctx, &pb.GetCaseRequest{ApplicationId: ids[0]})
			return err
		}, codes.Unauthenticated},
		{"no region", func(ctx context.Context) error {
			_, err := c.ListInterviewQueue(ctx, &pb.ListInterviewQueueRequest{})
			return err
		}, codes.InvalidArgument},
		{"unknown region", func(ctx context.Context) error {
			_, err := c.ListInterviewQueue(ctx, &pb.ListInterviewQueueRequest{Region: "atlantis"})
			return err
		}, codes.InvalidArgument},
		{"unknown case", func(ctx context.Context) error {
			_, err := c.GetCase(ctx, &pb.GetCaseRequest{ApplicationId: event.NewID()})
			return err
		}, codes.NotFound},
	} {
		t.Run("access/"+tt.name, func(t *testing.T) {
			testenv.WantStatus(t, tt.call(t.Context()), tt.code)
		})
	}
	if rows := testenv.OutboxEvents(t, e.Pool, waiting); len(rows) != 0 {
		t.Errorf("refused decision wrote %v", rows)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()

	t.Run("a retry gets the first answer", func(t *testing.T) {
		t.Parallel()
		id := e.open(t, campaign, "london", start.Add(-time.Hour))
		req := &pb.RecordSiftDecisionRequest{
			RequestId: reqID(), ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(64),
		}
		first, err := c.RecordSiftDecision(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			// A re-run would stamp a later time, and be refused as stale.
			e.clock.Advance(time.Hour)
			again, err := c.RecordSiftDecision(t.Context(), req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !proto.Equal(again, first) {
				t.Errorf("retry answered %v, first answer was %v", again, first)
			}
		}
		if rows := testenv.OutboxEvents(t, e.Pool, id); len(rows) != 1 {
			t.Errorf("outbox holds %d events for the case, want 1", len(rows))
		}
	})
	t.Run("same id, different request", func(t *testing.T) {
		t.Parallel()
		id := e.open(t, campaign, "london", start.Add(-time.Hour))
		rid := reqID()
		if _, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: rid, ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(64),
		}); err != nil {
			t.Fatal(err)
		}
		_, err := c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
			RequestId: rid, ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS, Score: int32p(65),
		})
		testenv.WantField(t, err, "request_id")
		_, err = c.ScheduleInterview(t.Context(), &pb.ScheduleInterviewRequest{
			RequestId: rid, ApplicationId: id, ExpectedVersion: 2, ScheduledFor: timestamppb.New(start.Add(30 * 24 * time.Hour)),
		})
		testenv.WantField(t, err, "request_id")
		if rows := testenv.OutboxEvents(t, e.Pool, id); len(rows) != 1 {
			t.Errorf("outbox holds %d events for the case, want 1", len(rows))
		}
	})
	t.Run("request ids are per caller", func(t *testing.T) {
		t.Parallel()
		a, b := e.open(t, campaign, "london", start.Add(-time.Hour)), e.open(t, campaign, "london", start.Add(-time.Hour))
		rid := reqID()
		for _, call := range []struct {
			c  pb.SiftingServiceClient
			id string
		}{{c, a}, {e.as(t, admin), b}} {
			resp, err := call.c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
				RequestId: rid, ApplicationId: call.id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS,
			})
			if err != nil || resp.GetCase().GetApplicationId() != call.id {
				t.Errorf("decision on %s: %v, %v", call.id, resp, err)
			}
		}
	})
	t.Run("a refused call is not remembered", func(t *testing.T) {
		t.Parallel()
		id := e.open(t, campaign, "london", start.Add(-time.Hour))
		req := &pb.RecordSiftDecisionRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: 2, Outcome: commonv1.Outcome_OUTCOME_PASS}
		for range 2 {
			_, err := c.RecordSiftDecision(t.Context(), req)
			testenv.WantStatus(t, err, codes.Aborted)
		}
	})
}

// TestQueueTies pages through cases that entered the stage at the same
// instant: the application id breaks the tie, and no case is skipped or
// repeated across pages.
func TestQueueTies(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()
	var want []string
	for range 5 {
		id := e.open(t, campaign, "london", start.Add(-time.Hour))
		e.passSift(t, c, id) // the clock stands still
		want = append(want, id)
	}
	slices.Sort(want)
	for _, size := range []int32{1, 2, 4, 5} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			t.Parallel()
			var got []string
			token := ""
			for page := 0; page <= len(want); page++ {
				resp, err := c.ListInterviewQueue(t.Context(), &pb.ListInterviewQueueRequest{
					Region: "london", CampaignId: campaign, PageSize: size, PageToken: token,
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, en := range resp.GetEntries() {
					got = append(got, en.GetCase().GetApplicationId())
				}
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
			}
			if !slices.Equal(got, want) || token != "" {
				t.Errorf("paged queue = %v (token left %q), want %v", got, token, want)
			}
		})
	}
}

// TestBatchDryRunMatchesRealRun: a batch naming one application twice (a
// duplicated spreadsheet row). The real run applies the first and refuses
// the second as stale; the dry run must say the same.
func TestBatchDryRunMatchesRealRun(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign := event.NewID()
	id := e.open(t, campaign, "london", start.Add(-time.Hour))
	decisions := []*pb.SiftDecision{
		{ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS},
		{ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_FAIL, ReasonCode: "insufficient_evidence"},
	}
	dry, err := c.BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{CampaignId: campaign, Decisions: decisions, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	real, err := c.BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{RequestId: reqID(), CampaignId: campaign, Decisions: decisions})
	if err != nil {
		t.Fatal(err)
	}
	for i := range decisions {
		d, r := dry.GetResults()[i].GetStatus().GetCode(), real.GetResults()[i].GetStatus().GetCode()
		if d != r {
			t.Errorf("item %d: dry run said %s, real run %s", i, d, r)
		}
	}
	if dry.GetSucceeded() != real.GetSucceeded() {
		t.Errorf("dry run expected %d to succeed, real run %d", dry.GetSucceeded(), real.GetSucceeded())
	}
}

// TestBatchRequestIDReuse: a batch request id used again for a different
// batch (another campaign) is a client bug, refused as for single calls,
// not answered with the first batch's results as if they were the second's.
func TestBatchRequestIDReuse(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	campaign, other := event.NewID(), event.NewID()
	id := e.open(t, campaign, "london", start.Add(-time.Hour))
	decisions := []*pb.SiftDecision{{ApplicationId: id, ExpectedVersion: 1, Outcome: commonv1.Outcome_OUTCOME_PASS}}
	rid := reqID()
	if _, err := c.BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{RequestId: rid, CampaignId: campaign, Decisions: decisions}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.BatchRecordSiftDecisions(t.Context(), &pb.BatchRecordSiftDecisionsRequest{RequestId: rid, CampaignId: other, Decisions: decisions})
	if err != nil {
		testenv.WantField(t, err, "request_id")
		return
	}
	for _, r := range resp.GetResults() {
		if r.GetStatus().GetField() != "request_id" {
			t.Errorf("item %d of a batch for campaign %s, under a request id used for campaign %s: %v, want INVALID_ARGUMENT on request_id",
				r.GetIndex(), other, campaign, r.GetStatus())
		}
	}
}

// TestIDForms: every id the request validation accepts is either found or
// refused as bad input, never an internal error.
func TestIDForms(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	id := e.open(t, event.NewID(), "london", start.Add(-time.Hour))
	for _, tt := range []struct {
		name, id string
	}{
		{"upper case", strings.ToUpper(id)},
		{"no hyphens", strings.ReplaceAll(id, "-", "")},
		{"braces", "{" + id + "}"},
		{"urn", "urn:uuid:" + id},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: tt.id})
			if code := status.Code(err); code != codes.OK && code != codes.InvalidArgument {
				t.Errorf("GetCase(%q): %v, want the case or InvalidArgument", tt.id, err)
			}
			_, err = c.RecordSiftDecision(t.Context(), &pb.RecordSiftDecisionRequest{
				RequestId: reqID(), ApplicationId: tt.id, ExpectedVersion: 99, Outcome: commonv1.Outcome_OUTCOME_PASS,
			})
			if code := status.Code(err); code != codes.Aborted && code != codes.InvalidArgument {
				t.Errorf("RecordSiftDecision(%q) at a stale version: %v, want Aborted or InvalidArgument", tt.id, err)
			}
		})
	}
}
