package offer

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/eventtest"
	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var (
	// now is when every change in these tests is made; today is its date.
	now   = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	today = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	// period is the configured vetting due period used unless a test says otherwise.
	period = 8 * 7 * 24 * time.Hour

	spoc     = &commonv1.Actor{Subject: "spoc-london", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
	sifter   = &commonv1.Actor{Subject: "spoc-sift", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
	vetter   = &commonv1.Actor{Subject: "vetting-london", Role: commonv1.CallerRole_CALLER_ROLE_VETTING}
	statuses = []Status{AwaitingOffer, Made, Accepted, Declined, Withdrawn, Started}
)

func day(n int) time.Time { return today.AddDate(0, 0, n) }

func datep(t time.Time) *time.Time { return &t }

// passedEvent is the interview.passed that opens an offer record.
func passedEvent(at time.Time) *eventsv1.Event {
	ev := event.New("sifting", sifter, at, event.Record{
		ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london",
		Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Version: 4,
	})
	ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
	return ev
}

// offerIn builds an offer in s at version 3 with three history entries. An
// accepted or started offer starts today, approved to start before vetting
// clears.
func offerIn(s Status) *Offer {
	o := OpenRecord(passedEvent(now.Add(-72 * time.Hour)))
	o.State, o.StateEnteredAt, o.Version = s, now.Add(-time.Hour), 3
	o.History = append(o.History,
		history.Entry{Event: "x.two", Actor: spoc, OccurredAt: now.Add(-2 * time.Hour), Version: 2},
		history.Entry{Event: "x.three", Actor: spoc, OccurredAt: now.Add(-time.Hour), Version: 3})
	if s != AwaitingOffer {
		o.SalaryBand, o.Conditions = "band_3", []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}
	}
	if s == Accepted || s == Started {
		o.StartDate, o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy = datep(today), true, "head-of-ops", datep(day(56))
	}
	if s == Declined || s == Withdrawn {
		o.ReasonCode = "candidate_request"
	}
	return o
}

// clone copies o deeply enough to tell whether a method changed it.
func clone(o *Offer) Offer {
	cp := *o
	cp.Conditions = slices.Clone(o.Conditions)
	cp.History = slices.Clone(o.History)
	if o.StartDate != nil {
		cp.StartDate = datep(*o.StartDate)
	}
	if o.VettingDueBy != nil {
		cp.VettingDueBy = datep(*o.VettingDueBy)
	}
	return cp
}

func change(v int64) Change {
	return Change{Change: record.Change{Actor: spoc, At: now, ExpectedVersion: v}, Today: today}
}

func date(t time.Time) *commonv1.Date { return event.Date(t) }

// command is one caller command, run at the offer's current version
// unless v says otherwise.
type command struct {
	name  string
	event string
	// from is the status each allowed starting status moves to.
	from map[Status]Status
	run  func(o *Offer, ch Change) (*eventsv1.Event, error)
	// check inspects an accepted command's event and the offer after it.
	check func(t *testing.T, ev *eventsv1.Event, o *Offer)
}

var commands = []command{
	{
		name: "make", event: "offer.made", from: map[Status]Status{AwaitingOffer: Made},
		run: func(o *Offer, ch Change) (*eventsv1.Event, error) {
			return o.Make(ch, "band_4", []commonv1.OfferCondition{
				commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_REFERENCES,
				commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK,
			})
		},
		check: func(t *testing.T, ev *eventsv1.Event, o *Offer) {
			want := &eventsv1.OfferMade{SalaryBandCode: "band_4", Conditions: []commonv1.OfferCondition{
				commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_REFERENCES,
				commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK,
			}, Checks: []commonv1.OfferCondition{ // all but vetting
				commonv1.OfferCondition_OFFER_CONDITION_REFERENCES, commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK,
			}}
			if !proto.Equal(ev.GetOfferMade(), want) {
				t.Errorf("offer.made payload = %v, want %v", ev.GetOfferMade(), want)
			}
			if o.SalaryBand != "band_4" || !slices.Equal(o.Conditions, want.Conditions) {
				t.Errorf("offer holds band %q conditions %v, want the offer's", o.SalaryBand, o.Conditions)
			}
		},
	},
	{
		name: "accept", event: "offer.accepted", from: map[Status]Status{Made: Accepted},
		run: func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Accept(ch) },
		check: func(t *testing.T, ev *eventsv1.Event, _ *Offer) {
			if ev.GetOfferAccepted() == nil {
				t.Errorf("payload = %T, want offer_accepted", ev.GetPayload())
			}
		},
	},
	{
		name: "decline", event: "offer.declined", from: map[Status]Status{Made: Declined},
		run: func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Decline(ch, "salary") },
		check: func(t *testing.T, ev *eventsv1.Event, o *Offer) {
			if got := ev.GetOfferDeclined().GetReasonCode(); got != "salary" || o.ReasonCode != "salary" {
				t.Errorf("declined reason: event %q, offer %q; want salary_too_low", got, o.ReasonCode)
			}
			if got := o.History[len(o.History)-1].ReasonCode; got != "salary" {
				t.Errorf("history reason = %q, want salary_too_low", got)
			}
		},
	},
	{
		name: "withdraw", event: "offer.withdrawn", from: map[Status]Status{Made: Withdrawn, Accepted: Withdrawn},
		run: func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Withdraw(ch, "post_cancelled") },
		check: func(t *testing.T, ev *eventsv1.Event, o *Offer) {
			want := &eventsv1.OfferWithdrawn{ReasonCode: "post_cancelled"}
			if !proto.Equal(ev.GetOfferWithdrawn(), want) || o.ReasonCode != "post_cancelled" {
				t.Errorf("withdrawn payload %v, offer reason %q; want %v", ev.GetOfferWithdrawn(), o.ReasonCode, want)
			}
		},
	},
	{
		name: "set start date", event: "offer.start_date_set", from: map[Status]Status{Accepted: Accepted},
		run: func(o *Offer, ch Change) (*eventsv1.Event, error) {
			return o.SetStartDate(ch, StartPlan{Date: day(14)}, period)
		},
		check: func(t *testing.T, ev *eventsv1.Event, o *Offer) {
			want := &eventsv1.OfferStartDateSet{StartDate: date(day(14)), SubjectToVetting: true, VettingDueBy: date(day(14 + 56))}
			if !proto.Equal(ev.GetOfferStartDateSet(), want) {
				t.Errorf("start_date_set payload = %v, want %v", ev.GetOfferStartDateSet(), want)
			}
			if o.ApprovedBy != "" || o.StartApprovedAt != nil {
				t.Errorf("a new start date kept the approval of the old one: %q at %v", o.ApprovedBy, o.StartApprovedAt)
			}
		},
	},
	{
		name: "confirm start", event: "candidate.started", from: map[Status]Status{Accepted: Started},
		run: func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.ConfirmStart(ch) },
		check: func(t *testing.T, ev *eventsv1.Event, o *Offer) {
			want := &eventsv1.CandidateStarted{StartDate: date(today), SubjectToVetting: true, ApprovedBy: "head-of-ops", VettingDueBy: date(day(56))}
			if !proto.Equal(ev.GetCandidateStarted(), want) || !o.SubjectToVetting {
				t.Errorf("candidate.started payload = %v (offer subject %v), want %v", ev.GetCandidateStarted(), o.SubjectToVetting, want)
			}
		},
	},
}

