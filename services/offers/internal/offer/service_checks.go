package offer

import (
	"context"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/record"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// RecordCheck records a pre-employment check's status. A FAILED check
// withdraws the offer in the same transaction (reason
// check_failed:<check>): the record moves twice, offer.check_recorded then
// offer.withdrawn, or not at all.
func (s *Service) RecordCheck(ctx context.Context, caller auth.Claims, id string, v int64, rec CheckRecord) (*Offer, error) {
	var out *Offer
	err := s.store.Atomically(ctx, func(ctx context.Context) error {
		now := s.now()
		ch := Change{Change: record.By(caller, now, v), Today: s.today(now)}
		o, err := record.UpdateInRegion(ctx, s.store.UpdateIn, caller, id, func(o *Offer) (*eventsv1.Event, error) {
			return o.RecordCheck(ch, rec)
		})
		out = o
		if err != nil || rec.Status != CheckFailed {
			return err
		}
		ch.ExpectedVersion = o.Version
		out, err = record.UpdateInRegion(ctx, s.store.UpdateIn, caller, id, func(o *Offer) (*eventsv1.Event, error) {
			return o.WithdrawForFailedCheck(ch, rec.Condition)
		})
		return err
	})
	return out, err
}
