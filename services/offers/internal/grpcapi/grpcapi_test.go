package grpcapi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

// TestConcurrentChanges: many callers make the same change from the same
// version at once; exactly one wins and one event is written.
func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	tests := []struct {
		name  string
		ready func(t *testing.T, r record) int64 // returns the version to change from
		call  func(ctx context.Context, id string, v int64) (*pb.Offer, error)
		event string
		want  pb.OfferStatus
	}{
		{"make", func(*testing.T, record) int64 { return 1 }, func(ctx context.Context, id string, v int64) (*pb.Offer, error) {
			resp, err := c.MakeConditionalOffer(ctx, &pb.MakeConditionalOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v,
				SalaryBandCode: "band_3", Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
			return resp.GetOffer(), err
		}, "offer.made", pb.OfferStatus_OFFER_STATUS_MADE},
		{"withdraw", func(t *testing.T, r record) int64 { return e.accept(t, c, r).GetVersion() }, func(ctx context.Context, id string, v int64) (*pb.Offer, error) {
			resp, err := c.WithdrawOffer(ctx, &pb.WithdrawOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, ReasonCode: "post_cancelled"})
			return resp.GetOffer(), err
		}, "offer.withdrawn", pb.OfferStatus_OFFER_STATUS_WITHDRAWN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.open(t, "london")
			v := tt.ready(t, r)
			winner := testenv.OneWins(t, 50, func(int) (*pb.Offer, error) { return tt.call(t.Context(), r.id, v) })
			if winner.GetStatus() != tt.want || winner.GetVersion() != v+1 {
				t.Errorf("winner sees %s v%d, want %s v%d", winner.GetStatus(), winner.GetVersion(), tt.want, v+1)
			}
			if n := testenv.CountEvents(t, e.Pool, r.id, tt.event); n != 1 {
				t.Errorf("%d %s events in the outbox, want 1", n, tt.event)
			}
			if got := e.get(t, r.id); got.Version != v+1 || len(got.History) != int(v+1) {
				t.Errorf("offer at v%d with %d history entries, want v%d with %d", got.Version, len(got.History), v+1, v+1)
			}
		})
	}
}

// TestIdempotentRetry: a retried request id gets the first response and
// changes nothing more; a request id reused for something else is refused.
func TestIdempotentRetry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	r := e.open(t, "london")
	req := &pb.MakeConditionalOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, SalaryBandCode: "band_3",
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}}
	first, err := c.MakeConditionalOffer(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour) // a real re-run would record a later time

	t.Run("same request, same response, applied once", func(t *testing.T) {
		for range 3 {
			again, err := c.MakeConditionalOffer(t.Context(), req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !proto.Equal(again, first) {
				t.Errorf("retry answered %v, want the first response %v", again, first)
			}
		}
		if rows := testenv.OutboxEvents(t, e.Pool, r.id); len(rows) != 1 || rows[0].Name != "offer.made" {
			t.Errorf("outbox holds %v, want one offer.made", testenv.EventNames(rows))
		}
		if got := e.get(t, r.id); got.Version != 2 {
			t.Errorf("offer at v%d after retries, want v2", got.Version)
		}
	})
	t.Run("same id, different body", func(t *testing.T) {
		other := proto.Clone(req).(*pb.MakeConditionalOfferRequest)
		other.SalaryBandCode = "band_4"
		_, err := c.MakeConditionalOffer(t.Context(), other)
		testenv.WantField(t, err, "request_id")
	})
	t.Run("same id, different method", func(t *testing.T) {
		_, err := c.AcceptOffer(t.Context(), &pb.AcceptOfferRequest{RequestId: req.GetRequestId(), ApplicationId: r.id, ExpectedVersion: 2})
		testenv.WantField(t, err, "request_id")
	})
	t.Run("same id, another caller", func(t *testing.T) {
		// Request ids belong to their caller: the admin's call runs, and
		// finds the offer already made.
		_, err := e.as(t, admin).MakeConditionalOffer(t.Context(), req)
		testenv.WantStatus(t, err, codes.Aborted)
	})
	t.Run("no request id", func(t *testing.T) {
		_, err := c.AcceptOffer(t.Context(), &pb.AcceptOfferRequest{ApplicationId: r.id, ExpectedVersion: 2})
		testenv.WantField(t, err, "request_id")
	})
	if rows := testenv.OutboxEvents(t, e.Pool, r.id); len(rows) != 1 {
		t.Errorf("outbox holds %v after refused reuses, want one offer.made", testenv.EventNames(rows))
	}
}

