package offer

import (
	"context"
	"fmt"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Policy is a region's rule for starts before vetting clears: whether
// they are allowed, and how many candidates may be started subject to
// vetting at once. A region never set has Version 0 and early starts off.
type Policy struct {
	Region    string
	Enabled   bool
	Cap       int
	Version   int64
	UpdatedBy string
	UpdatedAt time.Time
}

// MaxCap bounds a policy's cap: far above any region's intake, low enough
// that a typo (an extra digit or two) is caught.
const MaxCap = 10000

// EarlyStartStore keeps the regions' early start policies and counts what
// the cap limits. Its calls join the transaction ctx carries.
type EarlyStartStore interface {
	// Policy reads region's policy (Version 0, off, if never set).
	Policy(ctx context.Context, region string) (Policy, error)
	// HoldPolicy locks region's policy until the transaction ends and
	// counts the region's candidates started subject to vetting: two
	// starts in a region are counted one after the other, each seeing the
	// other's commit.
	HoldPolicy(ctx context.Context, region string) (Policy, int, error)
	// EarlyStarts counts region's candidates started subject to vetting.
	EarlyStarts(ctx context.Context, region string) (int, error)
	// UpdatePolicy applies fn to region's policy under a lock and stores it
	// with fn's event, in one transaction.
	UpdatePolicy(ctx context.Context, region string, fn func(*Policy) (*eventsv1.Event, error)) (Policy, error)
}

// latestDue is the latest vetting due date a start on start may have:
// start + period, as a calendar date.
func latestDue(start time.Time, period time.Duration) time.Time {
	return start.Add(period).Truncate(24 * time.Hour)
}

// vettingDue is the due date of a start on start before vetting clears:
// asked (nil: the latest allowed), not before the start and, unless it is
// a recorded date of the past (an import), not after start + period.
func vettingDue(start time.Time, asked *time.Time, period time.Duration, recorded bool) (time.Time, error) {
	latest := latestDue(start, period)
	if asked == nil {
		return latest, nil
	}
	switch {
	case asked.Before(start):
		return time.Time{}, validate.Field("vetting_due_by", "must not be before the start date")
	case asked.After(latest) && !recorded:
		return time.Time{}, validate.Field("vetting_due_by", fmt.Sprintf(
			"must be no later than %s: the start date plus VETTING_DUE_PERIOD (%d days)",
			latest.Format(time.DateOnly), int(period.Hours()/24)))
	}
	return *asked, nil
}

// ApproveEarlyStart records the caller's approval of starting on the start
// date set, before vetting clears: the approval is the caller's subject,
// never a name typed in. The region's policy must allow early starts; the
// cap is checked when the start is confirmed.
func (o *Offer) ApproveEarlyStart(ch Change, p Policy) (*eventsv1.Event, error) {
	if err := o.Begin(ch.Change, "approve an early start", Accepted); err != nil {
		return nil, err
	}
	refused := record.Refused(o.State, "approve an early start")
	switch {
	case o.VettingCleared:
		return nil, refused.Because("vetting has cleared: the start needs no approval")
	case o.StartDate == nil || !o.SubjectToVetting:
		return nil, refused.Because("no start date is set")
	case o.ApprovedBy != "":
		return nil, refused.Because("the early start is already approved by " + o.ApprovedBy)
	case !p.Enabled:
		return nil, refused.Because("early starts are off in region " + o.Region + " (its early start policy)")
	}
	at := ch.At
	o.ApprovedBy, o.StartApprovedAt = ch.Actor.GetSubject(), &at
	ev := o.Move(Producer, ch.Change, Accepted, "offer.early_start_approved", "")
	ev.Payload = &eventsv1.Event_OfferEarlyStartApproved{OfferEarlyStartApproved: &eventsv1.OfferEarlyStartApproved{
		StartDate: event.Date(*o.StartDate), VettingDueBy: event.Date(*o.VettingDueBy),
	}}
	return ev, nil
}

// AdmitEarlyStart is the policy's check of a start before vetting clears,
// given how many of the region's candidates are started subject to vetting
// already (this one not counted).
func AdmitEarlyStart(p Policy, region string, started int) error {
	refused := record.Refused(Accepted, "confirm the start")
	switch {
	case !p.Enabled:
		return refused.Because("early starts are off in region " + region + " (its early start policy); wait for vetting to clear")
	case started >= p.Cap:
		return refused.Because(fmt.Sprintf("region %s has %d candidates started subject to vetting, its early start policy's cap of %d; wait for vetting to clear", region, started, p.Cap))
	}
	return nil
}

// Set changes a policy, having read version expectedVersion (0 for a
// region never set).
func (p *Policy) Set(ch Change, enabled bool, limit int) (*eventsv1.Event, error) {
	if ch.ExpectedVersion < 0 {
		return nil, validate.Field("expected_version", "is the policy's version you last read (0 for a region never set)")
	}
	if limit < 0 || limit > MaxCap {
		return nil, validate.Field("cap", fmt.Sprintf("must be 0-%d", MaxCap))
	}
	if ch.ExpectedVersion != p.Version {
		return nil, record.StaleError(ch.ExpectedVersion, p.Version)
	}
	p.Enabled, p.Cap, p.Version = enabled, limit, p.Version+1
	p.UpdatedBy, p.UpdatedAt = ch.Actor.GetSubject(), ch.At
	ev := event.New(Producer, ch.Actor, ch.At, event.Record{Region: p.Region, Version: p.Version})
	ev.Payload = &eventsv1.Event_OfferEarlyStartPolicySet{OfferEarlyStartPolicySet: &eventsv1.EarlyStartPolicySet{
		Enabled: enabled, Cap: int32(limit),
	}}
	return ev, nil
}

// checkRegion is the request's region: required, one of the codes.
func checkRegion(r string) error {
	if r == "" {
		return validate.Field("region", "is required")
	}
	return validate.Region("region", r)
}
