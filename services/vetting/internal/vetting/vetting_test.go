package vetting

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/eventtest"
	"github.com/probation-recruitment/pipeline/pkg/history"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var (
	// now is when every change in these tests is made.
	now    = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	vetter = &commonv1.Actor{Subject: "vetting-london", Role: commonv1.CallerRole_CALLER_ROLE_VETTING}
	system = &commonv1.Actor{Subject: "system:applications", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM}
	// note is free text about a person that must never leave the service.
	note = "Passport expired 2019; candidate's mother is chasing the Home Office"
)

// start names a status a case can be in; BLOCKED comes twice, blocked
// from OPEN and from FORMS_RECEIVED.
type start struct {
	name   string
	status Status
	resume Status
}

var starts = []start{
	{"OPEN", Open, ""},
	{"FORMS_RECEIVED", FormsReceived, ""},
	{"BLOCKED from OPEN", Blocked, Open},
	{"BLOCKED from FORMS_RECEIVED", Blocked, FormsReceived},
	{"CLEARED", Cleared, ""},
	{"FAILED", Failed, ""},
	{"CLOSED", Closed, ""},
}

// caseIn builds a case in s at version 3 with three history entries.
func caseIn(s start) *Case {
	opened := now.Add(-10 * 24 * time.Hour)
	c := &Case{
		Header: record.Header[Status]{
			ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london", Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER,
			State: s.status, StateEnteredAt: now.Add(-48 * time.Hour), Version: 3,
			History: []history.Entry{
				{Event: "vetting.opened", Actor: system, OccurredAt: opened, Version: 1},
				{Event: "x.two", Actor: vetter, OccurredAt: opened.Add(time.Hour), Version: 2},
				{Event: "x.three", Actor: vetter, OccurredAt: now.Add(-48 * time.Hour), Version: 3},
			},
		},
		Level: commonv1.VettingLevel_VETTING_LEVEL_CTC, OpenedAt: opened,
	}
	if s.status == Blocked {
		since := now.Add(-48 * time.Hour)
		c.ResumeStatus, c.BlockReason, c.BlockNote, c.BlockedSince = s.resume, commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE, note, &since
	}
	if s.status == Failed || s.status == Closed {
		c.ReasonCode = "earlier_reason"
	}
	return c
}

// clone copies c deeply enough to tell whether a method changed it.
func clone(c *Case) Case {
	cp := *c
	cp.History = slices.Clone(c.History)
	if c.BlockedSince != nil {
		since := *c.BlockedSince
		cp.BlockedSince = &since
	}
	return cp
}

func change(v int64) record.Change {
	return record.Change{Actor: vetter, At: now, ExpectedVersion: v}
}

type command struct {
	name  string
	event string
	// to is where the command moves the case from each start it is
	// allowed from, by start name.
	to    map[string]Status
	run   func(c *Case, ch record.Change) (*eventsv1.Event, error)
	check func(t *testing.T, ev *eventsv1.Event, c *Case, from start)
}

// unblocked fails unless c carries no block.
func unblocked(t *testing.T, c *Case) {
	t.Helper()
	if c.BlockReason != commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED || c.BlockNote != "" || c.BlockedSince != nil || c.ResumeStatus != "" {
		t.Errorf("block left behind: reason %s note %q since %v resume %q", c.BlockReason, c.BlockNote, c.BlockedSince, c.ResumeStatus)
	}
}