// changes are the six mutating calls, each from the state it needs, at
// the version the record is at.
var changes = []struct {
	name string
	// ready brings a fresh record to where the call applies, as spoc.
	ready func(t *testing.T, e *env, c pb.OffersServiceClient, r record) int64
	call  func(ctx context.Context, c pb.OffersServiceClient, id string, v int64) (*pb.Offer, error)
	want  pb.OfferStatus
}{
	{"MakeConditionalOffer", func(*testing.T, *env, pb.OffersServiceClient, record) int64 { return 1 },
		func(ctx context.Context, c pb.OffersServiceClient, id string, v int64) (*pb.Offer, error) {
			resp, err := c.MakeConditionalOffer(ctx, &pb.MakeConditionalOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v,
				SalaryBandCode: "band_3", Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
			return resp.GetOffer(), err
		}, pb.OfferStatus_OFFER_STATUS_MADE},
	{"AcceptOffer", func(t *testing.T, e *env, c pb.OffersServiceClient, r record) int64 {
		return e.makeOffer(t, c, r).GetVersion()
	},
		func(ctx context.Context, c pb.OffersServiceClient, id string, v int64) (*pb.Offer, error) {
			resp, err := c.AcceptOffer(ctx, &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v})
			return resp.GetOffer(), err
		}, pb.OfferStatus_OFFER_STATUS_ACCEPTED},
	{"DeclineOffer", func(t *testing.T, e *env, c pb.OffersServiceClient, r record) int64 {
		return e.makeOffer(t, c, r).GetVersion()
	},
		func(ctx context.Context, c pb.OffersServiceClient, id string, v int64) (*pb.Offer, error) {
			resp, err := c.DeclineOffer(ctx, &pb.DeclineOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, ReasonCode: "salary"})
			return resp.GetOffer(), err
		}, pb.OfferStatus_OFFER_STATUS_DECLINED},
	{"WithdrawOffer", func(t *testing.T, e *env, c pb.OffersServiceClient, r record) int64 {
		return e.accept(t, c, r).GetVersion()
	},
		func(ctx context.Context, c pb.OffersServiceClient, id string, v int64) (*pb.Offer, error) {
			resp, err := c.WithdrawOffer(ctx, &pb.WithdrawOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, ReasonCode: "post_cancelled"})
			return resp.GetOffer(), err
		}, pb.OfferStatus_OFFER_STATUS_WITHDRAWN},
	{"SetStartDate", func(t *testing.T, e *env, c pb.OffersServiceClient, r record) int64 {
		return e.accept(t, c, r).GetVersion()
	},
		func(ctx context.Context, c pb.OffersServiceClient, id string, v int64) (*pb.Offer, error) {
			resp, err := c.SetStartDate(ctx, &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, StartDate: today})
			return resp.GetOffer(), err
		}, pb.OfferStatus_OFFER_STATUS_ACCEPTED},
	{"ConfirmStart", func(t *testing.T, e *env, c pb.OffersServiceClient, r record) int64 {
		e.accept(t, c, r)
		if _, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3, StartDate: today}); err != nil {
			t.Fatal(err)
		}
		e.allowEarlyStarts(t, r.region, 1000)
		return e.approve(t, r, e.rightToWorkMet(t, c, r, 4)).GetVersion()
	}, func(ctx context.Context, c pb.OffersServiceClient, id string, v int64) (*pb.Offer, error) {
		resp, err := c.ConfirmStart(ctx, &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v})
		return resp.GetOffer(), err
	}, pb.OfferStatus_OFFER_STATUS_STARTED},
}

