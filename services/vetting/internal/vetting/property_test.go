package vetting

import (
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// verdict is how a command ended.
type verdict string

const (
	accepted   verdict = "accepted"
	invalid    verdict = "invalid"     // a FieldError
	stale      verdict = "stale"       // record.ErrStale
	wrongState verdict = "wrong state" // a TransitionError
	unchanged  verdict = "unchanged"   // a close of a finished case
)

// model is the case's rules written out a second time, as plainly as
// possible.
type model struct {
	status  Status
	version int64
	// resume is where an unblock returns to.
	resume  Status
	blocked bool
}

func (m *model) apply(cmd string, expected int64, badInput bool) verdict {
	if cmd == "close" {
		if m.status != Open && m.status != FormsReceived && m.status != Blocked {
			return unchanged
		}
		m.status, m.blocked = Closed, false
		m.version++
		return accepted
	}
	if badInput || expected < 1 {
		return invalid
	}
	if expected != m.version {
		return stale
	}
	switch {
	case cmd == "forms" && m.status == Open:
		m.status = FormsReceived
	case cmd == "block" && (m.status == Open || m.status == FormsReceived):
		m.resume, m.status, m.blocked = m.status, Blocked, true
	case cmd == "unblock" && m.status == Blocked:
		m.status, m.blocked = m.resume, false
	case cmd == "clear" && m.status == FormsReceived:
		m.status = Cleared
	case cmd == "fail" && (m.status == Open || m.status == FormsReceived || m.status == Blocked):
		m.status, m.blocked = Failed, false
	default:
		return wrongState
	}
	m.version++
	return accepted
}

// next is the command that moves the case on from where the model is.
func (m *model) next() string {
	switch {
	case m.status == Open && m.version%2 == 1:
		return "forms"
	case m.status == Open:
		return "block"
	case m.status == FormsReceived && m.version%3 == 0:
		return "block"
	case m.status == FormsReceived:
		return "clear"
	case m.status == Blocked:
		return "unblock"
	}
	return "forms"
}

var eventOf = map[string]string{
	"forms": "vetting.forms_received", "block": "vetting.blocked", "unblock": "vetting.unblocked",
	"clear": "vetting.cleared", "fail": "vetting.failed",
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

// TestCaseMatchesModel applies random command sequences (with sometimes
// missing or stale versions, sometimes bad input) and closures to a Case
// and to the model, and requires them to agree after every step. As in
// the store, a refused command's changes are discarded.
func TestCaseMatchesModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		at := now
		c := &Case{Header: record.Header[Status]{ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london",
			Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, State: Open, StateEnteredAt: at},
			Level: commonv1.VettingLevel_VETTING_LEVEL_BPSS, OpenedAt: at}
		c.Move(Producer, record.Change{Actor: event.SystemActor(Producer), At: at}, Open, "vetting.opened", "")
		m := &model{status: Open, version: 1}
		changes := 0
		cmds := []string{"forms", "block", "unblock", "clear", "fail", "close"}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := range steps {
			cmd := rapid.SampledFrom(cmds).Draw(rt, "cmd")
			if rapid.Bool().Draw(rt, "move on") {
				cmd = m.next()
			}
			expected := m.version
			if rapid.Bool().Draw(rt, "tamper") && rapid.Bool().Draw(rt, "tamper more") {
				if rapid.Bool().Draw(rt, "missing") {
					expected = rapid.Int64Range(-1, 0).Draw(rt, "missing version")
				} else {
					expected = rapid.Int64Range(1, m.version+3).Filter(func(v int64) bool { return v != m.version }).Draw(rt, "stale version")
				}
			}
			badInput := (cmd == "block" || cmd == "fail") && rapid.Bool().Draw(rt, "bad") && rapid.Bool().Draw(rt, "really bad")
			at = at.Add(time.Duration(rapid.IntRange(1, 72).Draw(rt, "hours later")) * time.Hour)

			prev := clone(c)
			want := m.apply(cmd, expected, badInput)
			ch := record.Change{Actor: vetter, At: at, ExpectedVersion: expected}
			var ev *eventsv1.Event
			var err error
			got := verdict("")
			switch cmd {
			case "forms":
				ev, err = c.RecordFormsReceived(ch)
			case "block":
				reason, n := rapid.SampledFrom([]commonv1.BlockReason{1, 2, 3, 4, 5, 6}).Draw(rt, "reason"), note
				if badInput {
					if rapid.Bool().Draw(rt, "bad reason") {
						reason = rapid.SampledFrom([]commonv1.BlockReason{0, 7, 99}).Draw(rt, "unknown reason")
					} else {
						n = strings.Repeat("n", MaxNoteLen+1)
					}
				}
				ev, err = c.Block(ch, reason, n)
			case "unblock":
				ev, err = c.Unblock(ch)
			case "clear":
				ev, err = c.Clear(ch)
			case "fail":
				reason := "adverse_information"
				if badInput {
					reason = "Adverse Information"
				}
				ev, err = c.Fail(ch, reason)
			case "close":
				got = unchanged
				if c.Close(system, at, "application.withdrawn", "candidate_request") {
					got = accepted
				}
			}
			if got == "" {
				got = verdictOf(rt, err)
			}

			if got != want {
				rt.Fatalf("step %d: %s (expected version %d, bad input %v) from %s v%d: %s, model says %s", i, cmd, expected, badInput, prev.State, prev.Version, got, want)
			}
			if got != accepted {
				if ev != nil || c.State != prev.State || c.Version != prev.Version || len(c.History) != len(prev.History) {
					rt.Fatalf("step %d: refused %s emitted %v or moved the case to %s v%d", i, cmd, ev, c.State, c.Version)
				}
				*c = prev
			}
			if c.State != m.status || c.Version != m.version {
				rt.Fatalf("step %d: case is %s v%d, model %s v%d", i, c.State, c.Version, m.status, m.version)
			}
			if (c.BlockedSince != nil) != m.blocked || (c.State == Blocked) != m.blocked || (c.BlockNote != "") != m.blocked {
				rt.Fatalf("step %d: case %s blocked since %v note %q, model blocked=%v", i, c.State, c.BlockedSince, c.BlockNote, m.blocked)
			}
			if c.Version < prev.Version {
				rt.Fatalf("step %d: version went back from %d to %d", i, prev.Version, c.Version)
			}
			if got == accepted {
				changes++
				if c.Version != prev.Version+1 {
					rt.Fatalf("step %d: accepted change moved version %d to %d", i, prev.Version, c.Version)
				}
				if name, ok := eventOf[cmd]; ok {
					if got, _ := event.Name(ev); got != name || ev.GetAggregateVersion() != c.Version {
						rt.Fatalf("step %d: event %q v%d, want %q v%d", i, got, ev.GetAggregateVersion(), name, c.Version)
					}
				}
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