// TestTransitions runs every command from every status.
func TestTransitions(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		for _, s := range statuses {
			t.Run(cmd.name+" from "+string(s), func(t *testing.T) {
				t.Parallel()
				o := offerIn(s)
				before := clone(o)
				ev, err := cmd.run(o, change(o.Version))
				to, allowed := cmd.from[s]
				if !allowed {
					var se *record.TransitionError
					if !errors.As(err, &se) || se.State != string(s) || !strings.Contains(err.Error(), string(s)) {
						t.Fatalf("err = %v (%T), want a TransitionError naming %s", err, err, s)
					}
					if ev != nil || !reflect.DeepEqual(clone(o), before) {
						t.Errorf("refused %s changed the offer or emitted %v", cmd.name, ev)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s from %s: %v", cmd.name, s, err)
				}
				if o.State != to || o.Version != before.Version+1 {
					t.Errorf("offer is %s v%d, want %s v%d", o.State, o.Version, to, before.Version+1)
				}
				wantEntered := now
				if to == s {
					wantEntered = before.StateEnteredAt
				}
				if !o.StateEnteredAt.Equal(wantEntered) {
					t.Errorf("status entered at %v, want %v", o.StateEnteredAt, wantEntered)
				}
				if len(o.History) != len(before.History)+1 {
					t.Fatalf("history has %d entries, want %d", len(o.History), len(before.History)+1)
				}
				if last := o.History[len(o.History)-1]; last.Event != cmd.event || last.Version != o.Version || !proto.Equal(last.Actor, spoc) || !last.OccurredAt.Equal(now) {
					t.Errorf("last history entry = %+v, want %s v%d by %s at %v", last, cmd.event, o.Version, spoc.GetSubject(), now)
				}
				name, err := event.Name(ev)
				if err != nil || name != cmd.event {
					t.Fatalf("event %q (%v), want %s", name, err, cmd.event)
				}
				if ev.GetApplicationId() != o.ApplicationID || ev.GetCampaignId() != o.CampaignID || ev.GetRegion() != "london" ||
					ev.GetRole() != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER || ev.GetProducer() != Producer ||
					ev.GetAggregateVersion() != o.Version || !proto.Equal(ev.GetActor(), spoc) || !ev.GetOccurredAt().AsTime().Equal(now) {
					t.Errorf("envelope = %v; want the offer's record at v%d by %s at %v", ev, o.Version, spoc.GetSubject(), now)
				}
				if _, err := event.Marshal(ev); err != nil {
					t.Errorf("event does not marshal for the outbox: %v", err)
				}
				cmd.check(t, ev, o)
			})
		}
	}
}

