package sift

import (
	"regexp"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/eventtest"
	"github.com/probation-recruitment/pipeline/pkg/record"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// reasonCodeRule is docs/design.md's reason code, written out again.
var reasonCodeRule = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

func caseVersion(c *Case) int64 { return c.Version }

// fuzzCase is a case in one of the states a decision can meet, at version
// 1 or more, opened at t0.
func fuzzCase(state byte) *Case {
	c := OpenCase(submittedEvent(t0))
	st := starts[int(state)%len(starts)]
	c.State = st.state
	if st.scheduled {
		at := t0.Add(48 * time.Hour)
		c.InterviewAt = &at
	}
	return c
}

// FuzzDecisions runs one command of the sifting API on a case in a state
// the fuzzer picks, with fields the fuzzer picks: whatever it is given, a
// command never panics, is refused naming a field of the request (or the
// version or the state) and changes nothing, or is accepted only when the
// request met the documented rules (docs/design.md, the sifting service).
func FuzzDecisions(f *testing.F) {
	f.Add(byte(0), byte(0), "PASS", true, int32(70), "", int64(1), int64(0))
	f.Add(byte(0), byte(0), "FAIL", false, int32(0), "insufficient_evidence", int64(1), int64(0))
	f.Add(byte(0), byte(0), "FAIL", true, int32(101), "", int64(1), int64(0))
	f.Add(byte(0), byte(0), "pass", true, int32(-1), "Bad Code", int64(2), int64(0))
	f.Add(byte(1), byte(2), "PASS", false, int32(0), "", int64(1), int64(time.Hour))
	f.Add(byte(1), byte(2), "PASS", false, int32(0), "", int64(1), int64(-1))
	f.Add(byte(1), byte(2), "PASS", false, int32(0), "", int64(1), int64(1<<62))
	f.Add(byte(2), byte(3), "FAIL", false, int32(0), "no_show", int64(1), int64(0))
	f.Add(byte(2), byte(3), "PASS", true, int32(50), "", int64(1), int64(0))
	f.Add(byte(2), byte(2), "PASS", false, int32(0), "", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, cmd, state byte, outcome string, scored bool, score int32, reason string, expected, at int64) {
		c := fuzzCase(state)
		b := clone(c)
		before := &b
		now := t0.Add(24 * time.Hour)
		ch := record.Change{Actor: spoc, At: now, ExpectedVersion: expected}
		d := Decision{Outcome: Outcome(outcome), ReasonCode: reason}
		if scored {
			n := int(score)
			d.Score = &n
		}
		var ev *eventsv1.Event
		var err error
		switch cmd % 3 {
		case 0:
			ev, err = c.DecideSift(ch, d)
			if !eventtest.Command(t, before, c, caseVersion, ev, err, "outcome", "reason_code", "score", "expected_version") {
				return
			}
			checkDecision(t, d, true)
			want := map[Outcome]State{Pass: AwaitingInterview, Fail: SiftFailed}[d.Outcome]
			if before.State != AwaitingSift || c.State != want {
				t.Fatalf("sift decision %s moved %s to %s", d.Outcome, before.State, c.State)
			}
			if d.Outcome == Fail && ev.GetSiftFailed().GetReasonCode() != reason {
				t.Fatalf("sift.failed carries reason %q, want %q", ev.GetSiftFailed().GetReasonCode(), reason)
			}
		case 1:
			when := now.Add(time.Duration(at))
			ev, err = c.ScheduleInterview(ch, when)
			if !eventtest.Command(t, before, c, caseVersion, ev, err, "scheduled_for", "expected_version") {
				return
			}
			if !when.After(now) || before.State != AwaitingInterview || c.State != AwaitingInterview {
				t.Fatalf("booked an interview at %v, now %v, in state %s", when, now, before.State)
			}
			if !c.InterviewAt.Equal(when) || !ev.GetInterviewScheduled().GetScheduledFor().AsTime().Equal(when) {
				t.Fatalf("booked %v, recorded %v, published %v", when, c.InterviewAt, ev.GetInterviewScheduled().GetScheduledFor().AsTime())
			}
		case 2:
			ev, err = c.RecordInterviewOutcome(ch, d)
			if !eventtest.Command(t, before, c, caseVersion, ev, err, "outcome", "reason_code", "score", "expected_version") {
				return
			}
			checkDecision(t, d, false)
			want := map[Outcome]State{Pass: InterviewPassed, Fail: InterviewFailed}[d.Outcome]
			if before.State != AwaitingInterview || before.InterviewAt == nil || c.State != want {
				t.Fatalf("interview outcome %s moved %s (booked %v) to %s", d.Outcome, before.State, before.InterviewAt, c.State)
			}
		}
	})
}

// checkDecision fails unless an accepted decision met the rules: PASS or
// FAIL; a FAIL has a reason code, a PASS none or a valid one; a score,
// only at the sift, is 0-100.
func checkDecision(t *testing.T, d Decision, scored bool) {
	t.Helper()
	switch {
	case d.Outcome != Pass && d.Outcome != Fail:
		t.Fatalf("accepted outcome %q", d.Outcome)
	case d.Outcome == Fail && !reasonCodeRule.MatchString(d.ReasonCode):
		t.Fatalf("accepted FAIL with reason %q", d.ReasonCode)
	case d.ReasonCode != "" && !reasonCodeRule.MatchString(d.ReasonCode):
		t.Fatalf("accepted reason %q", d.ReasonCode)
	case d.Score != nil && (!scored || *d.Score < 0 || *d.Score > MaxScore):
		t.Fatalf("accepted score %d (scored %v)", *d.Score, scored)
	}
}
