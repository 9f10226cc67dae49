package sift

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
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Store is the storage the rules need.
type Store interface {
	// Open stores a new case and its events; if the application already
	// has one it does nothing (a redelivered or late application.submitted).
	Open(ctx context.Context, c *Case, evs ...*eventsv1.Event) error
	// Update loads the case, locked, applies fn, and stores the case, its
	// new history and fn's event in one transaction. A missing case is
	// ErrUnknownCase; fn may return record.ErrUnchanged to store nothing.
	Update(ctx context.Context, applicationID string, fn func(*Case) (*eventsv1.Event, error)) (*Case, error)
	// UpdateIn is Update of a case in one of regions (nil: any): one in
	// another region is ErrUnknownCase, exactly as a missing one.
	UpdateIn(ctx context.Context, applicationID string, regions []string, fn func(*Case) (*eventsv1.Event, error)) (*Case, error)
	// Case returns a case with its history (an error matching
	// record.ErrNotFound if there is none in regions; nil: any region).
	Case(ctx context.Context, applicationID string, regions []string) (*Case, error)
	// Queue lists cases in a state, oldest in that state first.
	Queue(ctx context.Context, f QueueFilter) ([]*Case, error)
	// Mine lists an assignee's open cases, oldest in their stage first.
	Mine(ctx context.Context, f assign.Filter) ([]*Case, error)
}

// QueueFilter selects open cases for a work queue.
type QueueFilter struct {
	State      State
	Regions    []string
	CampaignID string
	After      pagetoken.Key
	Limit      int
}

// Service applies the sift rules for callers.
type Service struct {
	store    Store
	now      func() time.Time
	defaults *assign.Defaults
}

// NewService returns a Service; now is the clock, defaults (nil: none)
// names who a new case in each region is assigned to
// (SIFTING_DEFAULT_ASSIGNEES).
func NewService(store Store, now func() time.Time, defaults *assign.Defaults) *Service {
	return &Service{store: store, now: record.StoredPrecision(now), defaults: defaults}
}

// change runs fn on the case if caller may change cases in its region and,
// when campaignID is set, the case belongs to that campaign.
func (s *Service) change(ctx context.Context, caller auth.Claims, id, campaignID string, expectedVersion int64,
	fn func(*Case, record.Change) (*eventsv1.Event, error)) (*Case, error) {
	ch := record.By(caller, s.now(), expectedVersion)
	return record.UpdateInRegion(ctx, s.store.UpdateIn, caller, id, func(c *Case) (*eventsv1.Event, error) {
		if campaignID != "" && c.CampaignID != campaignID {
			return nil, validate.Field("application_id", "belongs to campaign "+c.CampaignID+", not the batch's campaign")
		}
		return fn(c, ch)
	})
}

// DecideSift records a sift decision. campaignID, when set, must be the
// case's campaign (batches are per campaign).
func (s *Service) DecideSift(ctx context.Context, caller auth.Claims, id, campaignID string, expectedVersion int64, d Decision) (*Case, error) {
	return s.change(ctx, caller, id, campaignID, expectedVersion, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.DecideSift(ch, d)
	})
}

// ScheduleInterview books or moves an interview.
func (s *Service) ScheduleInterview(ctx context.Context, caller auth.Claims, id string, expectedVersion int64, at time.Time) (*Case, error) {
	return s.change(ctx, caller, id, "", expectedVersion, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.ScheduleInterview(ch, at)
	})
}

// RecordInterviewOutcome records an interview's outcome.
func (s *Service) RecordInterviewOutcome(ctx context.Context, caller auth.Claims, id string, expectedVersion int64, d Decision) (*Case, error) {
	return s.change(ctx, caller, id, "", expectedVersion, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.RecordInterviewOutcome(ch, d)
	})
}

// Assign names a case's owner.
func (s *Service) Assign(ctx context.Context, caller auth.Claims, id string, expectedVersion int64, assignee string) (*Case, error) {
	return s.change(ctx, caller, id, "", expectedVersion, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.Assign(ch, assignee)
	})
}

// Unassign removes a case's named owner.
func (s *Service) Unassign(ctx context.Context, caller auth.Claims, id string, expectedVersion int64) (*Case, error) {
	return s.change(ctx, caller, id, "", expectedVersion, func(c *Case, ch record.Change) (*eventsv1.Event, error) {
		return c.Unassign(ch)
	})
}

// Mine lists a page of one assignee's open cases (assign.Page makes f a
// caller's own).
func (s *Service) Mine(ctx context.Context, f assign.Filter) ([]*Case, error) {
	return s.store.Mine(ctx, f)
}

// Case returns a case in one of the caller's regions.
func (s *Service) Case(ctx context.Context, caller auth.Claims, id string) (*Case, error) {
	return record.ReadInRegion(ctx, s.store.Case, caller, id)
}

