package sift

import (
	"errors"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// verdict is how a command ended.
type verdict string

const (
	accepted   verdict = "accepted"
	invalid    verdict = "invalid"     // a FieldError
	stale      verdict = "stale"       // record.ErrStale
	wrongState verdict = "wrong state" // a TransitionError
	unchanged  verdict = "unchanged"   // a withdrawal of a closed case
)

// model is the state machine written out a second time, as plainly as
// possible, to check Case against.
type model struct {
	state     State
	version   int64
	scheduled bool
	// interviewAt is when the booked interview is.
	interviewAt time.Time
}

func (m *model) open() bool { return m.state == AwaitingSift || m.state == AwaitingInterview }

// apply runs cmd on the model and returns its verdict.
// now is when the command runs, at the interview time it books.
func (m *model) apply(cmd string, expected int64, past bool, now, at time.Time) verdict {
	if cmd == "withdraw" {
		if !m.open() {
			return unchanged
		}
		m.state = Withdrawn
		m.version++
		return accepted
	}
	if past || expected < 1 {
		return invalid
	}
	if expected != m.version {
		return stale
	}
	switch cmd {
	case "sift pass", "sift fail":
		if m.state != AwaitingSift {
			return wrongState
		}
		m.state = SiftFailed
		if cmd == "sift pass" {
			m.state = AwaitingInterview
		}
	case "schedule":
		if m.state != AwaitingInterview {
			return wrongState
		}
		m.scheduled, m.interviewAt = true, at
	case "interview pass", "interview fail":
		// No outcome before the interview's time.
		if m.state != AwaitingInterview || !m.scheduled || now.Before(m.interviewAt) {
			return wrongState
		}
		m.state = InterviewFailed
		if cmd == "interview pass" {
			m.state = InterviewPassed
		}
	}
	m.version++
	return accepted
}

var eventOf = map[string]string{
	"sift pass": "sift.passed", "sift fail": "sift.failed", "schedule": "interview.scheduled",
	"interview pass": "interview.passed", "interview fail": "interview.failed",
}

func verdictOf(t *rapid.T, err error) verdict {
	var fe *validate.FieldError
	var se *record.TransitionError
	switch {
	case err == nil:
		return accepted
	case errors.As(err, &fe):
		return invalid
	case errors.Is(err, record.ErrStale):
		return stale
	case errors.As(err, &se):
		return wrongState
	}
	t.Fatalf("unexpected error %v (%T)", err, err)
	return ""
}

// TestCaseMatchesModel applies random command sequences, with random and
// often stale versions, to a Case and to the model, and requires them to
// agree after every step.
func TestCaseMatchesModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		now := t0
		c := OpenCase(submittedEvent(now))
		m := &model{state: AwaitingSift, version: 1}
		changes := 0
		cmds := []string{"sift pass", "sift fail", "schedule", "interview pass", "interview fail", "withdraw"}
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for i := range steps {
			cmd := rapid.SampledFrom(cmds).Draw(rt, "cmd")
			expected := m.version
			switch rapid.IntRange(0, 9).Draw(rt, "version kind") {
			case 0:
				expected = rapid.Int64Range(-1, 0).Draw(rt, "missing version")
			case 1, 2:
				expected = rapid.Int64Range(1, m.version+3).Filter(func(v int64) bool { return v != m.version }).Draw(rt, "stale version")
			}
			past := cmd == "schedule" && rapid.IntRange(0, 5).Draw(rt, "past") == 0
			now = now.Add(time.Duration(rapid.IntRange(1, 72*60).Draw(rt, "minutes later")) * time.Minute)
			at := now.Add(time.Duration(rapid.IntRange(1, 30*24).Draw(rt, "hours ahead")) * time.Hour)
			if past {
				at = now.Add(-time.Duration(rapid.IntRange(0, 30*24).Draw(rt, "hours ago")) * time.Hour)
			}

			prevState, prevVersion, wasBooked := c.State, c.Version, c.InterviewAt != nil
			want := m.apply(cmd, expected, past, now, at)
			ch := record.Change{Actor: spoc, At: now, ExpectedVersion: expected}
			var ev *eventsv1.Event
			var got verdict
			switch cmd {
			case "sift pass":
				var err error
				ev, err = c.DecideSift(ch, Decision{Outcome: Pass, Score: intp(rapid.IntRange(0, MaxScore).Draw(rt, "score"))})
				got = verdictOf(rt, err)
			case "sift fail":
				var err error
				ev, err = c.DecideSift(ch, Decision{Outcome: Fail, ReasonCode: "insufficient_evidence"})
				got = verdictOf(rt, err)
			case "schedule":
				var err error
				ev, err = c.ScheduleInterview(ch, at)
				got = verdictOf(rt, err)
			case "interview pass":
				var err error
				ev, err = c.RecordInterviewOutcome(ch, Decision{Outcome: Pass})
				got = verdictOf(rt, err)
			case "interview fail":
				var err error
				ev, err = c.RecordInterviewOutcome(ch, Decision{Outcome: Fail, ReasonCode: "below_interview_standard"})
				got = verdictOf(rt, err)
			case "withdraw":
				got = unchanged
				if c.Withdraw(system, now, "candidate_request") {
					got = accepted
				}
			}

			if got != want {
				rt.Fatalf("step %d: %s (expected version %d) from %s v%d: %s, model says %s", i, cmd, expected, prevState, prevVersion, got, want)
			}
			if c.State != m.state || c.Version != m.version {
				rt.Fatalf("step %d: case is %s v%d, model %s v%d", i, c.State, c.Version, m.state, m.version)
			}
			if (c.InterviewAt != nil) != m.scheduled {
				rt.Fatalf("step %d: case booked=%v, model booked=%v", i, c.InterviewAt != nil, m.scheduled)
			}
			if c.Version < prevVersion {
				rt.Fatalf("step %d: version went back from %d to %d", i, prevVersion, c.Version)
			}
			if !(prevState == AwaitingSift || prevState == AwaitingInterview) && c.State != prevState {
				rt.Fatalf("step %d: closed case moved from %s to %s", i, prevState, c.State)
			}
			if got == accepted {
				changes++
				if c.Version != prevVersion+1 {
					rt.Fatalf("step %d: accepted change moved version %d to %d", i, prevVersion, c.Version)
				}
				if cmd != "withdraw" {
					if name, _ := event.Name(ev); name != eventOf[cmd] || ev.GetAggregateVersion() != c.Version {
						rt.Fatalf("step %d: event %q v%d, want %q v%d", i, name, ev.GetAggregateVersion(), eventOf[cmd], c.Version)
					}
				}
				if cmd == "schedule" && ev.GetInterviewScheduled().GetRescheduled() != wasBooked {
					rt.Fatalf("step %d: rescheduled=%v, but an interview was booked before: %v", i, ev.GetInterviewScheduled().GetRescheduled(), wasBooked)
				}
			} else if ev != nil || c.Version != prevVersion {
				rt.Fatalf("step %d: refused %s still emitted %v or moved the version to %d", i, cmd, ev, c.Version)
			}
			if len(c.History) != changes+1 {
				rt.Fatalf("step %d: history has %d entries after %d changes, want %d", i, len(c.History), changes, changes+1)
			}
			if last := c.History[len(c.History)-1]; last.Version != c.Version {
				rt.Fatalf("step %d: last history entry is version %d, case is at %d", i, last.Version, c.Version)
			}
		}
	})
}