// TestStaleVersionComesFirst: a stale version is reported whatever the
// status, so a client re-reads before being told the move is not allowed.
func TestStaleVersionComesFirst(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		for _, s := range statuses {
			for _, v := range []int64{2, 4, 40} {
				o := offerIn(s)
				before := clone(o)
				ev, err := cmd.run(o, change(v))
				if !errors.Is(err, record.ErrStale) {
					t.Errorf("%s from %s at expected version %d (offer v3): err = %v, want record.ErrStale", cmd.name, s, v, err)
				}
				if ev != nil || !reflect.DeepEqual(clone(o), before) {
					t.Errorf("%s from %s with a stale version changed the offer or emitted %v", cmd.name, s, ev)
				}
			}
			o := offerIn(s)
			_, err := cmd.run(o, change(0))
			wantField(t, cmd.name+" without a version", err, "expected_version")
		}
	}
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var fe *validate.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Errorf("%s: err = %v (%T), want a FieldError on %s", what, err, err, field)
	}
}

// TestValidation feeds each command bad input from a status where it is
// allowed, at the right version.
func TestValidation(t *testing.T) {
	t.Parallel()
	conds := func(cs ...commonv1.OfferCondition) []commonv1.OfferCondition { return cs }
	vet, refs := commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_REFERENCES
	mk := func(band string, cs []commonv1.OfferCondition) func(*Offer, Change) (*eventsv1.Event, error) {
		return func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Make(ch, band, cs) }
	}
	start := func(p StartPlan) func(*Offer, Change) (*eventsv1.Event, error) {
		return func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.SetStartDate(ch, p, period) }
	}
	tests := []struct {
		name  string
		from  Status
		run   func(*Offer, Change) (*eventsv1.Event, error)
		field string
	}{
		{"empty band", AwaitingOffer, mk("", conds(vet)), "salary_band_code"},
		{"upper-case band", AwaitingOffer, mk("Band_3", conds(vet)), "salary_band_code"},
		{"band with a space", AwaitingOffer, mk("band 3", conds(vet)), "salary_band_code"},
		{"band starting with _", AwaitingOffer, mk("_band", conds(vet)), "salary_band_code"},
		{"band of 33 characters", AwaitingOffer, mk(strings.Repeat("b", 33), conds(vet)), "salary_band_code"},
		{"no conditions", AwaitingOffer, mk("band_3", nil), "conditions"},
		{"unspecified condition", AwaitingOffer, mk("band_3", conds(commonv1.OfferCondition_OFFER_CONDITION_UNSPECIFIED)), "conditions"},
		{"duplicate condition", AwaitingOffer, mk("band_3", conds(vet, refs, vet)), "conditions"},
		{"unknown condition", AwaitingOffer, mk("band_3", conds(vet, commonv1.OfferCondition(99))), "conditions"},
		{"decline without reason", Made, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Decline(ch, "") }, "reason_code"},
		{"decline with upper-case reason", Made, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Decline(ch, "Salary") }, "reason_code"},
		{"decline with one-letter reason", Made, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Decline(ch, "s") }, "reason_code"},
		{"withdraw with spaced reason", Accepted, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Withdraw(ch, "post cut") }, "reason_code"},
		{"withdraw without reason", Made, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Withdraw(ch, "") }, "reason_code"},
		{"no start date", Accepted, start(StartPlan{}), "start_date"},
		{"start date yesterday", Accepted, start(StartPlan{Date: day(-1)}), "start_date"},
		{"vetting due before the start", Accepted, start(StartPlan{Date: day(7), VettingDueBy: datep(day(6))}), "vetting_due_by"},
		{"vetting due a day past the period", Accepted, start(StartPlan{Date: day(7), VettingDueBy: datep(day(7 + 57))}), "vetting_due_by"},
		{"vetting due in 2100", Accepted, start(StartPlan{Date: day(7), VettingDueBy: datep(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))}), "vetting_due_by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := offerIn(tt.from)
			before := clone(o)
			ev, err := tt.run(o, change(o.Version))
			wantField(t, tt.name, err, tt.field)
			if ev != nil || o.State != before.State || o.Version != before.Version || len(o.History) != len(before.History) {
				t.Errorf("refused change moved the offer to %s v%d (%d history entries) or emitted %v", o.State, o.Version, len(o.History), ev)
			}
		})
	}
}