// TestAccess: a SPOC of the offer's region or an admin changes offers; a
// vetting contact point may read them; nobody else may do either.
func TestAccess(t *testing.T) {
	t.Parallel()
	e := setup(t)
	spoc := e.as(t, spocLondon)
	callers := []struct {
		name   string
		client pb.OffersServiceClient
		// change and read are the codes of a change and of GetOffer.
		change, read codes.Code
	}{
		{"spoc of the region", spoc, codes.OK, codes.OK},
		{"admin", e.as(t, admin), codes.OK, codes.OK},
		// Another region's offer is one not there (TestAnotherRegionsRecordIsNotFound).
		{"spoc of another region", e.as(t, spocWales), codes.FailedPrecondition, codes.NotFound},
		{"vetting of the region", e.as(t, vettingLondon), codes.PermissionDenied, codes.OK},
		{"vetting of another region", e.as(t, vettingWales), codes.PermissionDenied, codes.NotFound},
		{"dashboard", e.as(t, dashboard), codes.PermissionDenied, codes.PermissionDenied},
		{"no token", e.dial(t, ""), codes.Unauthenticated, codes.Unauthenticated},
		{"token signed with another key", func() pb.OffersServiceClient {
			other, err := auth.KeyConfig{HS256Key: "some-other-key-0123456789abcdefghijkl"}.Signer()
			if err != nil {
				t.Fatal(err)
			}
			tok, err := other.Mint(spocLondon, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return e.dial(t, tok)
		}(), codes.Unauthenticated, codes.Unauthenticated},
	}
	for _, caller := range callers {
		t.Run(caller.name, func(t *testing.T) {
			t.Parallel()
			for _, ch := range changes {
				r := e.open(t, "london")
				v := ch.ready(t, e, spoc, r)
				before := len(testenv.OutboxEvents(t, e.Pool, r.id))
				o, err := ch.call(t.Context(), caller.client, r.id, v)
				if status.Code(err) != caller.change {
					t.Errorf("%s: err = %v, want %s", ch.name, err, caller.change)
					continue
				}
				after := len(testenv.OutboxEvents(t, e.Pool, r.id))
				if caller.change == codes.OK {
					if o.GetStatus() != ch.want || o.GetVersion() != v+1 || after != before+1 {
						t.Errorf("%s: %s v%d with %d new events, want %s v%d with one", ch.name, o.GetStatus(), o.GetVersion(), after-before, ch.want, v+1)
					}
					continue
				}
				if got := e.get(t, r.id); got.Version != v || after != before {
					t.Errorf("%s refused, yet the offer moved to v%d and %d events were written", ch.name, got.Version, after-before)
				}
			}
			r := e.open(t, "london")
			got, err := caller.client.GetOffer(t.Context(), &pb.GetOfferRequest{ApplicationId: r.id})
			if status.Code(err) != caller.read {
				t.Fatalf("GetOffer: err = %v, want %s", err, caller.read)
			}
			if caller.read == codes.OK && got.GetOffer().GetApplicationId() != r.id {
				t.Errorf("GetOffer returned %v", got.GetOffer())
			}
		})
	}
	t.Run("list", func(t *testing.T) {
		t.Parallel()
		for _, caller := range callers {
			want := caller.change // only those who may change offers list them
			if want == codes.FailedPrecondition {
				want = codes.PermissionDenied // a region asked for by name is refused: only a record's region is hidden
			}
			_, err := caller.client.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "london"})
			if status.Code(err) != want {
				t.Errorf("%s: ListOffers err = %v, want %s", caller.name, err, want)
			}
		}
	})
}

