package offer

import (
	"slices"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/precheck"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// CheckStatus is where a pre-employment check stands.
type CheckStatus string

// Check statuses.
const (
	CheckOutstanding CheckStatus = "OUTSTANDING"
	CheckMet         CheckStatus = "MET"
	CheckFailed      CheckStatus = "FAILED"
	CheckWaived      CheckStatus = "WAIVED"
)

// ReasonCheckFailedPrefix starts the reason of an offer withdrawn because a
// check failed: check_failed:<check>, e.g. check_failed:right_to_work.
const ReasonCheckFailedPrefix = "check_failed:"

// Check is the recorded status of one pre-employment check. A check never
// recorded is outstanding and has no entry in Offer.Checks.
type Check struct {
	Condition   commonv1.OfferCondition
	Status      CheckStatus
	WaiveReason commonv1.CheckWaiveReason
	// RecordedBy is the subject id of the caller who recorded the status
	// (from the token, never typed in).
	RecordedBy string
	RecordedAt time.Time
}

// CheckRecord is what RecordCheck asks for.
type CheckRecord struct {
	Condition   commonv1.OfferCondition
	Status      CheckStatus
	WaiveReason commonv1.CheckWaiveReason
}

// CheckName is a check's code in reasons and reports, e.g. right_to_work.
func CheckName(c commonv1.OfferCondition) string { return precheck.Name(c) }

// CheckConditions are the checks of an offer made with conditions (see
// precheck.Of: every condition but vetting, and right to work always);
// reporting applies the same rule to offer.made.
func CheckConditions(conditions []commonv1.OfferCondition) []commonv1.OfferCondition {
	return precheck.Of(conditions)
}

// CheckList is every check of a made offer with its status, in condition
// order; none before the offer is made.
func (o *Offer) CheckList() []Check {
	if o.State == AwaitingOffer || len(o.Conditions) == 0 {
		return nil
	}
	var out []Check
	for _, c := range CheckConditions(o.Conditions) {
		out = append(out, o.check(c))
	}
	return out
}

// check is the status of check c: its recorded entry, or outstanding.
func (o *Offer) check(c commonv1.OfferCondition) Check {
	for _, ch := range o.Checks {
		if ch.Condition == c {
			return ch
		}
	}
	return Check{Condition: c, Status: CheckOutstanding}
}

var checkStatuses = []CheckStatus{CheckOutstanding, CheckMet, CheckFailed, CheckWaived}

// RecordCheck records a check's status on a made or accepted offer. The
// caller (ch's actor) is who recorded it. Right to work may not be waived;
// a waiver needs a reason, and only a waiver takes one. A FAILED check
// leaves the offer as it is: the service withdraws it next, in the same
// transaction (WithdrawForFailedCheck).
func (o *Offer) RecordCheck(ch Change, rec CheckRecord) (*eventsv1.Event, error) {
	rtw := commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK
	switch {
	case rec.Condition == commonv1.OfferCondition_OFFER_CONDITION_VETTING:
		return nil, validate.Field("check", "vetting is recorded by the vetting service (vetting.cleared, vetting.failed), not as a check")
	case rec.Condition == commonv1.OfferCondition_OFFER_CONDITION_UNSPECIFIED || commonv1.OfferCondition_name[int32(rec.Condition)] == "":
		return nil, validate.Field("check", "must be one of OFFER_CONDITION_REFERENCES, OFFER_CONDITION_MEDICAL, OFFER_CONDITION_RIGHT_TO_WORK")
	case !slices.Contains(checkStatuses, rec.Status):
		return nil, validate.Field("status", "must be one of CHECK_STATUS_OUTSTANDING, CHECK_STATUS_MET, CHECK_STATUS_FAILED, CHECK_STATUS_WAIVED")
	case rec.Status == CheckWaived && rec.Condition == rtw:
		return nil, validate.Field("status", "right to work may not be waived: the law requires the check before employment starts")
	case rec.Status == CheckWaived && (rec.WaiveReason == commonv1.CheckWaiveReason_CHECK_WAIVE_REASON_UNSPECIFIED ||
		commonv1.CheckWaiveReason_name[int32(rec.WaiveReason)] == ""):
		return nil, validate.Field("waive_reason", "is required to waive a check: one of the CHECK_WAIVE_REASON_ codes (OTHER if none fits)")
	case rec.Status != CheckWaived && rec.WaiveReason != commonv1.CheckWaiveReason_CHECK_WAIVE_REASON_UNSPECIFIED:
		return nil, validate.Field("waive_reason", "is only for a WAIVED check")
	}
	if err := o.Begin(ch.Change, "record a check", Made, Accepted); err != nil {
		return nil, err
	}
	if !slices.Contains(CheckConditions(o.Conditions), rec.Condition) {
		return nil, record.Refused(o.State, "record a check").Because("the offer has no " + CheckName(rec.Condition) + " check: its conditions did not name it")
	}
	prev := o.check(rec.Condition)
	if prev.Status == rec.Status && prev.WaiveReason == rec.WaiveReason {
		return nil, record.Refused(o.State, "record a check").Because("the " + CheckName(rec.Condition) + " check is already " + string(rec.Status))
	}
	next := Check{Condition: rec.Condition, Status: rec.Status, WaiveReason: rec.WaiveReason, RecordedBy: ch.Actor.GetSubject(), RecordedAt: ch.At}
	o.Checks = slices.DeleteFunc(slices.Clone(o.Checks), func(c Check) bool { return c.Condition == rec.Condition })
	o.Checks = append(o.Checks, next)
	slices.SortFunc(o.Checks, func(a, b Check) int { return int(a.Condition) - int(b.Condition) })
	ev := o.Move(Producer, ch.Change, o.State, "offer.check_recorded", CheckName(rec.Condition)+"_"+strings.ToLower(string(rec.Status)))
	ev.Payload = &eventsv1.Event_OfferCheckRecorded{OfferCheckRecorded: &eventsv1.OfferCheckRecorded{
		Check: rec.Condition, Status: CheckStatusToProto[rec.Status], WaiveReason: rec.WaiveReason,
		PreviousStatus: CheckStatusToProto[prev.Status],
	}}
	return ev, nil
}

// WithdrawForFailedCheck withdraws an offer whose check c has failed, with
// reason check_failed:<check>: the usual offer.withdrawn, so every service
// reacts as to any withdrawal.
func (o *Offer) WithdrawForFailedCheck(ch Change, c commonv1.OfferCondition) (*eventsv1.Event, error) {
	if err := o.Begin(ch.Change, "withdraw", Made, Accepted); err != nil {
		return nil, err
	}
	if o.check(c).Status != CheckFailed {
		return nil, record.Refused(o.State, "withdraw for a failed check").Because("the " + CheckName(c) + " check has not failed")
	}
	return o.withdraw(ch.Change, ReasonCheckFailedPrefix+CheckName(c)), nil
}

// ConfirmStartChecked is ConfirmStart for a caller: the right to work check
// must be met first (it may not be waived). An imported start is history
// and goes through ConfirmStart alone.
func (o *Offer) ConfirmStartChecked(ch Change) (*eventsv1.Event, error) {
	if err := o.Begin(ch.Change, "confirm the start", Accepted); err != nil {
		return nil, err
	}
	if rtw := o.check(commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK); rtw.Status != CheckMet {
		return nil, record.Refused(o.State, "confirm the start").Because("the right_to_work check is " + string(rtw.Status) +
			": it must be met before the start (RecordCheck), and may not be waived")
	}
	return o.ConfirmStart(ch)
}

// CheckStatusToProto converts a check status for the contract.
var CheckStatusToProto = map[CheckStatus]commonv1.CheckStatus{
	CheckOutstanding: commonv1.CheckStatus_CHECK_STATUS_OUTSTANDING,
	CheckMet:         commonv1.CheckStatus_CHECK_STATUS_MET,
	CheckFailed:      commonv1.CheckStatus_CHECK_STATUS_FAILED,
	CheckWaived:      commonv1.CheckStatus_CHECK_STATUS_WAIVED,
}

// CheckStatusFromProto converts a check status from the contract ("" for
// an unknown one, which RecordCheck refuses).
func CheckStatusFromProto(s commonv1.CheckStatus) CheckStatus {
	for k, v := range CheckStatusToProto {
		if v == s {
			return k
		}
	}
	return ""
}
