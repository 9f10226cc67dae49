package record

import (
	"errors"
	"fmt"
)

// The error taxonomy every service shares. Domain packages return these (or
// values that match them with errors.Is); pkg/apistatus gives each its
// status code, so a service's own error mapping holds only what is its own.
var (
	// ErrStale: the caller's expected version is not the record's version;
	// the caller must read the record again (Aborted).
	ErrStale = errors.New("stale version")
	// ErrNotYet: the record a change names does not exist here yet — the
	// event that creates it may still be on its way (FailedPrecondition:
	// retrying shortly is the remedy).
	ErrNotYet = errors.New("not yet")
	// ErrNotFound: there is no such record to read (NotFound).
	ErrNotFound = errors.New("not found")
	// ErrUnchanged, returned by an update function, stores nothing; it
	// never reaches a caller.
	ErrUnchanged = errors.New("unchanged")
)

// StaleError is ErrStale with both versions, so the caller knows to re-read.
func StaleError(expected, actual int64) error {
	return fmt.Errorf("%w: expected version %d, record is at version %d", ErrStale, expected, actual)
}

// kindError is an error with its own message that matches one of the
// sentinels above.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// NotYet returns an error matching ErrNotYet that says msg, e.g. which
// event the caller should wait for.
func NotYet(msg string) error { return &kindError{kind: ErrNotYet, msg: msg} }

// NotFound returns an error matching ErrNotFound that says msg.
func NotFound(msg string) error { return &kindError{kind: ErrNotFound, msg: msg} }

// TransitionError is a change the record's state machine does not allow
// from its current state (FailedPrecondition, naming the state).
type TransitionError struct {
	// State is the record's current state.
	State string
	// Action is what the caller tried, e.g. "record a sift decision".
	Action string
	// Why, if set, is the rule that refused it beyond the state itself.
	Why string
	// said is how the state reads in a sentence ("case is AWAITING_SIFT").
	said string
}

func (e *TransitionError) Error() string {
	if e.Why != "" {
		return fmt.Sprintf("cannot %s: %s and %s", e.Action, e.said, e.Why)
	}
	return fmt.Sprintf("cannot %s: %s", e.Action, e.said)
}

// Refused returns the TransitionError for action in state s.
func Refused[S State](s S, action string) *TransitionError {
	return &TransitionError{State: string(s), Action: action, said: s.Describe()}
}

// Because adds the rule that refused the change.
func (e *TransitionError) Because(why string) *TransitionError {
	e.Why = why
	return e
}