// TestOfferToStart drives one offer from interview to start over gRPC and
// checks each response, each event, the errors on the way and the history.
func TestOfferToStart(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	r := e.open(t, "london")
	ctx := t.Context()

	_, err := c.AcceptOffer(ctx, &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "AWAITING_OFFER")
	_, err = c.MakeConditionalOffer(ctx, &pb.MakeConditionalOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, SalaryBandCode: "Band 3",
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
	testenv.WantField(t, err, "salary_band_code")
	_, err = c.MakeConditionalOffer(ctx, &pb.MakeConditionalOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1, SalaryBandCode: "band_3",
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_VETTING}})
	testenv.WantField(t, err, "conditions")

	made := e.makeOffer(t, c, r)
	if made.GetStatus() != pb.OfferStatus_OFFER_STATUS_MADE || made.GetSalaryBandCode() != "band_3" || len(made.GetConditions()) != 2 || made.GetVersion() != 2 {
		t.Errorf("made = %v", made)
	}
	_, err = c.AcceptOffer(ctx, &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 1})
	testenv.WantStatus(t, err, codes.Aborted)
	acc, err := c.AcceptOffer(ctx, &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 2})
	if err != nil || acc.GetOffer().GetStatus() != pb.OfferStatus_OFFER_STATUS_ACCEPTED {
		t.Fatalf("accept: %v, %v", acc, err)
	}

	set := func(req *pb.SetStartDateRequest) (*pb.SetStartDateResponse, error) {
		req.RequestId, req.ApplicationId = reqID(), r.id
		return c.SetStartDate(ctx, req)
	}
	// A SPOC can no longer name who approved: an approver approves.
	//lint:ignore SA1019 the deprecated field, sent to see it refused
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: tomorrow, ApprovedBy: "deputy-director"})
	testenv.WantStatus(t, err, codes.InvalidArgument, "approved_by", "ApproveEarlyStart")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: &commonv1.Date{Year: 2026, Month: 11, Day: 22}})
	testenv.WantField(t, err, "start_date")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3})
	testenv.WantField(t, err, "start_date")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: &commonv1.Date{Year: 2026, Month: 2, Day: 30}})
	testenv.WantField(t, err, "start_date")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: tomorrow, VettingDueBy: today})
	testenv.WantField(t, err, "vetting_due_by")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: tomorrow, VettingDueBy: &commonv1.Date{Year: 2026, Month: 13, Day: 1}})
	testenv.WantField(t, err, "vetting_due_by")
	// Dates outside 2000-2100.
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: &commonv1.Date{Year: 1 << 30, Month: 1, Day: 1}})
	testenv.WantField(t, err, "start_date")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: &commonv1.Date{Year: 2101, Month: 1, Day: 1}})
	testenv.WantField(t, err, "start_date")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: tomorrow, VettingDueBy: &commonv1.Date{Year: 1999, Month: 12, Day: 31}})
	testenv.WantField(t, err, "vetting_due_by")
	// A due date that would never come (the attack of issue 16), or a day
	// past the configured period.
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: tomorrow, VettingDueBy: &commonv1.Date{Year: 2100, Month: 1, Day: 1}})
	testenv.WantStatus(t, err, codes.InvalidArgument, "vetting_due_by", "no later than 2026-12-24")
	_, err = set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: tomorrow, VettingDueBy: &commonv1.Date{Year: 2026, Month: 12, Day: 25}})
	testenv.WantField(t, err, "vetting_due_by")
	if got := e.get(t, r.id); got.Version != 3 || got.StartDate != nil {
		t.Fatalf("refused start dates left the offer at v%d start %v, want v3 with none", got.Version, got.StartDate)
	}

	setResp, err := set(&pb.SetStartDateRequest{ExpectedVersion: 3, StartDate: tomorrow})
	if err != nil {
		t.Fatal(err)
	}
	// The due date defaults to the configured period after the start.
	wantDue := event.Date(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).Add(duePeriod))
	if o := setResp.GetOffer(); !proto.Equal(o.GetStartDate(), tomorrow) || !o.GetSubjectToVetting() || o.GetStartApprovedBy() != "" ||
		!proto.Equal(o.GetVettingDueBy(), wantDue) || o.GetVersion() != 4 {
		t.Errorf("after SetStartDate: %v; want start %v, subject to vetting, not approved yet, due %v, v4", o, tomorrow, wantDue)
	}

	e.rightToWorkMet(t, c, r, 4)
	e.clock.Advance(24 * time.Hour)
	_, err = c.ConfirmStart(ctx, &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 5})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "no approver has approved")
	e.clock.Advance(-24 * time.Hour)
	e.allowEarlyStarts(t, "london", 10)
	e.approve(t, r, 5)

	_, err = c.ConfirmStart(ctx, &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 6})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "2026-11-24", "has not come yet")
	e.clock.Advance(24 * time.Hour)
	started, err := c.ConfirmStart(ctx, &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 6})
	if err != nil {
		t.Fatal(err)
	}
	if o := started.GetOffer(); o.GetStatus() != pb.OfferStatus_OFFER_STATUS_STARTED || !o.GetSubjectToVetting() || o.GetVersion() != 7 {
		t.Errorf("started = %v", o)
	}
	_, err = c.WithdrawOffer(ctx, &pb.WithdrawOfferRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 7, ReasonCode: "post_cancelled"})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "STARTED")

	rows := testenv.OutboxEvents(t, e.Pool, r.id)
	wantNames := []string{"offer.made", "offer.accepted", "offer.start_date_set", "offer.check_recorded", "offer.early_start_approved", "candidate.started"}
	if !slices.Equal(testenv.EventNames(rows), wantNames) {
		t.Fatalf("outbox = %v, want %v", testenv.EventNames(rows), wantNames)
	}
	for i, row := range rows {
		actor := "spoc-london"
		if row.Name == "offer.early_start_approved" {
			actor = "approver-london"
		}
		if row.Subject != "london."+row.Name || row.Event.GetAggregateVersion() != int64(i+2) || row.Event.GetActor().GetSubject() != actor ||
			row.Event.GetProducer() != "offers" || row.Event.GetCampaignId() != r.campaign {
			t.Errorf("outbox row %d = %s %v", i, row.Subject, row.Event)
		}
	}
	wantSet := &eventsv1.OfferStartDateSet{StartDate: tomorrow, SubjectToVetting: true, VettingDueBy: wantDue}
	if got := rows[2].Event.GetOfferStartDateSet(); !proto.Equal(got, wantSet) {
		t.Errorf("offer.start_date_set = %v, want %v", got, wantSet)
	}
	wantApproved := &eventsv1.OfferEarlyStartApproved{StartDate: tomorrow, VettingDueBy: wantDue}
	if got := rows[4].Event.GetOfferEarlyStartApproved(); !proto.Equal(got, wantApproved) {
		t.Errorf("offer.early_start_approved = %v, want %v", got, wantApproved)
	}
	wantStarted := &eventsv1.CandidateStarted{StartDate: tomorrow, SubjectToVetting: true, ApprovedBy: "approver-london", VettingDueBy: wantDue}
	if got := rows[5].Event.GetCandidateStarted(); !proto.Equal(got, wantStarted) {
		t.Errorf("candidate.started = %v, want %v", got, wantStarted)
	}

	t.Run("GetOffer has the history in version order", func(t *testing.T) {
		got, err := e.as(t, admin).GetOffer(ctx, &pb.GetOfferRequest{ApplicationId: r.id})
		if err != nil {
			t.Fatal(err)
		}
		// Admins see who acted; a SPOC and a vetting contact point see
		// the actor's role alone.
		for _, viewer := range []auth.Claims{spocLondon, vettingLondon} {
			other, err := e.as(t, viewer).GetOffer(ctx, &pb.GetOfferRequest{ApplicationId: r.id})
			if err != nil {
				t.Fatal(err)
			}
			for i, h := range other.GetOffer().GetHistory() {
				role := commonv1.CallerRole_CALLER_ROLE_SPOC
				if h.GetEvent() == "offer.early_start_approved" {
					role = commonv1.CallerRole_CALLER_ROLE_APPROVER
				}
				if h.GetActor().GetSubject() != "" || h.GetActor().GetRole() != role {
					t.Errorf("%s sees history[%d] actor %v; want the role (%s) alone", viewer.Role, i, h.GetActor(), role)
				}
			}
		}
		want := []struct {
			event, subject string
		}{
			{"interview.passed", "spoc-interview"}, {"offer.made", "spoc-london"}, {"offer.accepted", "spoc-london"},
			{"offer.start_date_set", "spoc-london"}, {"offer.check_recorded", "spoc-london"}, {"offer.early_start_approved", "approver-london"}, {"candidate.started", "spoc-london"},
		}
		h := got.GetOffer().GetHistory()
		if len(h) != len(want) {
			t.Fatalf("history = %v, want %d entries", h, len(want))
		}
		for i, w := range want {
			if h[i].GetVersion() != int64(i+1) || h[i].GetEvent() != w.event || h[i].GetActor().GetSubject() != w.subject {
				t.Errorf("history[%d] = %v, want %s v%d by %s", i, h[i], w.event, i+1, w.subject)
			}
		}
		if !h[5].GetOccurredAt().AsTime().Equal(start.Add(24 * time.Hour)) {
			t.Errorf("start recorded at %v, want the clock's %v", h[5].GetOccurredAt().AsTime(), start.Add(24*time.Hour))
		}
	})
	t.Run("GetOffer of an unknown or malformed id", func(t *testing.T) {
		_, err := c.GetOffer(ctx, &pb.GetOfferRequest{ApplicationId: event.NewID()})
		testenv.WantStatus(t, err, codes.NotFound)
		_, err = c.GetOffer(ctx, &pb.GetOfferRequest{ApplicationId: "not-a-uuid"})
		testenv.WantField(t, err, "application_id")
	})
	t.Run("change of an unknown or malformed id", func(t *testing.T) {
		_, err := c.AcceptOffer(ctx, &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: event.NewID(), ExpectedVersion: 1})
		testenv.WantStatus(t, err, codes.FailedPrecondition, "interview.passed")
		_, err = c.AcceptOffer(ctx, &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: "nope", ExpectedVersion: 1})
		testenv.WantField(t, err, "application_id")
		_, err = c.AcceptOffer(ctx, &pb.AcceptOfferRequest{RequestId: reqID(), ApplicationId: r.id})
		testenv.WantField(t, err, "expected_version")
	})
}

