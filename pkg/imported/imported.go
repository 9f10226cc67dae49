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