// Queue lists a work queue.
func (s *Service) Queue(ctx context.Context, f QueueFilter) ([]*Case, error) {
	return s.store.Queue(ctx, f)
}

// Now is the service clock, for days waiting.
func (s *Service) Now() time.Time { return s.now() }

// Consumes names the events HandleEvent acts on: its consumer's filter.
var Consumes = []string{"application.submitted", "application.withdrawn"}

// HandleEvent applies the applications service's events: a submission
// opens a case, a withdrawal closes an open one. A withdrawal that arrives
// before its submission leaves a closed case, which the submission then
// finds and leaves alone.
func (s *Service) HandleEvent(ctx context.Context, ev *eventsv1.Event) error {
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_ApplicationSubmitted:
		h := p.ApplicationSubmitted.GetImported()
		opening := func() (*Case, []*eventsv1.Event, error) {
			c := OpenCase(ev)
			// An imported case with a sift in its history replays it from
			// version 1 first; it gets no default owner (it may well be
			// decided already).
			who := s.defaults.For(c.Region, c.ApplicationID)
			if who == "" || h.GetSift() != nil {
				return c, nil, nil
			}
			ch := record.Change{Actor: event.SystemActor(Producer), At: c.SubmittedAt, ExpectedVersion: c.Version}
			assigned, err := c.Assign(ch, who)
			if err != nil {
				return nil, nil, fmt.Errorf("assign the region's default owner: %w", err)
			}
			return c, []*eventsv1.Event{assigned}, nil
		}
		var steps []imported.Step[*Case]
		if h != nil {
			steps = s.importSteps(ev, h)
		}
		return imported.Open(ctx, ev.GetApplicationId(), opening, s.store.Open, s.store.Update, steps...)
	case *eventsv1.Event_ApplicationWithdrawn:
		at := ev.GetOccurredAt().AsTime()
		_, err := s.store.Update(ctx, ev.GetApplicationId(), func(c *Case) (*eventsv1.Event, error) {
			if !c.Withdraw(ev.GetActor(), at, p.ApplicationWithdrawn.GetReasonCode()) {
				return nil, record.ErrUnchanged
			}
			return nil, nil
		})
		switch {
		case errors.Is(err, ErrUnknownCase):
			c := OpenCase(ev)
			c.History = nil // it was never seen submitted
			c.Withdraw(ev.GetActor(), at, p.ApplicationWithdrawn.GetReasonCode())
			return s.store.Open(ctx, c)
		case errors.Is(err, record.ErrUnchanged):
			return nil
		default:
			return err
		}
	}
	return nil
}

// importSteps are the sift and interview parts of an imported
// application's history, recorded at their historical times and as the
// importer into the case as it opens; interview.passed carries the rest on
// to the offers service.
func (s *Service) importSteps(ev *eventsv1.Event, h *commonv1.ImportedHistory) []imported.Step[*Case] {
	at := func(ts *timestamppb.Timestamp, c *Case) record.Change {
		return record.Change{Actor: ev.GetActor(), At: imported.Time(ts), ExpectedVersion: c.Version}
	}
	outcome := func(passed bool) Outcome {
		if passed {
			return Pass
		}
		return Fail
	}
	// A fail's reason as the list reads it: an import written before the
	// fixed lists (its event still on the stream) may carry any code,
	// which becomes other:<code> rather than failing the case's opening.
	why := func(passed bool, code string, fails *reason.List) string {
		if passed {
			return code
		}
		return fails.Normalize(code)
	}
	var steps []imported.Step[*Case]
	if sift := h.GetSift(); sift != nil {
		steps = append(steps, func(c *Case) (*eventsv1.Event, error) {
			if c.Version != 1 {
				return nil, fmt.Errorf("the case has moved on (version %d) since it was opened", c.Version)
			}
			return c.DecideSift(at(sift.GetDecidedAt(), c), Decision{Outcome: outcome(sift.GetPassed()), ReasonCode: why(sift.GetPassed(), sift.GetReasonCode(), reason.SiftFail)})
		})
	}
	if iv := h.GetInterview(); iv != nil {
		steps = append(steps, func(c *Case) (*eventsv1.Event, error) {
			return c.ScheduleInterview(at(iv.GetBookedAt(), c), iv.GetScheduledFor().AsTime())
		})
		if iv.GetDecidedAt() != nil {
			steps = append(steps, func(c *Case) (*eventsv1.Event, error) {
				out, err := c.RecordInterviewOutcome(at(iv.GetDecidedAt(), c),
					Decision{Outcome: outcome(iv.GetPassed()), ReasonCode: why(iv.GetPassed(), iv.GetReasonCode(), reason.InterviewFail)})
				if passed := out.GetInterviewPassed(); passed != nil {
					passed.Imported = &commonv1.ImportedHistory{Offer: h.GetOffer(), Vetting: h.GetVetting()}
				}
				return out, err
			})
		}
	}
	return steps
}