// TestDeclineAndWithdraw covers the other ends of an offer.
func TestDeclineAndWithdraw(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	tests := []struct {
		name   string
		ready  func(t *testing.T, r record) int64
		call   func(ctx context.Context, id string, v int64, reason string) (*pb.Offer, error)
		event  string
		status pb.OfferStatus
	}{
		{"decline a made offer", func(t *testing.T, r record) int64 { return e.makeOffer(t, c, r).GetVersion() }, func(ctx context.Context, id string, v int64, reason string) (*pb.Offer, error) {
			resp, err := c.DeclineOffer(ctx, &pb.DeclineOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, ReasonCode: reason})
			return resp.GetOffer(), err
		}, "offer.declined", pb.OfferStatus_OFFER_STATUS_DECLINED},
		{"withdraw a made offer", func(t *testing.T, r record) int64 { return e.makeOffer(t, c, r).GetVersion() }, func(ctx context.Context, id string, v int64, reason string) (*pb.Offer, error) {
			resp, err := c.WithdrawOffer(ctx, &pb.WithdrawOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, ReasonCode: reason})
			return resp.GetOffer(), err
		}, "offer.withdrawn", pb.OfferStatus_OFFER_STATUS_WITHDRAWN},
		{"withdraw an accepted offer", func(t *testing.T, r record) int64 { return e.accept(t, c, r).GetVersion() }, func(ctx context.Context, id string, v int64, reason string) (*pb.Offer, error) {
			resp, err := c.WithdrawOffer(ctx, &pb.WithdrawOfferRequest{RequestId: reqID(), ApplicationId: id, ExpectedVersion: v, ReasonCode: reason})
			return resp.GetOffer(), err
		}, "offer.withdrawn", pb.OfferStatus_OFFER_STATUS_WITHDRAWN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.open(t, "london")
			v := tt.ready(t, r)
			_, err := tt.call(t.Context(), r.id, v, "Not a code")
			testenv.WantField(t, err, "reason_code")
			why := "candidate_request"
			if tt.event == "offer.declined" {
				// A decline's reason is from the decline list, which names
				// every accepted code when it refuses one.
				_, err := tt.call(t.Context(), r.id, v, why)
				testenv.WantField(t, err, "reason_code")
				testenv.WantStatus(t, err, codes.InvalidArgument, "accepted_other_offer", "no_reason_given", "other:<code>")
				why = "process_too_long"
			}
			o, err := tt.call(t.Context(), r.id, v, why)
			if err != nil {
				t.Fatal(err)
			}
			if o.GetStatus() != tt.status || o.GetReasonCode() != why || o.GetVersion() != v+1 {
				t.Errorf("offer = %v", o)
			}
			rows := testenv.OutboxEvents(t, e.Pool, r.id)
			last := rows[len(rows)-1]
			if last.Name != tt.event || last.Event.GetOfferDeclined().GetReasonCode()+last.Event.GetOfferWithdrawn().GetReasonCode() != why ||
				last.Event.GetOfferWithdrawn().GetAfterStart() {
				t.Errorf("last event = %s %v", last.Name, last.Event)
			}
			_, err = tt.call(t.Context(), r.id, v+1, why)
			testenv.WantStatus(t, err, codes.FailedPrecondition, string(tt.status.String()[len("OFFER_STATUS_"):]))
		})
	}
}

