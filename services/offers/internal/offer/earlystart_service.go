package offer

import (
	"context"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// admitEarlyStart checks region's early start policy for one more start
// before vetting clears, in the start's transaction: the policy's row is
// locked before the region's early starts are counted, so of two starts
// racing for the last place under the cap, the second counts the first.
func (s *Service) admitEarlyStart(ctx context.Context, region string) error {
	p, started, err := s.store.HoldPolicy(ctx, region)
	if err != nil {
		return err
	}
	return AdmitEarlyStart(p, region, started)
}

// ApproveEarlyStart records the caller's approval of a start before
// vetting clears.
func (s *Service) ApproveEarlyStart(ctx context.Context, caller auth.Claims, id string, v int64) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) {
		p, err := s.store.Policy(ctx, o.Region)
		if err != nil {
			return nil, err
		}
		return o.ApproveEarlyStart(ch, p)
	})
}

// SetEarlyStartPolicy sets region's policy, the caller having read version
// v of it (0: never set).
func (s *Service) SetEarlyStartPolicy(ctx context.Context, caller auth.Claims, region string, v int64, enabled bool, limit int) (Policy, error) {
	if err := checkRegion(region); err != nil {
		return Policy{}, err
	}
	now := s.now()
	ch := Change{Change: record.By(caller, now, v), Today: s.today(now)}
	return s.store.UpdatePolicy(ctx, region, func(p *Policy) (*eventsv1.Event, error) { return p.Set(ch, enabled, limit) })
}

// EarlyStartPolicy returns region's policy and how many of its candidates
// are started subject to vetting now.
func (s *Service) EarlyStartPolicy(ctx context.Context, region string) (Policy, int, error) {
	if err := checkRegion(region); err != nil {
		return Policy{}, 0, err
	}
	p, err := s.store.Policy(ctx, region)
	if err != nil {
		return Policy{}, 0, err
	}
	n, err := s.store.EarlyStarts(ctx, region)
	return p, n, err
}

// importedApproval records the approver an imported history names for a
// start before vetting cleared (the history's approval, made before this
// service recorded approvals itself), in the start date's event as such
// events carried it then.
func importedApproval(o *Offer, ev *eventsv1.Event, approvedBy string, at time.Time) error {
	if approvedBy == "" || !o.SubjectToVetting {
		return nil
	}
	if !auth.WellFormedSubject(approvedBy) {
		return validate.Field("approved_by", "must be the approver's subject id")
	}
	o.ApprovedBy, o.StartApprovedAt = approvedBy, &at
	ev.GetOfferStartDateSet().ApprovedBy = approvedBy
	return nil
}
