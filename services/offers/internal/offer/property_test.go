package offer

import (
	"errors"
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
	unchanged  verdict = "unchanged"   // an event that changes nothing
)

// model is the offer's rules written out a second time, as plainly as
// possible. Dates are whole days from the first day.
type model struct {
	status   Status
	version  int64
	today    int
	cleared  bool
	hasStart bool
	start    int
	subject  bool // the start was set before vetting cleared
	approved bool
}

// step is one drawn command with its inputs.
type step struct {
	cmd      string
	expected int64
	badInput bool // a malformed band, conditions or reason
	offset   int  // start date, days from today
	approver bool // the region's early start policy is on
}

func (m *model) apply(s step) verdict {
	// Events from other services carry no version.
	switch s.cmd {
	case "application withdrawn":
		if m.status != AwaitingOffer && m.status != Made && m.status != Accepted {
			return unchanged
		}
		m.status = Withdrawn
		m.version++
		return accepted
	case "vetting cleared":
		if m.cleared {
			return unchanged
		}
		m.cleared = true
		m.version++
		return accepted
	case "vetting failed":
		if m.status != Made && m.status != Accepted && m.status != Started {
			return unchanged
		}
		m.status = Withdrawn
		m.version++
		return accepted
	}
	// Input checked before the record is looked at.
	if s.badInput || (s.cmd == "set start" && s.offset < 0) {
		return invalid
	}
	if s.expected < 1 {
		return invalid
	}
	if s.expected != m.version {
		return stale
	}
	from := map[string][]Status{
		"make": {AwaitingOffer}, "accept": {Made}, "decline": {Made}, "withdraw": {Made, Accepted},
		"set start": {Accepted}, "confirm": {Accepted}, "approve": {Accepted},
	}[s.cmd]
	allowed := false
	for _, f := range from {
		allowed = allowed || f == m.status
	}
	if !allowed {
		return wrongState
	}
	switch s.cmd {
	case "make":
		m.status = Made
	case "accept":
		m.status = Accepted
	case "decline":
		m.status = Declined
	case "withdraw":
		m.status = Withdrawn
	case "set start":
		m.hasStart, m.start, m.subject, m.approved = true, m.today+s.offset, !m.cleared, false
	case "approve":
		if m.cleared || !m.hasStart || !m.subject || m.approved || !s.approver {
			return wrongState
		}
		m.approved = true
	case "confirm":
		if !m.hasStart || m.start > m.today || (!m.cleared && !m.approved) {
			return wrongState
		}
		m.status = Started
	}
	m.version++
	return accepted
}

// next is the command that moves the offer on from where the model is.
func (m *model) next() string {
	switch {
	case m.status == AwaitingOffer:
		return "make"
	case m.status == Made:
		return "accept"
	case m.status == Accepted && !m.hasStart:
		return "set start"
	case m.status == Accepted && !m.cleared && !m.approved:
		return "approve"
	case m.status == Accepted && m.start > m.today && m.version%2 == 0:
		return "confirm" // too early: refused
	case m.status == Accepted && m.start > m.today:
		return "next day"
	case m.status == Accepted:
		return "confirm"
	case m.status == Started && !m.cleared:
		return "vetting cleared"
	}
	return "next day"
}

