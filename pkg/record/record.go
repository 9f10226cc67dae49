// Package record is the part every stage record shares (a sift case, an
// offer, a vetting case): which application it is about, its state and
// since when, its version, and its history; the checks every change makes
// (the caller's version, the states the change is allowed from, the
// caller's region) and the bookkeeping every change does (a new version, a
// history entry, an event envelope). It also defines the error taxonomy
// every service shares.
//
// It imports no storage or transport: pkg/recordstore keeps records in
// PostgreSQL, pkg/apistatus turns the errors into gRPC statuses. It also
// holds the two time rules every stage record follows (DaysSince,
// StoredPrecision).
package record

import (
	"context"
	"slices"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// State is a record's state type: a string code that can say itself in a
// sentence, for the error that names it ("case is AWAITING_SIFT").
type State interface {
	~string
	Describe() string
}

// Header is embedded by each stage record.
type Header[S State] struct {
	ApplicationID string
	CampaignID    string
	Region        string
	Role          commonv1.JobRole
	State         S
	// StateEnteredAt is when the record entered State: the clock of time
	// in stage, which a change that keeps the state does not reset.
	StateEnteredAt time.Time
	// Version counts the record's changes; events carry it as
	// aggregate_version.
	Version int64
	History []history.Entry
}

// Head returns the header, for code that handles any record (the store).
func (h *Header[S]) Head() *Header[S] { return h }

// Opened returns the header of a record opened by ev (another service's
// event), at version 0 and in state s since ev occurred; the opener then
// notes or moves it to version 1.
func Opened[S State](ev *eventsv1.Event, s S) Header[S] {
	return Header[S]{
		ApplicationID: ev.GetApplicationId(), CampaignID: ev.GetCampaignId(), Region: ev.GetRegion(), Role: ev.GetRole(),
		State: s, StateEnteredAt: ev.GetOccurredAt().AsTime(),
	}
}

// Change is who makes a change, when, and the version they last read.
type Change struct {
	Actor           *commonv1.Actor
	At              time.Time
	ExpectedVersion int64
}

// By is the change a caller makes now, having read expectedVersion.
func By(caller auth.Claims, at time.Time, expectedVersion int64) Change {
	return Change{Actor: event.Actor(caller), At: at, ExpectedVersion: expectedVersion}
}

// Begin checks what every change by a caller needs: the version the caller
// read (a stale one is reported before the state), and that the record is
// in one of the allowed states.
func (h *Header[S]) Begin(ch Change, action string, allowed ...S) error {
	if err := validate.ExpectedVersion(ch.ExpectedVersion); err != nil {
		return err
	}
	if ch.ExpectedVersion != h.Version {
		return StaleError(ch.ExpectedVersion, h.Version)
	}
	if !slices.Contains(allowed, h.State) {
		return Refused(h.State, action)
	}
	return nil
}

// Note records a change with no event of the record's own (one another
// service published): it enters state s (if it differs), bumps the version
// and adds a history entry named name.
func (h *Header[S]) Note(ch Change, s S, name, reason string) {
	if s != h.State {
		h.State, h.StateEnteredAt = s, ch.At
	}
	h.Version++
	h.History = append(h.History, history.Entry{Event: name, Actor: ch.Actor, OccurredAt: ch.At, Version: h.Version, ReasonCode: reason})
}

// Move is Note for a change the record's owner publishes: it returns the
// event's envelope (producer, who, when, which record, the new version);
// the caller sets its payload.
func (h *Header[S]) Move(producer string, ch Change, s S, name, reason string) *eventsv1.Event {
	h.Note(ch, s, name, reason)
	return event.New(producer, ch.Actor, ch.At, event.Record{
		ApplicationID: h.ApplicationID, CampaignID: h.CampaignID, Region: h.Region, Role: h.Role, Version: h.Version,
	})
}

// Update is a store's locked update: load the record, apply fn, and store
// the record, its new history and fn's event in one transaction. A missing
// record is an error matching ErrNotYet; fn may return ErrUnchanged to
// store nothing.
type Update[R any] func(ctx context.Context, applicationID string, fn func(R) (*eventsv1.Event, error)) (R, error)

// Headed is a stage record: it embeds a Header.
type Headed[S State] interface {
	Head() *Header[S]
}

// Scope is the regions a caller's reads and changes of single records
// reach, for a store to put in its query: nil for an admin (every region),
// otherwise the caller's regions (never nil, so a caller with none reaches
// nothing).
func Scope(caller auth.Claims) []string {
	if caller.Role == auth.RoleAdmin {
		return nil
	}
	return append([]string{}, caller.Regions...)
}

// ScopedUpdate is Update limited to records in regions (nil: every
// region): a record in another region is missing to it, with the very
// error of a record that does not exist.
type ScopedUpdate[R any] func(ctx context.Context, applicationID string, regions []string, fn func(R) (*eventsv1.Event, error)) (R, error)

// ScopedGet reads a record in regions (nil: every region); a record in
// another region is missing to it, as with ScopedUpdate.
type ScopedGet[R any] func(ctx context.Context, applicationID string, regions []string) (R, error)

// UpdateInRegion runs fn on the record applicationID under the store's
// lock, if the record is in a region caller may change. The region is a
// condition of the store's query, not a check after it: a record in
// another region answers exactly as one that does not exist, so a caller
// cannot learn that an id exists elsewhere (docs/security.md).
func UpdateInRegion[R any](ctx context.Context, update ScopedUpdate[R], caller auth.Claims, applicationID string,
	fn func(R) (*eventsv1.Event, error)) (R, error) {
	return update(ctx, applicationID, Scope(caller), fn)
}

// ReadInRegion reads the record applicationID if it is in a region caller
// may see; otherwise it is missing, as in UpdateInRegion.
func ReadInRegion[R any](ctx context.Context, get ScopedGet[R], caller auth.Claims, applicationID string) (R, error) {
	return get(ctx, applicationID, Scope(caller))
}

// DaysSince is the whole days from since to now (0 if since is later).
func DaysSince(since, now time.Time) int {
	if now.Before(since) {
		return 0
	}
	return int(now.Sub(since) / (24 * time.Hour))
}

// StoredPrecision makes a clock tell time as the stores keep it (to the
// microsecond, in UTC), so a response shows the same times a later read
// does.
func StoredPrecision(now func() time.Time) func() time.Time {
	return func() time.Time { return now().UTC().Truncate(time.Microsecond) }
}