var commands = []command{
	{
		name: "record forms received", event: "vetting.forms_received", to: map[string]Status{"OPEN": FormsReceived},
		run: func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.RecordFormsReceived(ch) },
		check: func(t *testing.T, ev *eventsv1.Event, _ *Case, _ start) {
			if ev.GetVettingFormsReceived() == nil {
				t.Errorf("payload = %T", ev.GetPayload())
			}
		},
	},
	{
		name: "block", event: "vetting.blocked", to: map[string]Status{"OPEN": Blocked, "FORMS_RECEIVED": Blocked},
		run: func(c *Case, ch record.Change) (*eventsv1.Event, error) {
			return c.Block(ch, commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH, note)
		},
		check: func(t *testing.T, ev *eventsv1.Event, c *Case, from start) {
			want := &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH}
			if !proto.Equal(ev.GetVettingBlocked(), want) {
				t.Errorf("vetting.blocked = %v, want %v", ev.GetVettingBlocked(), want)
			}
			if c.BlockReason != want.Reason || c.BlockNote != note || c.BlockedSince == nil || !c.BlockedSince.Equal(now) || c.ResumeStatus != from.status {
				t.Errorf("case block: reason %s note %q since %v resume %q; want %s, the note, %v, %s", c.BlockReason, c.BlockNote, c.BlockedSince, c.ResumeStatus, want.Reason, now, from.status)
			}
			if got := c.History[len(c.History)-1].ReasonCode; got != "identity_mismatch" {
				t.Errorf("history reason = %q, want identity_mismatch", got)
			}
			b, err := event.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(note)) || bytes.Contains(b, []byte("Passport")) {
				t.Error("the block note is in the event")
			}
		},
	},
	{
		name: "unblock", event: "vetting.unblocked", to: map[string]Status{"BLOCKED from OPEN": Open, "BLOCKED from FORMS_RECEIVED": FormsReceived},
		run: func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Unblock(ch) },
		check: func(t *testing.T, ev *eventsv1.Event, c *Case, _ start) {
			if ev.GetVettingUnblocked() == nil {
				t.Errorf("payload = %T", ev.GetPayload())
			}
			unblocked(t, c)
		},
	},
	{
		name: "clear", event: "vetting.cleared", to: map[string]Status{"FORMS_RECEIVED": Cleared},
		run: func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Clear(ch) },
		check: func(t *testing.T, ev *eventsv1.Event, _ *Case, _ start) {
			if ev.GetVettingCleared() == nil {
				t.Errorf("payload = %T", ev.GetPayload())
			}
		},
	},
	{
		name: "fail", event: "vetting.failed",
		to:  map[string]Status{"OPEN": Failed, "FORMS_RECEIVED": Failed, "BLOCKED from OPEN": Failed, "BLOCKED from FORMS_RECEIVED": Failed},
		run: func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Fail(ch, "adverse_information") },
		check: func(t *testing.T, ev *eventsv1.Event, c *Case, _ start) {
			want := &eventsv1.VettingFailed{ReasonCode: "adverse_information"}
			if !proto.Equal(ev.GetVettingFailed(), want) || c.ReasonCode != "adverse_information" {
				t.Errorf("vetting.failed = %v (case reason %q), want %v", ev.GetVettingFailed(), c.ReasonCode, want)
			}
			unblocked(t, c)
		},
	},
}

// TestTransitions runs every command from every status.
func TestTransitions(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		for _, s := range starts {
			t.Run(cmd.name+" from "+s.name, func(t *testing.T) {
				t.Parallel()
				c := caseIn(s)
				before := clone(c)
				ev, err := cmd.run(c, change(3))
				to, allowed := cmd.to[s.name]
				if !allowed {
					var se *record.TransitionError
					if !errors.As(err, &se) || se.State != string(s.status) || !strings.Contains(err.Error(), string(s.status)) {
						t.Fatalf("err = %v (%T), want a TransitionError naming %s", err, err, s.status)
					}
					if ev != nil || !reflect.DeepEqual(clone(c), before) {
						t.Errorf("refused %s changed the case or emitted %v", cmd.name, ev)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if c.State != to || c.Version != 4 || !c.StateEnteredAt.Equal(now) {
					t.Errorf("case is %s v%d entered %v, want %s v4 entered %v", c.State, c.Version, c.StateEnteredAt, to, now)
				}
				if len(c.History) != 4 {
					t.Fatalf("history has %d entries, want 4", len(c.History))
				}
				if last := c.History[3]; last.Event != cmd.event || last.Version != 4 || !proto.Equal(last.Actor, vetter) || !last.OccurredAt.Equal(now) {
					t.Errorf("last history entry = %+v", last)
				}
				name, err := event.Name(ev)
				if err != nil || name != cmd.event {
					t.Fatalf("event %q (%v), want %s", name, err, cmd.event)
				}
				if ev.GetApplicationId() != c.ApplicationID || ev.GetCampaignId() != c.CampaignID || ev.GetRegion() != "london" ||
					ev.GetRole() != c.Role || ev.GetProducer() != Producer || ev.GetAggregateVersion() != 4 ||
					!proto.Equal(ev.GetActor(), vetter) || !ev.GetOccurredAt().AsTime().Equal(now) {
					t.Errorf("envelope = %v", ev)
				}
				cmd.check(t, ev, c, s)
			})
		}
	}
}

// TestStaleVersionComesFirst: a stale version is reported whatever the
// status; a missing one is a FieldError.
func TestStaleVersionComesFirst(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		for _, s := range starts {
			for _, v := range []int64{1, 2, 4, 99} {
				c := caseIn(s)
				before := clone(c)
				ev, err := cmd.run(c, change(v))
				if !errors.Is(err, record.ErrStale) {
					t.Errorf("%s from %s at expected version %d (case v3): err = %v, want record.ErrStale", cmd.name, s.name, v, err)
				}
				if ev != nil || !reflect.DeepEqual(clone(c), before) {
					t.Errorf("%s from %s with a stale version changed the case", cmd.name, s.name)
				}
			}
			_, err := cmd.run(caseIn(s), change(0))
			wantField(t, cmd.name+" without a version", err, "expected_version")
		}
	}
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var fe *validate.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Errorf("%s: err = %v (%T), want a FieldError on %s", what, err, err, field)
	}
}