var eventOf = map[string]string{
	"make": "offer.made", "accept": "offer.accepted", "decline": "offer.declined", "withdraw": "offer.withdrawn",
	"set start": "offer.start_date_set", "confirm": "candidate.started", "vetting failed": "offer.withdrawn",
	"approve": "offer.early_start_approved",
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

// TestOfferMatchesModel applies random sequences of commands (with
// sometimes missing or stale versions, sometimes bad input) and events
// from other services to an Offer and to the model, and requires them to
// agree after every step. As in the store, a refused command's changes
// are discarded: the next step starts from the offer as it was.
func TestOfferMatchesModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		at := now
		o := OpenRecord(passedEvent(at))
		m := &model{status: AwaitingOffer, version: 1}
		changes := 0
		cmds := []string{"make", "accept", "decline", "withdraw", "set start", "approve", "confirm", "next day",
			"application withdrawn", "vetting cleared", "vetting failed"}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := range steps {
			s := step{cmd: rapid.SampledFrom(cmds).Draw(rt, "cmd"), expected: m.version}
			// Half the time take the step that moves the offer on, so that
			// sequences reach the start as well as wander.
			if rapid.Bool().Draw(rt, "move on") {
				s.cmd = m.next()
			}
			if s.cmd == "next day" {
				at = at.Add(24 * time.Hour)
				m.today++
				continue
			}
			if rapid.Bool().Draw(rt, "tamper") && rapid.Bool().Draw(rt, "tamper more") {
				if rapid.Bool().Draw(rt, "missing") {
					s.expected = rapid.Int64Range(-1, 0).Draw(rt, "missing version")
				} else {
					s.expected = rapid.Int64Range(1, m.version+3).Filter(func(v int64) bool { return v != m.version }).Draw(rt, "stale version")
				}
			}
			s.badInput = rapid.Bool().Draw(rt, "bad") && rapid.Bool().Draw(rt, "really bad") && rapid.Bool().Draw(rt, "truly bad") &&
				s.cmd != "accept" && s.cmd != "confirm" && s.cmd != "set start" && s.cmd != "approve"
			s.offset = rapid.IntRange(-1, 2).Draw(rt, "start offset")
			s.approver = !(rapid.Bool().Draw(rt, "no approver") && rapid.Bool().Draw(rt, "really no approver"))

			prev := clone(o)
			want := m.apply(s)
			day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
			ch := Change{Change: record.Change{Actor: spoc, At: at, ExpectedVersion: s.expected}, Today: day}
			band, conds, reason := "band_3", []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}, "candidate_request"
			if s.badInput {
				band, conds, reason = "Band 3", nil, "Not A Code"
			}
			var ev *eventsv1.Event
			var err error
			got := verdict("")
			switch s.cmd {
			case "make":
				ev, err = o.Make(ch, band, conds)
			case "accept":
				ev, err = o.Accept(ch)
			case "decline":
				// A decline's reason is from the decline list.
				declined := reason
				if declined == "candidate_request" {
					declined = "no_reason_given"
				}
				ev, err = o.Decline(ch, declined)
			case "withdraw":
				ev, err = o.Withdraw(ch, reason)
			case "set start":
				ev, err = o.SetStartDate(ch, StartPlan{Date: day.AddDate(0, 0, s.offset)}, period)
			case "approve":
				ev, err = o.ApproveEarlyStart(ch, Policy{Region: o.Region, Enabled: s.approver, Cap: 1})
			case "confirm":
				ev, err = o.ConfirmStart(ch)
			case "application withdrawn":
				got = unchanged
				if o.ApplicationWithdrawn(withdrawnEvent(o, at)) {
					got = accepted
				}
			case "vetting cleared":
				got = unchanged
				if o.NoteVettingCleared(clearedEvent(o, at)) {
					got = accepted
				}
			case "vetting failed":
				got = unchanged
				if ev = o.VettingFailed(event.SystemActor(Producer), at); ev != nil {
					got = accepted
				}
			}
			if got == "" {
				got = verdictOf(rt, err)
			}

			if got != want {
				rt.Fatalf("step %d: %s (expected version %d, %+v) from %s v%d: %s, model says %s", i, s.cmd, s.expected, s, prev.State, prev.Version, got, want)
			}
			if got != accepted {
				if ev != nil || o.State != prev.State || o.Version != prev.Version || len(o.History) != len(prev.History) {
					rt.Fatalf("step %d: refused %s emitted %v or moved the offer to %s v%d", i, s.cmd, ev, o.State, o.Version)
				}
				*o = prev // what the store keeps of a refused change
			}
			if o.State != m.status || o.Version != m.version || o.VettingCleared != m.cleared {
				rt.Fatalf("step %d: offer is %s v%d cleared=%v, model %s v%d cleared=%v", i, o.State, o.Version, o.VettingCleared, m.status, m.version, m.cleared)
			}
			if o.Version < prev.Version {
				rt.Fatalf("step %d: version went back from %d to %d", i, prev.Version, o.Version)
			}
			if got == accepted {
				changes++
				if o.Version != prev.Version+1 {
					rt.Fatalf("step %d: accepted change moved version %d to %d", i, prev.Version, o.Version)
				}
				if name, ok := eventOf[s.cmd]; ok {
					if got, _ := event.Name(ev); got != name || ev.GetAggregateVersion() != o.Version {
						rt.Fatalf("step %d: event %q v%d, want %q v%d", i, got, ev.GetAggregateVersion(), name, o.Version)
					}
				}
			}
			if len(o.History) != changes+1 {
				rt.Fatalf("step %d: history has %d entries after %d changes, want %d", i, len(o.History), changes, changes+1)
			}
			if last := o.History[len(o.History)-1]; last.Version != o.Version {
				rt.Fatalf("step %d: last history entry is version %d, offer is at %d", i, last.Version, o.Version)
			}
		}
	})
}
