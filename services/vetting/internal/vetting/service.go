package vetting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/imported"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/record"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Store is the storage the rules need.
type Store interface {
	// Open stores a new case and its events unless the application has a
	// case already (a redelivered offer.accepted).
	Open(ctx context.Context, c *Case, evs ...*eventsv1.Event) error
	// Update loads the case, locked, applies fn, and stores the case, its
	// new history and fn's event in one transaction. A missing case is
	// ErrUnknown; fn may return record.ErrUnchanged to store nothing.
	Update(ctx context.Context, applicationID string, fn func(*Case) (*eventsv1.Event, error)) (*Case, error)
	// UpdateIn is Update of a case in one of regions (nil: any): one in
	// another region is ErrUnknown, exactly as a missing one.
	UpdateIn(ctx context.Context, applicationID string, regions []string, fn func(*Case) (*eventsv1.Event, error)) (*Case, error)
	// Case returns a case with its history (an error matching
	// record.ErrNotFound if there is none in regions; nil: any region).
	Case(ctx context.Context, applicationID string, regions []string) (*Case, error)
	// List lists cases oldest in their status first; with Status Blocked,
	// longest blocked first.
	List(ctx context.Context, f ListFilter) ([]*Case, error)
	// Mine lists an assignee's cases in progress, oldest in their status
	// first.
	Mine(ctx context.Context, f assign.Filter) ([]*Case, error)
}

// ListFilter selects cases after a key.
type ListFilter struct {
	Regions []string
	Status  Status
	After   pagetoken.Key
	Limit   int
}

// Service applies the vetting rules for callers and events.
type Service struct {
	store    Store
	now      func() time.Time
	levels   Levels
	defaults *assign.Defaults
}

// NewService returns a Service; defaults (nil: none) names who a new
// case in each region is assigned to.
func NewService(store Store, now func() time.Time, levels Levels, defaults *assign.Defaults) *Service {
	return &Service{store: store, now: record.StoredPrecision(now), levels: levels, defaults: defaults}
}

func (s *Service) change(ctx context.Context, caller auth.Claims, id string, v int64, fn func(*Case, record.Change) (*eventsv1.Event, error)) (*Case, error) {
	ch := record.By(caller, s.now(), v)
	return record.UpdateInRegion(ctx, s.store.UpdateIn, caller, id, func(c *Case) (*eventsv1.Event, error) { return fn(c, ch) })
}

// RecordFormsReceived notes the forms arrived.
func (s *Service) RecordFormsReceived(ctx context.Context, caller auth.Claims, id string, v int64) (*Case, error) {
	return s.change(ctx, caller, id, v, func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.RecordFormsReceived(ch) })
}

// Block blocks a case.
func (s *Service) Block(ctx context.Context, caller auth.Claims, id string, v int64, reason commonv1.BlockReason, note string) (*Case, error) {
	return s.change(ctx, caller, id, v, func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Block(ch, reason, note) })
}

// Unblock clears a block.
func (s *Service) Unblock(ctx context.Context, caller auth.Claims, id string, v int64) (*Case, error) {
	return s.change(ctx, caller, id, v, func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Unblock(ch) })
}

// Clear records that vetting passed.
func (s *Service) Clear(ctx context.Context, caller auth.Claims, id string, v int64) (*Case, error) {
	return s.change(ctx, caller, id, v, func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Clear(ch) })
}

// Fail records that vetting failed.
func (s *Service) Fail(ctx context.Context, caller auth.Claims, id string, v int64, reason string) (*Case, error) {
	return s.change(ctx, caller, id, v, func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Fail(ch, reason) })
}

// Assign names a case's owner.
func (s *Service) Assign(ctx context.Context, caller auth.Claims, id string, v int64, assignee string) (*Case, error) {
	return s.change(ctx, caller, id, v, func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Assign(ch, assignee) })
}

// Unassign removes a case's named owner.
func (s *Service) Unassign(ctx context.Context, caller auth.Claims, id string, v int64) (*Case, error) {
	return s.change(ctx, caller, id, v, func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Unassign(ch) })
}

// Mine lists a page of one assignee's cases in progress (assign.Page
// makes f a caller's own).
func (s *Service) Mine(ctx context.Context, f assign.Filter) ([]*Case, error) {
	return s.store.Mine(ctx, f)
}

// Case returns a case in one of the caller's regions.
func (s *Service) Case(ctx context.Context, caller auth.Claims, id string) (*Case, error) {
	return record.ReadInRegion(ctx, s.store.Case, caller, id)
}

// List lists cases.
func (s *Service) List(ctx context.Context, f ListFilter) ([]*Case, error) {
	return s.store.List(ctx, f)
}

// Now is the service clock.
func (s *Service) Now() time.Time { return s.now() }

// Consumes names the events HandleEvent acts on: its consumer's filter.
var Consumes = []string{"offer.accepted", "offer.withdrawn", "application.withdrawn", "application.erased"}

