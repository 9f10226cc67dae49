package offer

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
	"github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/record"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Store is the storage the rules need.
type Store interface {
	// Open stores a new record and its events unless the application has
	// one.
	Open(ctx context.Context, o *Offer, evs ...*eventsv1.Event) error
	EarlyStartStore
	// Update loads the record, locked, applies fn, and stores the record,
	// its new history and fn's event in one transaction. A missing record
	// is ErrUnknown; fn may return record.ErrUnchanged to store nothing.
	Update(ctx context.Context, applicationID string, fn func(*Offer) (*eventsv1.Event, error)) (*Offer, error)
	// UpdateIn is Update of a record in one of regions (nil: any): one in
	// another region is ErrUnknown, exactly as a missing one.
	UpdateIn(ctx context.Context, applicationID string, regions []string, fn func(*Offer) (*eventsv1.Event, error)) (*Offer, error)
	// Offer returns a record with its history (an error matching
	// record.ErrNotFound if there is none in regions; nil: any region).
	Offer(ctx context.Context, applicationID string, regions []string) (*Offer, error)
	List(ctx context.Context, f ListFilter) ([]*Offer, error)
	// Mine lists an assignee's open records, oldest in their stage first.
	Mine(ctx context.Context, f assign.Filter) ([]*Offer, error)
	// Atomically runs fn in one transaction (the caller's, if ctx carries
	// one), which the store's writes inside fn join.
	Atomically(ctx context.Context, fn func(context.Context) error) error
}

// ListFilter selects offers, oldest in their status first, after a key.
type ListFilter struct {
	Regions []string
	Status  Status
	After   pagetoken.Key
	Limit   int
}

// Service applies the offer rules for callers and events.
type Service struct {
	store Store
	now   func() time.Time
	local *time.Location
	// defaultDue is how long after a start before vetting clears vetting
	// must clear by, unless the approver gives a date.
	defaultDue time.Duration
	defaults   *assign.Defaults
}

// NewService returns a Service. local is the zone dates are judged in;
// defaults (nil: none) names who a new record in each region is assigned
// to (OFFERS_DEFAULT_ASSIGNEES).
func NewService(store Store, now func() time.Time, local *time.Location, defaultDue time.Duration, defaults *assign.Defaults) *Service {
	return &Service{store: store, now: record.StoredPrecision(now), local: local, defaultDue: defaultDue, defaults: defaults}
}

func (s *Service) change(ctx context.Context, caller auth.Claims, id string, expectedVersion int64, fn func(*Offer, Change) (*eventsv1.Event, error)) (*Offer, error) {
	now := s.now()
	ch := Change{Change: record.By(caller, now, expectedVersion), Today: s.today(now)}
	return record.UpdateInRegion(ctx, s.store.UpdateIn, caller, id, func(o *Offer) (*eventsv1.Event, error) { return fn(o, ch) })
}

// today is the calendar date of t where the service works.
func (s *Service) today(t time.Time) time.Time {
	local := t.In(s.local)
	return time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
}

// Make makes a conditional offer.
func (s *Service) Make(ctx context.Context, caller auth.Claims, id string, v int64, band string, conditions []commonv1.OfferCondition) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Make(ch, band, conditions) })
}

// Accept records acceptance.
func (s *Service) Accept(ctx context.Context, caller auth.Claims, id string, v int64) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Accept(ch) })
}

// Decline records a refusal.
func (s *Service) Decline(ctx context.Context, caller auth.Claims, id string, v int64, reason string) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Decline(ch, reason) })
}

// Withdraw withdraws an offer.
func (s *Service) Withdraw(ctx context.Context, caller auth.Claims, id string, v int64, reason string) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Withdraw(ch, reason) })
}

// SetStartDate sets or moves the start date.
func (s *Service) SetStartDate(ctx context.Context, caller auth.Claims, id string, v int64, plan StartPlan) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) {
		return o.SetStartDate(ch, plan, s.defaultDue)
	})
}

