package vetting

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/eventtest"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var reasonCodeRule = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

func caseVersion(c *Case) int64 { return c.Version }

// FuzzCommands runs one command of the vetting API on a case in a status
// the fuzzer picks, with fields the fuzzer picks: refused naming a field
// of the request (or the version, or the status) with the case unchanged,
// or accepted only when the request met the documented rules. A block's
// note is free text about a person: it never reaches the event.
func FuzzCommands(f *testing.F) {
	f.Add(byte(0), byte(0), int32(1), "", "", int64(3))
	f.Add(byte(1), byte(1), int32(2), note, "", int64(3))
	f.Add(byte(1), byte(0), int32(0), "", "", int64(3))
	f.Add(byte(1), byte(0), int32(99), "", "", int64(3))
	f.Add(byte(1), byte(0), int32(-1), "", "", int64(3))
	f.Add(byte(1), byte(0), int32(3), "a\x07b", "", int64(3))
	f.Add(byte(1), byte(0), int32(3), strings.Repeat("é", 1001), "", int64(3))
	f.Add(byte(2), byte(2), int32(0), "", "", int64(3))
	f.Add(byte(3), byte(1), int32(0), "", "", int64(3))
	f.Add(byte(4), byte(3), int32(0), "", "failed_checks", int64(3))
	f.Add(byte(4), byte(3), int32(0), "", "Failed checks", int64(2))
	f.Fuzz(func(t *testing.T, cmd, status byte, reason int32, blockNote, failReason string, expected int64) {
		c := caseIn(starts[int(status)%len(starts)])
		b := clone(c)
		before := &b
		ch := change(expected)
		var ev *eventsv1.Event
		var err error
		switch cmd % 5 {
		case 0:
			ev, err = c.RecordFormsReceived(ch)
			if eventtest.Command(t, before, c, caseVersion, ev, err, "expected_version") && before.State != Open {
				t.Fatalf("forms received on a case that was %s", before.State)
			}
		case 1:
			ev, err = c.Block(ch, commonv1.BlockReason(reason), blockNote)
			if !eventtest.Command(t, before, c, caseVersion, ev, err, "reason", "note", "expected_version") {
				return
			}
			if _, known := commonv1.BlockReason_name[reason]; !known || reason == 0 || (before.State != Open && before.State != FormsReceived) {
				t.Fatalf("blocked a case that was %s with reason %d", before.State, reason)
			}
			if blockNote != "" && (strings.TrimSpace(blockNote) == "" || !utf8.ValidString(blockNote) ||
				utf8.RuneCountInString(blockNote) > MaxNoteLen || strings.IndexFunc(blockNote, unicode.IsControl) >= 0) {
				t.Fatalf("accepted note %q", blockNote)
			}
			if ev.GetVettingBlocked().GetReason() != commonv1.BlockReason(reason) || c.BlockNote != blockNote {
				t.Fatalf("blocked for %d with note %q; recorded %v, %q", reason, blockNote, ev.GetVettingBlocked().GetReason(), c.BlockNote)
			}
			if wire, _ := event.Marshal(ev); len(blockNote) >= 4 && bytes.Contains(wire, []byte(blockNote)) {
				t.Fatalf("the note %q is in the event", blockNote)
			}
		case 2:
			ev, err = c.Unblock(ch)
			if !eventtest.Command(t, before, c, caseVersion, ev, err, "expected_version") {
				return
			}
			if before.State != Blocked || c.State != before.ResumeStatus || c.BlockNote != "" || c.BlockedSince != nil {
				t.Fatalf("unblocked a case that was %s (resume %s) to %s, note %q", before.State, before.ResumeStatus, c.State, c.BlockNote)
			}
		case 3:
			ev, err = c.Clear(ch)
			if eventtest.Command(t, before, c, caseVersion, ev, err, "expected_version") && before.State != FormsReceived {
				t.Fatalf("cleared a case that was %s", before.State)
			}
		case 4:
			ev, err = c.Fail(ch, failReason)
			if !eventtest.Command(t, before, c, caseVersion, ev, err, "reason_code", "expected_version") {
				return
			}
			if !reasonCodeRule.MatchString(failReason) || !before.State.InProgress() || c.BlockNote != "" {
				t.Fatalf("failed a case that was %s with reason %q (note left %q)", before.State, failReason, c.BlockNote)
			}
		}
	})
}
