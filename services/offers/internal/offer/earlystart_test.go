package offer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/record"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var approver = &commonv1.Actor{Subject: "approver-london", Role: commonv1.CallerRole_CALLER_ROLE_APPROVER}

func approval(v int64) Change {
	return Change{Change: record.Change{Actor: approver, At: now, ExpectedVersion: v}, Today: today}
}

// awaitingApproval is an accepted offer whose start, today, is set before
// vetting cleared and not approved yet.
func awaitingApproval() *Offer {
	o := offerIn(Accepted)
	o.ApprovedBy = ""
	return o
}

var on = Policy{Region: "london", Enabled: true, Cap: 5, Version: 1}

// TestApproveEarlyStart: the approval is the caller's subject and time,
// with an event naming the start and due dates; it is refused when there
// is nothing to approve or the region's policy is off.
func TestApproveEarlyStart(t *testing.T) {
	t.Parallel()
	o := awaitingApproval()
	ev, err := o.ApproveEarlyStart(approval(3), on)
	if err != nil {
		t.Fatal(err)
	}
	want := &eventsv1.OfferEarlyStartApproved{StartDate: date(today), VettingDueBy: date(day(56))}
	if !proto.Equal(ev.GetOfferEarlyStartApproved(), want) || ev.GetActor().GetSubject() != "approver-london" || ev.GetAggregateVersion() != 4 {
		t.Errorf("event %v by %v at v%d; want %v by approver-london at v4", ev.GetOfferEarlyStartApproved(), ev.GetActor(), ev.GetAggregateVersion(), want)
	}
	if o.ApprovedBy != "approver-london" || o.StartApprovedAt == nil || !o.StartApprovedAt.Equal(now) || o.State != Accepted {
		t.Errorf("offer approved by %q at %v, %s; want approver-london at %v, ACCEPTED", o.ApprovedBy, o.StartApprovedAt, o.State, now)
	}
	if _, err := o.ConfirmStart(change(4)); err != nil {
		t.Errorf("confirming the approved start: %v", err)
	}

	refusals := []struct {
		name   string
		setup  func(*Offer)
		policy Policy
		why    string
	}{
		{"vetting cleared", func(o *Offer) { o.VettingCleared = true }, on, "needs no approval"},
		{"no start date", func(o *Offer) { o.StartDate, o.SubjectToVetting, o.VettingDueBy = nil, false, nil }, on, "no start date"},
		{"already approved", func(o *Offer) { o.ApprovedBy = "approver-london-2" }, on, "already approved by approver-london-2"},
		{"policy off", func(*Offer) {}, Policy{Region: "london", Cap: 5, Version: 2}, "early starts are off"},
		{"policy never set", func(*Offer) {}, Policy{Region: "london"}, "early starts are off"},
		{"made, not accepted", func(o *Offer) { o.State = Made }, on, "offer is MADE"},
		{"started", func(o *Offer) { o.State = Started }, on, "offer is STARTED"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := awaitingApproval()
			tt.setup(o)
			before := clone(o)
			ev, err := o.ApproveEarlyStart(approval(3), tt.policy)
			var te *record.TransitionError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("err = %v, want a refusal saying %q", err, tt.why)
			}
			if ev != nil || o.Version != before.Version || o.ApprovedBy != before.ApprovedBy {
				t.Errorf("refused approval changed the offer (v%d, approver %q) or emitted %v", o.Version, o.ApprovedBy, ev)
			}
		})
	}
	t.Run("stale version", func(t *testing.T) {
		t.Parallel()
		if _, err := awaitingApproval().ApproveEarlyStart(approval(2), on); !errors.Is(err, record.ErrStale) {
			t.Errorf("err = %v, want stale", err)
		}
	})
}

// TestNewStartDateTakesBackTheApproval: an approval is for the start date
// and due date approved; moving the date needs a new one.
func TestNewStartDateTakesBackTheApproval(t *testing.T) {
	t.Parallel()
	o := awaitingApproval()
	if _, err := o.ApproveEarlyStart(approval(3), on); err != nil {
		t.Fatal(err)
	}
	if _, err := o.SetStartDate(change(4), StartPlan{Date: today}, period); err != nil {
		t.Fatal(err)
	}
	if o.ApprovedBy != "" || o.StartApprovedAt != nil {
		t.Errorf("approval kept: %q at %v", o.ApprovedBy, o.StartApprovedAt)
	}
	if _, err := o.ConfirmStart(change(5)); err == nil || !strings.Contains(err.Error(), "no approver") {
		t.Errorf("confirm after the date moved: %v, want a refusal for the missing approval", err)
	}
}