// ConfirmStart records the start: the right to work check must be met, and
// one before vetting clears must pass the region's early start policy
// (admitEarlyStart).
func (s *Service) ConfirmStart(ctx context.Context, caller auth.Claims, id string, v int64) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) {
		ev, err := o.ConfirmStartChecked(ch)
		if err != nil || !o.SubjectToVetting {
			return ev, err
		}
		if err := s.admitEarlyStart(ctx, o.Region); err != nil {
			return nil, err
		}
		return ev, nil
	})
}

// Assign names a record's owner.
func (s *Service) Assign(ctx context.Context, caller auth.Claims, id string, v int64, assignee string) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Assign(ch, assignee) })
}

// Unassign removes a record's named owner.
func (s *Service) Unassign(ctx context.Context, caller auth.Claims, id string, v int64) (*Offer, error) {
	return s.change(ctx, caller, id, v, func(o *Offer, ch Change) (*eventsv1.Event, error) { return o.Unassign(ch) })
}

// Mine lists a page of one assignee's open records (assign.Page makes f
// a caller's own).
func (s *Service) Mine(ctx context.Context, f assign.Filter) ([]*Offer, error) {
	return s.store.Mine(ctx, f)
}

// Offer returns an offer in one of the caller's regions.
func (s *Service) Offer(ctx context.Context, caller auth.Claims, id string) (*Offer, error) {
	return record.ReadInRegion(ctx, s.store.Offer, caller, id)
}

// List lists offers.
func (s *Service) List(ctx context.Context, f ListFilter) ([]*Offer, error) {
	return s.store.List(ctx, f)
}

// Consumes names the events HandleEvent acts on: its consumer's filter.
var Consumes = []string{"interview.passed", "application.withdrawn", "vetting.cleared", "vetting.failed"}

// HandleEvent applies other services' events: interview.passed makes the
// candidate eligible for an offer; application.withdrawn ends an open
// offer; vetting.cleared is noted; vetting.failed withdraws the offer (or
// ends a conditional start) as this service's own offer.withdrawn event.
// An event for a record not yet seen that must not be lost (a withdrawal
// overtaking interview.passed) leaves a closed record behind.
func (s *Service) HandleEvent(ctx context.Context, ev *eventsv1.Event) error {
	switch ev.GetPayload().(type) {
	case *eventsv1.Event_InterviewPassed:
		h := ev.GetInterviewPassed().GetImported()
		opening := func() (*Offer, []*eventsv1.Event, error) {
			o := OpenRecord(ev)
			// An imported record with an offer in its history replays it
			// from version 1 first; it gets no default owner (it may well be
			// finished already).
			who := s.defaults.For(o.Region, o.ApplicationID)
			if who == "" || h.GetOffer() != nil {
				return o, nil, nil
			}
			at := ev.GetOccurredAt().AsTime()
			ch := Change{Change: record.Change{Actor: event.SystemActor(Producer), At: at, ExpectedVersion: o.Version}, Today: s.today(at)}
			assigned, err := o.Assign(ch, who)
			if err != nil {
				return nil, nil, fmt.Errorf("assign the region's default owner: %w", err)
			}
			return o, []*eventsv1.Event{assigned}, nil
		}
		var steps []imported.Step[*Offer]
		if h.GetOffer() != nil {
			steps = s.importSteps(ev, h)
		}
		return imported.Open(ctx, ev.GetApplicationId(), opening, s.store.Open, s.store.Update, steps...)
	case *eventsv1.Event_ApplicationWithdrawn:
		err := s.update(ctx, ev, func(o *Offer) (*eventsv1.Event, error) {
			if !o.ApplicationWithdrawn(ev) {
				return nil, record.ErrUnchanged
			}
			return nil, nil
		})
		// Only a withdrawal that could have overtaken interview.passed (the
		// application was at interview or later) leaves a closed record;
		// earlier ones have nothing here to close.
		if errors.Is(err, ErrUnknown) && ev.GetApplicationWithdrawn().GetStage() >= commonv1.Stage_STAGE_INTERVIEW {
			o := OpenRecord(ev)
			o.History = nil // it was never seen eligible
			o.ApplicationWithdrawn(ev)
			return s.store.Open(ctx, o)
		}
		if errors.Is(err, ErrUnknown) {
			return nil
		}
		return err
	case *eventsv1.Event_VettingCleared:
		return s.update(ctx, ev, func(o *Offer) (*eventsv1.Event, error) {
			if !o.NoteVettingCleared(ev) {
				return nil, record.ErrUnchanged
			}
			return nil, nil
		})
	case *eventsv1.Event_VettingFailed:
		return s.update(ctx, ev, func(o *Offer) (*eventsv1.Event, error) {
			withdrawn := o.VettingFailed(event.SystemActor(Producer), ev.GetOccurredAt().AsTime())
			if withdrawn == nil {
				return nil, record.ErrUnchanged
			}
			return withdrawn, nil
		})
	}
	return nil
}

