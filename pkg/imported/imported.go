// Package imported records an imported application's history in a stage's
// owner (ApplicationsService.ImportApplications): each step goes through
// the owner's own rules at its historical time, so the owner publishes the
// events a live change would have.
package imported

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/record"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Step changes a record by the owner's rules and returns the change's event.
type Step[R any] func(R) (*eventsv1.Event, error)

// Apply runs steps in order. A step the rules refuse — which the import's
// validation is there to prevent — is logged and ends the history there:
// the owner keeps the steps before it rather than losing the application.
// Any other error (the database) is returned, for the event to be retried.
func Apply[R any](ctx context.Context, applicationID string, update record.Update[R], steps ...Step[R]) error {
	for i, step := range steps {
		var refused error
		_, err := update(ctx, applicationID, func(r R) (*eventsv1.Event, error) {
			ev, err := step(r)
			refused = err
			return ev, err
		})
		if refused != nil && errors.Is(err, refused) {
			slog.WarnContext(ctx, "imported history refused by the rules; recorded the steps before it",
				"application_id", applicationID, "step", i+1, "of", len(steps), "error", refused)
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Time is a history time, or the zero time when unset.
func Time(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// Open opens a record together with its imported history: opening gives
// the record as it opens and its opening events, the steps are applied to
// it in memory, and open stores it once with every step's events — one
// write for the whole history rather than a locked read and a write per
// step. A step the rules refuse leaves the record half-changed: it is
// then opened afresh from opening and the steps applied a change at a
// time (Apply), which keeps those before the refusal and logs it. A
// record opened before (a redelivered event) is left alone by open.
func Open[R any](ctx context.Context, applicationID string, opening func() (R, []*eventsv1.Event, error),
	open func(context.Context, R, ...*eventsv1.Event) error, update record.Update[R], steps ...Step[R]) error {
	r, evs, err := opening()
	if err != nil {
		return err
	}
	for _, step := range steps {
		ev, err := step(r)
		if err != nil {
			if r, evs, err = opening(); err != nil {
				return err
			}
			if err := open(ctx, r, evs...); err != nil {
				return err
			}
			return Apply(ctx, applicationID, update, steps...)
		}
		if ev != nil {
			evs = append(evs, ev)
		}
	}
	return open(ctx, r, evs...)
}
