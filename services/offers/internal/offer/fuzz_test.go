package offer

import (
	"regexp"
	"slices"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/eventtest"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// The rules of docs/design.md (the offers service), written out again.
var (
	bandRule       = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)
	reasonCodeRule = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)
)

func offerVersion(o *Offer) int64 { return o.Version }

// FuzzCommands runs one command of the offers API on an offer in a status
// the fuzzer picks, with fields the fuzzer picks: refused naming a field
// of the request (or the version, or the status) with the offer unchanged,
// or accepted only when the request met the documented rules, with an
// event the stream takes that says what was asked.
func FuzzCommands(f *testing.F) {
	f.Add(byte(0), byte(0), "band_3", []byte{1}, "", int16(0), "", false, int16(0), false, int64(3))
	f.Add(byte(0), byte(0), "Band 3", []byte{1, 1}, "", int16(0), "", false, int16(0), false, int64(3))
	f.Add(byte(0), byte(0), "b", []byte{0, 99}, "", int16(0), "", false, int16(0), false, int64(3))
	f.Add(byte(2), byte(1), "", []byte{}, "candidate_request", int16(0), "", false, int16(0), false, int64(3))
	f.Add(byte(3), byte(2), "", []byte{}, "x", int16(0), "", false, int16(0), false, int64(3))
	f.Add(byte(4), byte(2), "", []byte{}, "", int16(7), "head-of-ops", true, int16(30), false, int64(3))
	f.Add(byte(4), byte(2), "", []byte{}, "", int16(7), "head-of-ops", true, int16(-1), false, int64(3))
	f.Add(byte(4), byte(2), "", []byte{}, "", int16(-1), "", false, int16(0), true, int64(3))
	f.Add(byte(4), byte(2), "", []byte{}, "", int16(0), "a\x00b", false, int16(0), false, int64(3))
	f.Add(byte(5), byte(2), "", []byte{}, "", int16(0), "", false, int16(0), false, int64(3))
	f.Add(byte(1), byte(1), "", []byte{}, "", int16(0), "", false, int16(0), false, int64(2))
	f.Fuzz(func(t *testing.T, cmd, status byte, band string, conds []byte, reason string,
		startDays int16, approvedBy string, hasDue bool, dueDays int16, cleared bool, expected int64) {
		o := offerIn(statuses[int(status)%len(statuses)])
		o.VettingCleared = cleared
		b := clone(o)
		before := &b
		ch := change(expected)
		var ev *eventsv1.Event
		var err error
		switch cmd % 6 {
		case 0:
			conditions := make([]commonv1.OfferCondition, len(conds))
			for i, c := range conds {
				conditions[i] = commonv1.OfferCondition(int32(c) - 1)
			}
			ev, err = o.Make(ch, band, conditions)
			if !eventtest.Command(t, before, o, offerVersion, ev, err, "salary_band_code", "conditions", "expected_version") {
				return
			}
			if !bandRule.MatchString(band) || len(conditions) == 0 || before.State != AwaitingOffer {
				t.Fatalf("made an offer on band %q with %v from %s", band, conditions, before.State)
			}
			for i, c := range conditions {
				if _, known := commonv1.OfferCondition_name[int32(c)]; !known || c == 0 || slices.Contains(conditions[:i], c) {
					t.Fatalf("made an offer with conditions %v", conditions)
				}
			}
			if p := ev.GetOfferMade(); p.GetSalaryBandCode() != band || !slices.Equal(p.GetConditions(), conditions) {
				t.Fatalf("offer.made says %v, asked %q %v", p, band, conditions)
			}
		case 1:
			ev, err = o.Accept(ch)
			if eventtest.Command(t, before, o, offerVersion, ev, err, "expected_version") && before.State != Made {
				t.Fatalf("accepted an offer that was %s", before.State)
			}
		case 2, 3:
			run, field, from := o.Decline, "decline", []Status{Made}
			if cmd%6 == 3 {
				run, field, from = o.Withdraw, "withdraw", []Status{Made, Accepted}
			}
			ev, err = run(ch, reason)
			if !eventtest.Command(t, before, o, offerVersion, ev, err, "reason_code", "expected_version") {
				return
			}
			if !reasonCodeRule.MatchString(reason) || !slices.Contains(from, before.State) {
				t.Fatalf("%s with reason %q from %s", field, reason, before.State)
			}
		case 4:
			_ = approvedBy // an approver is no longer part of a start date (ApproveEarlyStart)
			plan := StartPlan{Date: today.AddDate(0, 0, int(startDays))}
			if hasDue {
				due := plan.Date.AddDate(0, 0, int(dueDays))
				plan.VettingDueBy = &due
			}
			ev, err = o.SetStartDate(ch, plan, period)
			if !eventtest.Command(t, before, o, offerVersion, ev, err, "start_date", "vetting_due_by", "expected_version") {
				return
			}
			checkStartPlan(t, before, plan, ev.GetOfferStartDateSet())
		case 5:
			ev, err = o.ConfirmStart(ch)
			if !eventtest.Command(t, before, o, offerVersion, ev, err, "expected_version") {
				return
			}
			if before.State != Accepted || before.StartDate == nil || before.StartDate.After(today) || !(before.VettingCleared || before.ApprovedBy != "") {
				t.Fatalf("started an offer that was %s, start %v, cleared %v, approved by %q", before.State, before.StartDate, before.VettingCleared, before.ApprovedBy)
			}
		}
	})
}

// checkStartPlan fails unless an accepted start date met the rules: an
// accepted offer, not in the past; before vetting clears, a due date not
// before the start and at most the period after it, and no approval (an
// approver gives it afterwards); and the event says so.
func checkStartPlan(t *testing.T, before *Offer, plan StartPlan, set *eventsv1.OfferStartDateSet) {
	t.Helper()
	if before.State != Accepted || plan.Date.Before(today) {
		t.Fatalf("start date %v set on an offer that was %s", plan.Date, before.State)
	}
	if !event.DateTime(set.GetStartDate()).Equal(plan.Date) || set.GetSubjectToVetting() == before.VettingCleared {
		t.Fatalf("offer.start_date_set says %v for %+v (cleared %v)", set, plan, before.VettingCleared)
	}
	if before.VettingCleared {
		return
	}
	if set.GetApprovedBy() != "" {
		t.Fatalf("start date published approved by %q", set.GetApprovedBy())
	}
	due := event.DateTime(set.GetVettingDueBy())
	if due.Before(plan.Date) || due.After(plan.Date.Add(period)) || (plan.VettingDueBy != nil && !due.Equal(*plan.VettingDueBy)) {
		t.Fatalf("vetting due %v for a start on %v (asked %v)", due, plan.Date, plan.VettingDueBy)
	}
}