// TestAdmitEarlyStart: the policy's on/off and cap, at the edges.
func TestAdmitEarlyStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy  Policy
		started int
		why     string
	}{
		{Policy{Enabled: true, Cap: 2}, 0, ""},
		{Policy{Enabled: true, Cap: 2}, 1, ""},
		{Policy{Enabled: true, Cap: 2}, 2, "its early start policy's cap of 2"},
		{Policy{Enabled: true, Cap: 2}, 7, "has 7 candidates"},
		{Policy{Enabled: true, Cap: 0}, 0, "cap of 0"},
		{Policy{Enabled: false, Cap: 9}, 0, "early starts are off"},
		{Policy{}, 0, "early starts are off"},
	}
	for _, tt := range tests {
		err := AdmitEarlyStart(tt.policy, "london", tt.started)
		switch {
		case tt.why == "" && err != nil:
			t.Errorf("%+v with %d started: %v, want admitted", tt.policy, tt.started, err)
		case tt.why != "" && (err == nil || !strings.Contains(err.Error(), tt.why)):
			t.Errorf("%+v with %d started: %v, want a refusal saying %q", tt.policy, tt.started, err, tt.why)
		}
	}
}

// TestSetPolicy: validation names the field; the version guards against
// lost updates; the event carries only the region's rule.
func TestSetPolicy(t *testing.T) {
	t.Parallel()
	admin := &commonv1.Actor{Subject: "admin-1", Role: commonv1.CallerRole_CALLER_ROLE_ADMIN}
	at := func(v int64) Change { return Change{Change: record.Change{Actor: admin, At: now, ExpectedVersion: v}} }
	p := Policy{Region: "wales"}
	ev, err := p.Set(at(0), true, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := &eventsv1.EarlyStartPolicySet{Enabled: true, Cap: 3}
	if !proto.Equal(ev.GetOfferEarlyStartPolicySet(), want) || ev.GetRegion() != "wales" || ev.GetApplicationId() != "" || ev.GetAggregateVersion() != 1 {
		t.Errorf("event %v region %q application %q v%d; want %v for wales, no application, v1", ev.GetOfferEarlyStartPolicySet(), ev.GetRegion(), ev.GetApplicationId(), ev.GetAggregateVersion(), want)
	}
	if p.Version != 1 || !p.Enabled || p.Cap != 3 || p.UpdatedBy != "admin-1" {
		t.Errorf("policy %+v", p)
	}
	if _, err := p.Set(at(0), false, 3); !errors.Is(err, record.ErrStale) {
		t.Errorf("set at version 0 of a policy at 1: %v, want stale", err)
	}
	for _, limit := range []int{-1, MaxCap + 1} {
		q := Policy{Region: "wales"}
		if _, err := q.Set(at(0), true, limit); err == nil {
			t.Errorf("cap %d accepted", limit)
		} else {
			wantField(t, "cap", err, "cap")
		}
	}
	q := Policy{Region: "wales"}
	_, err = q.Set(at(-1), true, 1)
	wantField(t, "version -1", err, "expected_version")
}

// TestVettingDueBound: the due date is at most start + the period, however
// the period is configured.
func TestVettingDueBound(t *testing.T) {
	t.Parallel()
	start := day(3)
	for _, tt := range []struct {
		period time.Duration
		asked  *time.Time
		want   time.Time
		field  string
	}{
		{period, nil, day(3 + 56), ""},
		{period, datep(day(3 + 56)), day(3 + 56), ""},
		{period, datep(day(3 + 57)), time.Time{}, "vetting_due_by"},
		{90 * 24 * time.Hour, datep(day(3 + 90)), day(3 + 90), ""},
		{90 * 24 * time.Hour, datep(day(3 + 91)), time.Time{}, "vetting_due_by"},
		{period, datep(time.Date(2100, 12, 31, 0, 0, 0, 0, time.UTC)), time.Time{}, "vetting_due_by"},
		{period, datep(day(2)), time.Time{}, "vetting_due_by"},
	} {
		got, err := vettingDue(start, tt.asked, tt.period, false)
		if tt.field != "" {
			wantField(t, "due", err, tt.field)
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("period %v asked %v: %v, %v; want %v", tt.period, tt.asked, got, err, tt.want)
		}
	}
	_, err := vettingDue(start, datep(day(3+57)), period, false)
	if err == nil || !strings.Contains(err.Error(), "no later than "+day(3+56).Format(time.DateOnly)) {
		t.Errorf("err = %v, want it to name the latest date", err)
	}
	// An imported history keeps the date it recorded.
	if got, err := vettingDue(start, datep(day(3+200)), period, true); err != nil || !got.Equal(day(3+200)) {
		t.Errorf("recorded due date: %v, %v; want it kept", got, err)
	}
	if _, err := vettingDue(start, datep(day(2)), period, true); err == nil {
		t.Error("a recorded due date before the start accepted")
	}
}