// TestAcceptsBoundaries: the edges of each rule are allowed.
func TestAcceptsBoundaries(t *testing.T) {
	t.Parallel()
	vet := []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}
	if _, err := offerIn(AwaitingOffer).Make(change(3), "b", vet); err != nil {
		t.Errorf("one-character band: %v", err)
	}
	if _, err := offerIn(AwaitingOffer).Make(change(3), strings.Repeat("b", 32), vet); err != nil {
		t.Errorf("32-character band: %v", err)
	}
	if _, err := offerIn(AwaitingOffer).Make(change(3), "band_3", []commonv1.OfferCondition{1, 2, 3, 4}); err != nil {
		t.Errorf("every condition: %v", err)
	}
	if _, err := offerIn(Accepted).SetStartDate(change(3), StartPlan{Date: today, VettingDueBy: datep(today)}, period); err != nil {
		t.Errorf("start today, vetting due on the start date: %v", err)
	}
	if _, err := offerIn(Accepted).SetStartDate(change(3), StartPlan{Date: today, VettingDueBy: datep(day(56))}, period); err != nil {
		t.Errorf("start today, vetting due at the end of the period: %v", err)
	}
	// The caller's slice is copied: changing it later does not change the offer.
	cs := []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_MEDICAL}
	o := offerIn(AwaitingOffer)
	if _, err := o.Make(change(3), "band_3", cs); err != nil {
		t.Fatal(err)
	}
	cs[0] = commonv1.OfferCondition_OFFER_CONDITION_REFERENCES
	if o.Conditions[0] != commonv1.OfferCondition_OFFER_CONDITION_MEDICAL {
		t.Errorf("offer conditions follow the caller's slice: %v", o.Conditions)
	}
}