// HandleEvent applies other services' events: offer.accepted opens a case
// (and publishes vetting.opened); application.withdrawn, or the offer
// being withdrawn for any reason but failed vetting, closes a case in
// progress; application.erased removes the case's free text about the
// candidate.
func (s *Service) HandleEvent(ctx context.Context, ev *eventsv1.Event) error {
	at := ev.GetOccurredAt().AsTime()
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_OfferAccepted:
		vet := p.OfferAccepted.GetImported().GetVetting()
		opening := func() (*Case, []*eventsv1.Event, error) {
			c := s.opened(ev)
			opened := c.Move(Producer, record.Change{Actor: event.SystemActor(Producer), At: at}, Open, "vetting.opened", "")
			opened.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{Level: c.Level}}
			evs := []*eventsv1.Event{opened}
			// An imported case replays its history from version 1 first; it
			// gets no default owner (it may well be finished already).
			if who := s.defaults.For(c.Region, c.ApplicationID); who != "" && vet == nil {
				assigned, err := c.Assign(record.Change{Actor: event.SystemActor(Producer), At: at, ExpectedVersion: c.Version}, who)
				if err != nil {
					return nil, nil, fmt.Errorf("assign the region's default owner: %w", err)
				}
				evs = append(evs, assigned)
			}
			return c, evs, nil
		}
		var steps []imported.Step[*Case]
		if vet != nil {
			steps = s.importSteps(ev, vet)
		}
		return imported.Open(ctx, ev.GetApplicationId(), opening, s.store.Open, s.store.Update, steps...)
	case *eventsv1.Event_ApplicationWithdrawn:
		return s.close(ctx, ev, "application.withdrawn", p.ApplicationWithdrawn.GetReasonCode())
	case *eventsv1.Event_ApplicationErased:
		return s.erase(ctx, ev)
	case *eventsv1.Event_OfferWithdrawn:
		if p.OfferWithdrawn.GetReasonCode() == "vetting_failed" {
			return nil // our own failure, already recorded
		}
		return s.close(ctx, ev, "offer.withdrawn", p.OfferWithdrawn.GetReasonCode())
	}
	return nil
}

func (s *Service) close(ctx context.Context, ev *eventsv1.Event, name, reason string) error {
	_, err := s.store.Update(ctx, ev.GetApplicationId(), func(c *Case) (*eventsv1.Event, error) {
		if !c.Close(ev.GetActor(), ev.GetOccurredAt().AsTime(), name, reason) {
			return nil, record.ErrUnchanged
		}
		return nil, nil
	})
	switch {
	case errors.Is(err, ErrUnknown) && name == "application.withdrawn" &&
		ev.GetApplicationWithdrawn().GetStage() >= commonv1.Stage_STAGE_OFFER:
		// The withdrawal may have overtaken offer.accepted (they come from
		// different services; the application was at offer or later): leave
		// a closed case, which the late acceptance finds.
		c := s.opened(ev)
		c.Close(ev.GetActor(), c.OpenedAt, name, reason)
		return s.store.Open(ctx, c)
	case errors.Is(err, record.ErrUnchanged), errors.Is(err, ErrUnknown):
		return nil // nothing in progress to close
	}
	return err
}

// erase removes the free text of the application's case. With no case
// there is nothing to remove: a case opened later (offer.accepted after
// the erasure) starts with none.
func (s *Service) erase(ctx context.Context, ev *eventsv1.Event) error {
	_, err := s.store.Update(ctx, ev.GetApplicationId(), func(c *Case) (*eventsv1.Event, error) {
		if !c.Erase(ev.GetActor(), ev.GetOccurredAt().AsTime()) {
			return nil, record.ErrUnchanged
		}
		return nil, nil
	})
	if errors.Is(err, record.ErrUnchanged) || errors.Is(err, ErrUnknown) {
		return nil
	}
	return err
}

// opened is the case ev opens (at version 0: its opener records how).
func (s *Service) opened(ev *eventsv1.Event) *Case {
	return &Case{Header: record.Opened(ev, Open), Level: s.levels.Level(ev.GetRole()), OpenedAt: ev.GetOccurredAt().AsTime()}
}

// importSteps are an imported application's vetting history, recorded at
// its historical times and as the importer into the case as it opens:
// forms received before a block or after it is lifted, then the outcome.
func (s *Service) importSteps(ev *eventsv1.Event, v *commonv1.ImportedVetting) []imported.Step[*Case] {
	at := func(ts *timestamppb.Timestamp, c *Case) record.Change {
		return record.Change{Actor: ev.GetActor(), At: imported.Time(ts), ExpectedVersion: c.Version}
	}
	forms := func(c *Case) (*eventsv1.Event, error) { return c.RecordFormsReceived(at(v.GetFormsReceivedAt(), c)) }
	var steps []imported.Step[*Case]
	if v.GetBlockedAt() == nil {
		if v.GetFormsReceivedAt() != nil {
			steps = append(steps, forms)
		}
	} else {
		formsFirst := v.GetFormsReceivedAt() != nil && !v.GetFormsReceivedAt().AsTime().After(v.GetBlockedAt().AsTime())
		if formsFirst {
			steps = append(steps, forms)
		}
		steps = append(steps, func(c *Case) (*eventsv1.Event, error) {
			return c.Block(at(v.GetBlockedAt(), c), v.GetBlockReason(), "")
		})
		if v.GetUnblockedAt() != nil {
			steps = append(steps, func(c *Case) (*eventsv1.Event, error) { return c.Unblock(at(v.GetUnblockedAt(), c)) })
		}
		if !formsFirst && v.GetFormsReceivedAt() != nil {
			steps = append(steps, forms)
		}
	}
	switch {
	case v.GetClearedAt() != nil:
		steps = append(steps, func(c *Case) (*eventsv1.Event, error) { return c.Clear(at(v.GetClearedAt(), c)) })
	case v.GetFailedAt() != nil:
		steps = append(steps, func(c *Case) (*eventsv1.Event, error) {
			return c.Fail(at(v.GetFailedAt(), c), v.GetFailReasonCode())
		})
	}
	if len(steps) == 0 {
		return nil
	}
	first := steps[0]
	steps[0] = func(c *Case) (*eventsv1.Event, error) {
		if c.Version != 1 {
			return nil, fmt.Errorf("the case has moved on (version %d) since it was opened", c.Version)
		}
		return first(c)
	}
	return steps
}
