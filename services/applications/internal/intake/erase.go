package intake

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// The reasons a candidate's personal data is erased (docs/design.md §8,
// Erasure); application.erased carries one.
const (
	// ErasureRequested: the candidate exercised the right to erasure.
	ErasureRequested = "right_to_erasure"
	// ErasureRetention: the retention period ran out (the retention job,
	// or an administrator applying the controller's policy early).
	ErasureRetention = "retention"
)

// ErasureReasons lists every reason EraseCandidate accepts.
var ErasureReasons = []string{ErasureRequested, ErasureRetention}

// Erased reports whether the candidate's personal data has been erased.
func (a *Application) Erased() bool { return a.ErasedAt != nil }

// erase replaces the candidate's personal data with nothing and returns
// application.erased. What stays is what the statistics need and holds no
// personal data: ids, region, role, stage and its dates, codes, and the
// subjects of the staff who acted.
func (a *Application) erase(by *commonv1.Actor, at time.Time, reason string) *eventsv1.Event {
	a.Candidate = Candidate{}
	a.ErasedAt, a.ErasureReason = &at, reason
	a.Version++
	ev := applicationEvent(by, a, at)
	ev.Payload = &eventsv1.Event_ApplicationErased{ApplicationErased: &eventsv1.ApplicationErased{ReasonCode: reason}}
	return ev
}

// Erase erases the personal data of application id's candidate (admins
// only; the transport checks the role). Erasing an erased application
// changes nothing and returns it as it is, whatever the reason given, so a
// second request (or one racing the retention job) answers the same.
func (s *Service) Erase(ctx context.Context, caller auth.Claims, id, reason string) (*Application, error) {
	if !slices.Contains(ErasureReasons, reason) {
		return nil, validate.Field("reason_code", "must be one of "+strings.Join(ErasureReasons, ", "))
	}
	a, _, err := s.erase(ctx, event.Actor(caller), id, reason, func(*Application) bool { return true })
	return a, err
}

// erase erases application id, under the record's lock, if due says it
// should; it reports whether it did. Only admins and the retention job
// erase, and they may in every region.
func (s *Service) erase(ctx context.Context, by *commonv1.Actor, id, reason string, due func(*Application) bool) (*Application, bool, error) {
	erased := false
	a, err := s.store.UpdateApplication(ctx, id, nil, func(a *Application) ([]*eventsv1.Event, error) {
		if a.Erased() || !due(a) {
			return nil, nil
		}
		erased = true
		return []*eventsv1.Event{a.erase(by, s.now(), reason)}, nil
	})
	return a, erased && err == nil, err
}

// RetentionPolicy is how long candidates' personal data is kept after the
// outcome of their application. The defaults are the ones the issue asked
// for; the controller (the probation service) sets the real ones.
type RetentionPolicy struct {
	// AfterEnd: after the application was rejected or withdrawn (the
	// candidate withdrew, declined, or the offer was withdrawn).
	AfterEnd time.Duration
	// AfterStart: after a hired candidate's start was confirmed.
	AfterStart time.Duration
}

// DefaultRetention: 183 days (6 months) after a rejection or withdrawal,
// 730 days (24 months) after the start.
var DefaultRetention = RetentionPolicy{AfterEnd: 183 * 24 * time.Hour, AfterStart: 730 * 24 * time.Hour}

// RetentionCutoff is the newest outcome time that is due for erasure at
// one moment.
type RetentionCutoff struct {
	// EndedBy: rejected or withdrawn at or before this time.
	EndedBy time.Time
	// StartedBy: hired (start confirmed) at or before this time.
	StartedBy time.Time
}

// Cutoff is what p makes due at now.
func (p RetentionPolicy) Cutoff(now time.Time) RetentionCutoff {
	return RetentionCutoff{EndedBy: now.Add(-p.AfterEnd), StartedBy: now.Add(-p.AfterStart)}
}

// Due reports whether a's personal data has outlived the cutoff. The
// outcome's time is when the application entered its final stage, as the
// stage's owner reported it (its event's time); an application still in
// the pipeline is never due. A hired candidate whose vetting then failed
// is WITHDRAWN from that moment, and due AfterEnd after it.
func (c RetentionCutoff) Due(a *Application) bool {
	if a.Erased() {
		return false
	}
	switch a.Stage {
	case StageRejected, StageWithdrawn:
		return !a.StageEnteredAt.After(c.EndedBy)
	case StageHired:
		return !a.StageEnteredAt.After(c.StartedBy)
	}
	return false
}

// RetentionStore finds the applications a cutoff makes due.
type RetentionStore interface {
	// DueForRetention returns up to limit ids of applications, not yet
	// erased, whose outcome is at or before the cutoff.
	DueForRetention(ctx context.Context, c RetentionCutoff, limit int) ([]string, error)
}

// RetentionActor is who erases in the retention job's events.
const RetentionActor = "system:retention"

// ApplyRetention erases, through the same path as EraseCandidate (reason
// "retention"), up to limit candidates the policy makes due now, each in
// its own transaction, and returns how many it erased. A record that has
// moved on since it was found (a hired candidate withdrawn) is checked
// again under its lock.
func (s *Service) ApplyRetention(ctx context.Context, rs RetentionStore, p RetentionPolicy, limit int) (int, error) {
	cut := p.Cutoff(s.now())
	ids, err := rs.DueForRetention(ctx, cut, limit)
	if err != nil {
		return 0, err
	}
	by := &commonv1.Actor{Subject: RetentionActor, Role: commonv1.CallerRole_CALLER_ROLE_ADMIN}
	erased := 0
	for _, id := range ids {
		_, done, err := s.erase(ctx, by, id, ErasureRetention, cut.Due)
		switch {
		case errors.Is(err, record.ErrNotFound):
			continue
		case err != nil:
			return erased, err
		case done:
			erased++
		}
	}
	return erased, nil
}