// TestStartDatePlans covers the governance of a start before vetting
// clears: approver and due date, with the due date defaulting to the
// configured period after the start.
func TestStartDatePlans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cleared bool
		plan    StartPlan
		period  time.Duration
		want    *eventsv1.OfferStartDateSet
	}{
		{"default due, 8 weeks", false, StartPlan{Date: day(10)}, period,
			&eventsv1.OfferStartDateSet{StartDate: date(day(10)), SubjectToVetting: true, VettingDueBy: date(day(66))}},
		{"default due, configured 3 weeks", false, StartPlan{Date: day(10)}, 21 * 24 * time.Hour,
			&eventsv1.OfferStartDateSet{StartDate: date(day(10)), SubjectToVetting: true, VettingDueBy: date(day(31))}},
		{"due date given", false, StartPlan{Date: day(10), VettingDueBy: datep(day(20))}, period,
			&eventsv1.OfferStartDateSet{StartDate: date(day(10)), SubjectToVetting: true, VettingDueBy: date(day(20))}},
		{"vetting cleared", true, StartPlan{Date: day(10)}, period,
			&eventsv1.OfferStartDateSet{StartDate: date(day(10))}},
		{"vetting cleared, due date ignored", true, StartPlan{Date: day(10), VettingDueBy: datep(day(12))}, period,
			&eventsv1.OfferStartDateSet{StartDate: date(day(10))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := offerIn(Accepted)
			o.VettingCleared = tt.cleared
			ev, err := o.SetStartDate(change(3), tt.plan, tt.period)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(ev.GetOfferStartDateSet(), tt.want) {
				t.Errorf("payload = %v, want %v", ev.GetOfferStartDateSet(), tt.want)
			}
			if o.SubjectToVetting != tt.want.GetSubjectToVetting() || o.ApprovedBy != tt.want.GetApprovedBy() ||
				!o.StartDate.Equal(tt.plan.Date) || (o.VettingDueBy == nil) != (tt.want.GetVettingDueBy() == nil) {
				t.Errorf("offer start %v subject %v approver %q due %v; want the payload's", o.StartDate, o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy)
			}
		})
	}
}

// TestConfirmStart covers when a start may be confirmed.
func TestConfirmStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(o *Offer)
		// why is in the refusal; "" means the start is confirmed.
		why  string
		want *eventsv1.CandidateStarted
	}{
		{"no start date", func(o *Offer) { o.StartDate, o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy = nil, false, "", nil }, "no start date", nil},
		{"start date tomorrow", func(o *Offer) { o.StartDate = datep(day(1)) }, "has not come yet", nil},
		{"not cleared and not approved", func(o *Offer) { o.ApprovedBy = "" }, "no approver has approved", nil},
		{"start date yesterday, approved", func(o *Offer) { o.StartDate = datep(day(-1)) }, "",
			&eventsv1.CandidateStarted{StartDate: date(day(-1)), SubjectToVetting: true, ApprovedBy: "head-of-ops", VettingDueBy: date(day(56))}},
		{"vetting cleared after an approved date", func(o *Offer) { o.VettingCleared = true }, "",
			&eventsv1.CandidateStarted{StartDate: date(today)}},
		{"vetting cleared, never approved", func(o *Offer) {
			o.VettingCleared, o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy = true, false, "", nil
		}, "",
			&eventsv1.CandidateStarted{StartDate: date(today)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := offerIn(Accepted)
			tt.setup(o)
			before := clone(o)
			ev, err := o.ConfirmStart(change(3))
			if tt.why != "" {
				var se *record.TransitionError
				if !errors.As(err, &se) || se.State != string(Accepted) || !strings.Contains(err.Error(), tt.why) {
					t.Fatalf("err = %v, want a TransitionError saying %q", err, tt.why)
				}
				if ev != nil || !reflect.DeepEqual(clone(o), before) {
					t.Errorf("refused start changed the offer or emitted %v", ev)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(ev.GetCandidateStarted(), tt.want) || o.State != Started || o.SubjectToVetting != tt.want.GetSubjectToVetting() {
				t.Errorf("started %v (offer %s, subject %v), want %v", ev.GetCandidateStarted(), o.State, o.SubjectToVetting, tt.want)
			}
		})
	}
}

func withdrawnEvent(o *Offer, at time.Time) *eventsv1.Event {
	ev := event.New("applications", spoc, at, event.Record{ApplicationID: o.ApplicationID, CampaignID: o.CampaignID, Region: o.Region, Role: o.Role, Version: 9})
	ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "candidate_request", Stage: commonv1.Stage_STAGE_OFFER}}
	return ev
}

func clearedEvent(o *Offer, at time.Time) *eventsv1.Event {
	ev := event.New("vetting", vetter, at, event.Record{ApplicationID: o.ApplicationID, CampaignID: o.CampaignID, Region: o.Region, Role: o.Role, Version: 5})
	ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	return ev
}

