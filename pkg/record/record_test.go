package record_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

type state string

func (s state) Describe() string { return "case is " + string(s) }

const (
	open    state = "OPEN"
	blocked state = "BLOCKED"
	closed  state = "CLOSED"
)

var (
	t0   = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	spoc = auth.Claims{Subject: "spoc-1", Role: auth.RoleSPOC, Regions: []string{"london"}}
)

// opened is a header at version 1, as an event would open it.
func opened() record.Header[state] {
	ev := event.New("applications", event.SystemActor("applications"), t0, event.Record{
		ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london", Role: commonv1.JobRole_JOB_ROLE_OTHER, Version: 1,
	})
	h := record.Opened(ev, open)
	h.Note(record.Change{Actor: ev.GetActor(), At: t0}, open, "application.submitted", "")
	return h
}

func TestBegin(t *testing.T) {
	t.Parallel()
	h := opened()
	tests := []struct {
		name     string
		expected int64
		allowed  []state
		check    func(error) bool
		text     string
	}{
		{"allowed at the current version", 1, []state{blocked, open}, func(err error) bool { return err == nil }, ""},
		{"no version", 0, []state{open}, func(err error) bool {
			var fe *validate.FieldError
			return errors.As(err, &fe) && fe.Field == "expected_version"
		}, ""},
		{"stale version comes before the state", 2, []state{closed}, func(err error) bool { return errors.Is(err, record.ErrStale) },
			"expected version 2, record is at version 1"},
		{"state not allowed", 1, []state{blocked}, func(err error) bool {
			var te *record.TransitionError
			return errors.As(err, &te) && te.State == "OPEN" && te.Action == "unblock"
		}, "cannot unblock: case is OPEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.Begin(record.By(spoc, t0, tt.expected), "unblock", tt.allowed...)
			if !tt.check(err) || (tt.text != "" && (err == nil || !strings.Contains(err.Error(), tt.text))) {
				t.Errorf("Begin = %v", err)
			}
		})
	}
}

func TestMoveAndNote(t *testing.T) {
	t.Parallel()
	h := opened()
	ch := record.By(spoc, t0.Add(time.Hour), 1)
	ev := h.Move("vetting", ch, blocked, "vetting.blocked", "missing_documents")
	if h.State != blocked || h.Version != 2 || !h.StateEnteredAt.Equal(ch.At) {
		t.Errorf("after a move: %s v%d since %v", h.State, h.Version, h.StateEnteredAt)
	}
	if ev.GetProducer() != "vetting" || ev.GetAggregateVersion() != 2 || ev.GetApplicationId() != h.ApplicationID ||
		ev.GetRegion() != "london" || ev.GetActor().GetSubject() != "spoc-1" || !ev.GetOccurredAt().AsTime().Equal(ch.At) {
		t.Errorf("envelope = %v", ev)
	}
	// A change that keeps the state keeps its clock.
	later := record.Change{Actor: ch.Actor, At: t0.Add(2 * time.Hour)}
	h.Note(later, blocked, "vetting.noted", "")
	if h.Version != 3 || !h.StateEnteredAt.Equal(ch.At) {
		t.Errorf("a note in the same state: v%d since %v, want v3 since %v", h.Version, h.StateEnteredAt, ch.At)
	}
	want := []string{"application.submitted/1/", "vetting.blocked/2/missing_documents", "vetting.noted/3/"}
	for i, e := range h.History {
		if got := fmt.Sprintf("%s/%d/%s", e.Event, e.Version, e.ReasonCode); got != want[i] {
			t.Errorf("history[%d] = %s, want %s", i, got, want[i])
		}
	}
}

// stageRecord is a record type, to use UpdateInRegion and ReadInRegion.
type stageRecord struct{ record.Header[state] }

// TestScopes checks that a caller's reads and changes hand the store the
// caller's regions, which the store puts in its query: none of the callers'
// own choosing, and every region for an admin alone.
func TestScopes(t *testing.T) {
	t.Parallel()
	r := &stageRecord{Header: opened()}
	wales := auth.Claims{Subject: "spoc-2", Role: auth.RoleSPOC, Regions: []string{"wales", "north-east"}}
	admin := auth.Claims{Subject: "a", Role: auth.RoleAdmin, Regions: []string{"wales"}}
	none := auth.Claims{Subject: "v", Role: auth.RoleVetting}
	for _, c := range []struct {
		who  auth.Claims
		want []string
	}{{wales, []string{"wales", "north-east"}}, {spoc, []string{"london"}}, {admin, nil}, {none, []string{}}} {
		var gotUpdate, gotRead []string
		update := func(_ context.Context, _ string, regions []string, fn func(*stageRecord) (*eventsv1.Event, error)) (*stageRecord, error) {
			gotUpdate = regions
			_, err := fn(r)
			return r, err
		}
		get := func(_ context.Context, _ string, regions []string) (*stageRecord, error) {
			gotRead = regions
			return r, nil
		}
		ran := false
		if _, err := record.UpdateInRegion(t.Context(), update, c.who, r.ApplicationID, func(*stageRecord) (*eventsv1.Event, error) {
			ran = true
			return nil, nil
		}); err != nil || !ran {
			t.Errorf("%s: UpdateInRegion = %v, ran %v", c.who.Subject, err, ran)
		}
		if _, err := record.ReadInRegion(t.Context(), get, c.who, r.ApplicationID); err != nil {
			t.Errorf("%s: ReadInRegion = %v", c.who.Subject, err)
		}
		for name, got := range map[string][]string{"update": gotUpdate, "read": gotRead} {
			if (got == nil) != (c.want == nil) || !slices.Equal(got, c.want) {
				t.Errorf("%s: %s scope = %#v, want %#v", c.who.Subject, name, got, c.want)
			}
		}
	}
	// The scope is a copy: a store cannot change the caller's claims.
	record.Scope(wales)[0] = "london"
	if wales.Regions[0] != "wales" {
		t.Error("Scope shares the claims' slice")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	notYet := record.NotYet("no case yet: retry shortly")
	if !errors.Is(notYet, record.ErrNotYet) || errors.Is(notYet, record.ErrNotFound) || notYet.Error() != "no case yet: retry shortly" {
		t.Errorf("NotYet = %v", notYet)
	}
	if wrapped := fmt.Errorf("update: %w", notYet); !errors.Is(wrapped, notYet) || !errors.Is(wrapped, record.ErrNotYet) {
		t.Errorf("a wrapped NotYet lost its kind: %v", wrapped)
	}
	refused := record.Refused(closed, "confirm the start").Because("no start date is set")
	if refused.Error() != "cannot confirm the start: case is CLOSED and no start date is set" {
		t.Errorf("Refused = %q", refused)
	}
	if got := record.DaysSince(t0, t0.Add(49*time.Hour)); got != 2 {
		t.Errorf("DaysSince 49h = %d", got)
	}
	if got := record.DaysSince(t0.Add(time.Hour), t0); got != 0 {
		t.Errorf("DaysSince in the future = %d", got)
	}
}