// TestValidation feeds bad input from a status where the command is
// allowed, at the right version.
func TestValidation(t *testing.T) {
	t.Parallel()
	block := func(r commonv1.BlockReason, n string) func(*Case, record.Change) (*eventsv1.Event, error) {
		return func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Block(ch, r, n) }
	}
	fail := func(reason string) func(*Case, record.Change) (*eventsv1.Event, error) {
		return func(c *Case, ch record.Change) (*eventsv1.Event, error) { return c.Fail(ch, reason) }
	}
	missing := commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS
	tests := []struct {
		name  string
		from  Status
		run   func(*Case, record.Change) (*eventsv1.Event, error)
		field string
	}{
		{"block without reason", Open, block(commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED, ""), "reason"},
		{"block with an unknown reason", FormsReceived, block(commonv1.BlockReason(42), ""), "reason"},
		{"block with a note of 1001 characters", Open, block(missing, strings.Repeat("n", MaxNoteLen+1)), "note"},
		{"block with a blank note", Open, block(missing, "   "), "note"},
		{"block with a control character in the note", Open, block(missing, "a\x07b"), "note"},
		{"fail without reason", Open, fail(""), "reason_code"},
		{"fail with an upper-case reason", Blocked, fail("Adverse"), "reason_code"},
		{"fail with a spaced reason", FormsReceived, fail("adverse information"), "reason_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := caseIn(start{status: tt.from, resume: Open})
			before := clone(c)
			ev, err := tt.run(c, change(3))
			wantField(t, tt.name, err, tt.field)
			if ev != nil || !reflect.DeepEqual(clone(c), before) {
				t.Errorf("refused change altered the case or emitted %v", ev)
			}
		})
	}
	// The edges that are allowed.
	if _, err := caseIn(starts[0]).Block(change(3), missing, strings.Repeat("n", MaxNoteLen)); err != nil {
		t.Errorf("note of %d characters: %v", MaxNoteLen, err)
	}
	if _, err := caseIn(starts[0]).Block(change(3), missing, strings.Repeat("é", MaxNoteLen)); err != nil {
		t.Errorf("note of %d two-byte characters: %v", MaxNoteLen, err)
	}
	if _, err := caseIn(starts[0]).Block(change(3), missing, ""); err != nil {
		t.Errorf("no note: %v", err)
	}
	for r := range commonv1.BlockReason_name {
		if r == 0 {
			continue
		}
		if _, err := caseIn(starts[0]).Block(change(3), commonv1.BlockReason(r), ""); err != nil {
			t.Errorf("block reason %s: %v", commonv1.BlockReason(r), err)
		}
	}
}