// TestEventsFromOtherServices covers the reactions to other services'
// events in every status.
func TestEventsFromOtherServices(t *testing.T) {
	t.Parallel()
	system := event.SystemActor(Producer)
	for _, s := range statuses {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()

			o := offerIn(s)
			changed := o.ApplicationWithdrawn(withdrawnEvent(o, now))
			ends := s == AwaitingOffer || s == Made || s == Accepted
			if changed != ends {
				t.Errorf("application.withdrawn changed=%v, want %v", changed, ends)
			}
			if ends && (o.State != Withdrawn || o.Version != 4 || o.ReasonCode != "candidate_request" || o.History[3].Event != "application.withdrawn") {
				t.Errorf("after application.withdrawn: %s v%d reason %q; want WITHDRAWN v4 candidate_request", o.State, o.Version, o.ReasonCode)
			}
			if !ends && (o.State != s || o.Version != 3) {
				t.Errorf("application.withdrawn moved a %s offer to %s v%d", s, o.State, o.Version)
			}

			o = offerIn(s)
			if !o.NoteVettingCleared(clearedEvent(o, now)) || !o.VettingCleared || o.State != s || o.Version != 4 {
				t.Errorf("vetting.cleared: cleared %v, %s v%d; want noted at v4 in %s", o.VettingCleared, o.State, o.Version, s)
			}
			if o.NoteVettingCleared(clearedEvent(o, now)) || o.Version != 4 {
				t.Errorf("a second vetting.cleared changed the offer to v%d", o.Version)
			}

			o = offerIn(s)
			ev := o.VettingFailed(system, now)
			fails := s == Made || s == Accepted || s == Started
			if (ev != nil) != fails {
				t.Fatalf("vetting failed on %s emitted %v; want an event: %v", s, ev, fails)
			}
			if !fails {
				if o.State != s || o.Version != 3 {
					t.Errorf("vetting failed moved a %s offer to %s v%d", s, o.State, o.Version)
				}
				return
			}
			want := &eventsv1.OfferWithdrawn{ReasonCode: ReasonVettingFailed, AfterStart: s == Started}
			if !proto.Equal(ev.GetOfferWithdrawn(), want) || !proto.Equal(ev.GetActor(), system) || ev.GetAggregateVersion() != 4 {
				t.Errorf("vetting failed on %s: %v; want %v by system:offers at v4", s, ev, want)
			}
			if o.State != Withdrawn || o.ReasonCode != ReasonVettingFailed {
				t.Errorf("after vetting failed: %s %q, want WITHDRAWN vetting_failed", o.State, o.ReasonCode)
			}
		})
	}
}

// TestRefusedStartDateLeavesOfferAlone: a refused SetStartDate must leave
// the offer as it was, like every other refused command.
func TestRefusedStartDateLeavesOfferAlone(t *testing.T) {
	t.Parallel()
	for _, plan := range []StartPlan{
		{Date: day(7), VettingDueBy: datep(day(6))},
		{Date: day(7), VettingDueBy: datep(day(7 + 57))},
	} {
		o := offerIn(Accepted)
		before := clone(o)
		if _, err := o.SetStartDate(change(3), plan, period); err == nil {
			t.Fatalf("plan %+v accepted, want refused", plan)
		}
		if !reflect.DeepEqual(clone(o), before) {
			t.Errorf("refused plan %+v changed the offer: start %v subject %v approver %q due %v; was start %v subject %v approver %q due %v",
				plan, o.StartDate, o.SubjectToVetting, o.ApprovedBy, o.VettingDueBy,
				before.StartDate, before.SubjectToVetting, before.ApprovedBy, before.VettingDueBy)
		}
		// The consequence: the approved start today can no longer be confirmed.
		if _, err := o.ConfirmStart(change(3)); err != nil {
			t.Errorf("after the refused plan the approved start cannot be confirmed: %v", err)
		}
	}
}

// TestConsumes: Consumes names exactly the events HandleEvent acts on.
func TestConsumes(t *testing.T) {
	t.Parallel()
	eventtest.WantConsumes(t, Consumes, NewService(nil, time.Now, time.UTC, time.Hour, nil).HandleEvent)
}