// TestListOffers: a region's offers, filtered by status, oldest in status
// first, in pages that together hold each offer once.
func TestListOffers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	var awaiting []string
	for range 5 {
		awaiting = append(awaiting, e.open(t, "london").id)
		e.clock.Advance(time.Minute)
	}
	made := e.open(t, "london")
	e.makeOffer(t, c, made)
	wales := e.open(t, "wales")

	pages := func(t *testing.T, req *pb.ListOffersRequest) ([]string, int) {
		t.Helper()
		var ids []string
		n := 0
		for {
			resp, err := c.ListOffers(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if len(resp.GetOffers()) > int(req.GetPageSize()) && req.GetPageSize() > 0 {
				t.Errorf("page of %d offers, asked for %d", len(resp.GetOffers()), req.GetPageSize())
			}
			for _, o := range resp.GetOffers() {
				ids = append(ids, o.GetApplicationId())
				if len(o.GetHistory()) != 0 {
					t.Errorf("list carries history of %s", o.GetApplicationId())
				}
			}
			if resp.GetNextPageToken() == "" {
				return ids, n
			}
			if n > 10 {
				t.Fatal("paging never ends")
			}
			req = proto.Clone(req).(*pb.ListOffersRequest)
			req.PageToken = resp.GetNextPageToken()
		}
	}

	t.Run("pages of two over five", func(t *testing.T) {
		ids, n := pages(t, &pb.ListOffersRequest{Region: "london", Status: pb.OfferStatus_OFFER_STATUS_AWAITING_OFFER, PageSize: 2})
		if !slices.Equal(ids, awaiting) || n != 3 {
			t.Errorf("pages gave %v in %d pages, want %v (oldest first, each once) in 3", ids, n, awaiting)
		}
	})
	t.Run("status filter", func(t *testing.T) {
		ids, _ := pages(t, &pb.ListOffersRequest{Region: "london", Status: pb.OfferStatus_OFFER_STATUS_MADE})
		if !slices.Equal(ids, []string{made.id}) {
			t.Errorf("made offers = %v, want [%s]", ids, made.id)
		}
		ids, _ = pages(t, &pb.ListOffersRequest{Region: "london", Status: pb.OfferStatus_OFFER_STATUS_STARTED})
		if len(ids) != 0 {
			t.Errorf("started offers = %v, want none", ids)
		}
	})
	t.Run("every status of the region", func(t *testing.T) {
		ids, _ := pages(t, &pb.ListOffersRequest{Region: "london", PageSize: 4})
		if len(ids) != 6 || slices.Contains(ids, wales.id) {
			t.Errorf("london offers = %v, want the six of london", ids)
		}
	})
	t.Run("the admin sees another region", func(t *testing.T) {
		resp, err := e.as(t, admin).ListOffers(t.Context(), &pb.ListOffersRequest{Region: "wales"})
		if err != nil || len(resp.GetOffers()) != 1 || resp.GetOffers()[0].GetApplicationId() != wales.id {
			t.Errorf("admin lists wales: %v, %v", resp, err)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		_, err := c.ListOffers(t.Context(), &pb.ListOffersRequest{})
		testenv.WantField(t, err, "region")
		_, err = c.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "wales"})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		_, err = c.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "atlantis"})
		testenv.WantField(t, err, "region")
		_, err = c.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "london", PageSize: -1})
		testenv.WantField(t, err, "page_size")
		_, err = c.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "london", Status: pb.OfferStatus(42)})
		testenv.WantField(t, err, "status")
		first, err := c.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "london", Status: pb.OfferStatus_OFFER_STATUS_AWAITING_OFFER, PageSize: 2})
		if err != nil || first.GetNextPageToken() == "" {
			t.Fatalf("first page: %v, %v", first, err)
		}
		_, err = c.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "london", Status: pb.OfferStatus_OFFER_STATUS_MADE, PageSize: 2, PageToken: first.GetNextPageToken()})
		testenv.WantField(t, err, "page_token")
		_, err = c.ListOffers(t.Context(), &pb.ListOffersRequest{Region: "london", PageToken: "garbage"})
		testenv.WantField(t, err, "page_token")
	})
}

// TestTodayIsLondon: "today" for start dates is the date in London, not in
// UTC: at 23:30 UTC on 30 June it is already 1 July in London (BST).
func TestTodayIsLondon(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, spocLondon)
	e.clock.Set(time.Date(2027, 6, 30, 23, 30, 0, 0, time.UTC))
	r := e.open(t, "london")
	e.accept(t, c, r)
	_, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3,
		StartDate: &commonv1.Date{Year: 2027, Month: 6, Day: 30}})
	testenv.WantField(t, err, "start_date")
	if _, err := c.SetStartDate(t.Context(), &pb.SetStartDateRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: 3,
		StartDate: &commonv1.Date{Year: 2027, Month: 7, Day: 1}}); err != nil {
		t.Fatalf("start on 1 July at 00:30 London time: %v", err)
	}
	e.allowEarlyStarts(t, "london", 1)
	v := e.approve(t, r, e.rightToWorkMet(t, c, r, 4)).GetVersion()
	if _, err := c.ConfirmStart(t.Context(), &pb.ConfirmStartRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: v}); err != nil {
		t.Errorf("confirm the 1 July start at 00:30 London time: %v", err)
	}
}