func (s *Service) update(ctx context.Context, ev *eventsv1.Event, fn func(*Offer) (*eventsv1.Event, error)) error {
	_, err := s.store.Update(ctx, ev.GetApplicationId(), fn)
	if errors.Is(err, record.ErrUnchanged) {
		return nil
	}
	if errors.Is(err, ErrUnknown) && ev.GetApplicationWithdrawn() == nil {
		return nil // vetting news about an application with no offer here: nothing to change
	}
	return err
}

// Now is the service clock.
func (s *Service) Now() time.Time { return s.now() }

// importSteps are the offer part of an imported application's history,
// recorded at its historical times and as the importer into the record as
// it opens; offer.accepted carries the vetting part on. What vetting
// the history says had cleared by a start counts as cleared, since the
// vetting service records it only after the acceptance.
func (s *Service) importSteps(ev *eventsv1.Event, h *commonv1.ImportedHistory) []imported.Step[*Offer] {
	o, vet := h.GetOffer(), h.GetVetting()
	at := func(ts *timestamppb.Timestamp, r *Offer) Change {
		t := imported.Time(ts)
		return Change{Change: record.Change{Actor: ev.GetActor(), At: t, ExpectedVersion: r.Version}, Today: s.today(t)}
	}
	clearedBy := func(ts *timestamppb.Timestamp) bool {
		return vet.GetClearedAt() != nil && !vet.GetClearedAt().AsTime().After(ts.AsTime())
	}
	steps := []imported.Step[*Offer]{func(r *Offer) (*eventsv1.Event, error) {
		if r.Version != 1 {
			return nil, fmt.Errorf("the offer has moved on (version %d) since it was opened", r.Version)
		}
		return r.Make(at(o.GetMadeAt(), r), o.GetSalaryBandCode(), o.GetConditions())
	}}
	switch {
	case o.GetDeclinedAt() != nil:
		steps = append(steps, func(r *Offer) (*eventsv1.Event, error) {
			// As the list reads it: an import written before the fixed
			// lists may carry any code, which becomes other:<code>.
			return r.Decline(at(o.GetDeclinedAt(), r), reason.Decline.Normalize(o.GetDeclineReasonCode()))
		})
	case o.GetAcceptedAt() != nil:
		steps = append(steps, func(r *Offer) (*eventsv1.Event, error) {
			out, err := r.Accept(at(o.GetAcceptedAt(), r))
			if accepted := out.GetOfferAccepted(); accepted != nil {
				accepted.Imported = &commonv1.ImportedHistory{Vetting: vet}
			}
			return out, err
		})
	}
	if o.GetStartDateSetAt() != nil {
		steps = append(steps, func(r *Offer) (*eventsv1.Event, error) {
			r.VettingCleared = clearedBy(o.GetStartDateSetAt())
			plan := StartPlan{Date: event.DateTime(o.GetStartDate()), recorded: true}
			if o.GetVettingDueBy() != nil {
				due := event.DateTime(o.GetVettingDueBy())
				plan.VettingDueBy = &due
			}
			ch := at(o.GetStartDateSetAt(), r)
			ev, err := r.SetStartDate(ch, plan, s.defaultDue)
			if err != nil {
				return nil, err
			}
			return ev, importedApproval(r, ev, o.GetApprovedBy(), ch.At)
		})
	}
	if o.GetStartedAt() != nil {
		steps = append(steps, func(r *Offer) (*eventsv1.Event, error) {
			r.VettingCleared = clearedBy(o.GetStartedAt())
			return r.ConfirmStart(at(o.GetStartedAt(), r))
		})
	}
	return steps
}