// TestClose: the application or the offer ending closes a case in
// progress, and nothing else.
func TestClose(t *testing.T) {
	t.Parallel()
	for _, s := range starts {
		c := caseIn(s)
		before := clone(c)
		changed := c.Close(system, now, "offer.withdrawn", "post_cancelled")
		if changed != s.status.InProgress() {
			t.Errorf("close from %s changed=%v, want %v", s.name, changed, s.status.InProgress())
		}
		if !changed {
			if !reflect.DeepEqual(clone(c), before) {
				t.Errorf("close of a %s case changed it", s.name)
			}
			continue
		}
		if c.State != Closed || c.Version != 4 || c.ReasonCode != "post_cancelled" || c.History[3].Event != "offer.withdrawn" || c.History[3].ReasonCode != "post_cancelled" {
			t.Errorf("after close from %s: %s v%d %q %+v", s.name, c.State, c.Version, c.ReasonCode, c.History[3])
		}
		unblocked(t, c)
	}
}

func TestDaysBlocked(t *testing.T) {
	t.Parallel()
	since := now
	c := &Case{BlockedSince: &since}
	for _, tt := range []struct {
		at   time.Time
		want int
	}{
		{now.Add(-time.Hour), 0},
		{now, 0},
		{now.Add(24*time.Hour - time.Second), 0},
		{now.Add(24 * time.Hour), 1},
		{now.Add(5*24*time.Hour + 23*time.Hour), 5},
	} {
		if got := c.DaysBlocked(tt.at); got != tt.want {
			t.Errorf("DaysBlocked at %v = %d, want %d", tt.at, got, tt.want)
		}
	}
	if got := (&Case{}).DaysBlocked(now); got != 0 {
		t.Errorf("DaysBlocked of an unblocked case = %d", got)
	}
}

func TestLevels(t *testing.T) {
	t.Parallel()
	bpss, ctc, sc, dv := commonv1.VettingLevel_VETTING_LEVEL_BPSS, commonv1.VettingLevel_VETTING_LEVEL_CTC, commonv1.VettingLevel_VETTING_LEVEL_SC, commonv1.VettingLevel_VETTING_LEVEL_DV
	po, pso, adm, other := commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, commonv1.JobRole_JOB_ROLE_OTHER
	tests := []struct {
		spec string
		want map[commonv1.JobRole]commonv1.VettingLevel
	}{
		{"", map[commonv1.JobRole]commonv1.VettingLevel{po: ctc, pso: ctc, adm: bpss, other: bpss, commonv1.JobRole_JOB_ROLE_UNSPECIFIED: bpss}},
		{"  ", map[commonv1.JobRole]commonv1.VettingLevel{po: ctc, adm: bpss}},
		{"administrator=SC", map[commonv1.JobRole]commonv1.VettingLevel{adm: sc, po: ctc, pso: ctc}},
		{" probation_officer = dv , other=ctc", map[commonv1.JobRole]commonv1.VettingLevel{po: dv, other: ctc, adm: bpss}},
	}
	for _, tt := range tests {
		levels, err := ParseLevels(tt.spec)
		if err != nil {
			t.Errorf("ParseLevels(%q): %v", tt.spec, err)
			continue
		}
		for role, want := range tt.want {
			if got := levels.Level(role); got != want {
				t.Errorf("ParseLevels(%q).Level(%s) = %s, want %s", tt.spec, role, got, want)
			}
		}
	}
	for _, bad := range []string{"administrator", "administrator=", "=SC", "administrator=TOP_SECRET", "astronaut=SC",
		"unspecified=SC", "administrator=unspecified", "administrator=SC,", "administrator:SC"} {
		if _, err := ParseLevels(bad); err == nil || !strings.Contains(err.Error(), "VETTING_LEVELS") {
			t.Errorf("ParseLevels(%q) = %v, want an error naming VETTING_LEVELS", bad, err)
		}
	}
	// The defaults are not shared: an override does not leak into them.
	if _, err := ParseLevels("administrator=DV"); err != nil {
		t.Fatal(err)
	}
	if got := DefaultLevels().Level(adm); got != bpss {
		t.Errorf("default administrator level after an override = %s", got)
	}
}

// TestConsumes: Consumes names exactly the events HandleEvent acts on.
func TestConsumes(t *testing.T) {
	t.Parallel()
	eventtest.WantConsumes(t, Consumes, NewService(nil, time.Now, DefaultLevels(), nil).HandleEvent)
}
