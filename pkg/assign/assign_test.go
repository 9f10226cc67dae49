package assign_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/assign"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, wantErr string
	}{
		{"", ""},
		{" london = vcp-1 , vcp-2 ; wales=vcp-3 ;", ""},
		{"london", `"london": want region=subject,subject`},
		{"atlantis=vcp-1", `"atlantis": unknown region`},
		{"london=vcp-1;london=vcp-2", `"london": region given twice`},
		{"london=jane@justice.example", "region london: must be a staff subject id, not an email address"},
		{"london=system:vetting", "region london: must be a staff subject id, not a service's"},
		{"london=Jane Smith", "region london: must be a staff subject id (letters"},
		{"london=vcp-1,", "region london: is required"},
	} {
		d, err := assign.ParseDefaults(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseDefaults(%q) = %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseDefaults(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
		case tt.wantErr == "" && tt.in != "" && d.For("london", "01a23c15-553d-7ba4-a5b8-315df40fc5bd") == "":
			t.Errorf("ParseDefaults(%q): no default for london", tt.in)
		}
	}
}

// TestDefaultsSpreadAndRepeat: every default owner of a region gets
// records, the same application always goes to the same one, and a region
// without owners (or no defaults at all) leaves records unassigned.
func TestDefaultsSpreadAndRepeat(t *testing.T) {
	t.Parallel()
	d, err := assign.ParseDefaults("london=vcp-1,vcp-2,vcp-3")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i := range 300 {
		id := "01a23c15-553d-7ba4-a5b8-" + strings.Repeat("0", 9) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + "f"
		who := d.For("london", id)
		if who != d.For("london", id) {
			t.Fatalf("application %s assigned to %s, then someone else", id, who)
		}
		got[who]++
	}
	for _, who := range []string{"vcp-1", "vcp-2", "vcp-3"} {
		if got[who] < 50 {
			t.Errorf("%s got %d of 300 records: %v", who, got[who], got)
		}
	}
	if who := d.For("wales", "x"); who != "" {
		t.Errorf("wales has no default owners but got %q", who)
	}
	var none *assign.Defaults
	if who := none.For("london", "x"); who != "" {
		t.Errorf("no defaults, got %q", who)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		assignee, want string
	}{
		{"spoc-london-2", ""},
		{"0b1c2d3e|idp", ""},
		{"", "is required"},
		{"jo.bloggs@justice.gov.uk", "not an email address"},
		{"jo@localhost", "not an email address"},
		{"System:sifting", "not a service's"},
		{"Jo Bloggs", "letters, digits"},
		{"spoc-1\nspoc-2", "letters, digits"},
		{strings.Repeat("a", 256), "at most 255"},
	} {
		err := assign.Check("assignee", tt.assignee)
		var fe *validate.FieldError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%q) = %v", tt.assignee, err)
		case tt.want != "" && (!errors.As(err, &fe) || fe.Field != "assignee" || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Check(%q) = %v, want a field error on assignee saying %q", tt.assignee, err, tt.want)
		}
	}
}

type state string

func (s state) Describe() string { return "record is " + string(s) }

const (
	open   state = "OPEN"
	closed state = "CLOSED"
)

type rec struct {
	record.Header[state]
	owner string
}

var (
	t0   = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	spoc = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
)

func opened() *rec {
	ev := event.New("applications", event.SystemActor("applications"), t0, event.Record{
		ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london", Role: commonv1.JobRole_JOB_ROLE_OTHER, Version: 1,
	})
	r := &rec{Header: record.Opened(ev, open)}
	r.Note(record.Change{Actor: ev.GetActor(), At: t0}, open, "application.submitted", "")
	return r
}

// TestAssignAndUnassign: naming an owner moves the version on and keeps
// the state and its clock; naming the same one again, unassigning an
// unowned record, a stale version, a closed record and a bad assignee are
// refused and change nothing.
func TestAssignAndUnassign(t *testing.T) {
	t.Parallel()
	r := opened()
	at := t0.Add(time.Hour)
	ev, previous, err := assign.Assign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 1), "spoc-london-2", "sift.assigned", open)
	if err != nil || previous != "" || r.owner != "spoc-london-2" || r.Version != 2 || !r.StateEnteredAt.Equal(t0) {
		t.Fatalf("assign: %v, previous %q, owner %q v%d since %v", err, previous, r.owner, r.Version, r.StateEnteredAt)
	}
	if ev.GetProducer() != "sifting" || ev.GetAggregateVersion() != 2 || ev.GetActor().GetSubject() != spoc.Subject ||
		r.History[1].Event != "sift.assigned" {
		t.Errorf("event = %v, history = %v", ev, r.History)
	}
	ev, previous, err = assign.Assign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 2), "spoc-london-3", "sift.assigned", open)
	if err != nil || previous != "spoc-london-2" || ev.GetAggregateVersion() != 3 {
		t.Fatalf("reassign: %v, previous %q", err, previous)
	}
	refusals := []struct {
		name string
		try  func() error
		want string
	}{
		{"the same owner", func() error {
			_, _, err := assign.Assign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 3), "spoc-london-3", "sift.assigned", open)
			return err
		}, "cannot assign: record is OPEN and it is already assigned to spoc-london-3"},
		{"a stale version", func() error {
			_, _, err := assign.Unassign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 2), "sift.unassigned", open)
			return err
		}, "expected version 2, record is at version 3"},
		{"an email address", func() error {
			_, _, err := assign.Assign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 3), "jo@example.org", "sift.assigned", open)
			return err
		}, "assignee"},
		{"a closed record", func() error {
			_, _, err := assign.Assign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 3), "spoc-london-4", "sift.assigned", closed)
			return err
		}, "cannot assign: record is OPEN"},
	}
	for _, tt := range refusals {
		if err := tt.try(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		if r.owner != "spoc-london-3" || r.Version != 3 {
			t.Errorf("%s changed the record: %q v%d", tt.name, r.owner, r.Version)
		}
	}
	ev, previous, err = assign.Unassign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 3), "sift.unassigned", open)
	if err != nil || previous != "spoc-london-3" || r.owner != "" || ev.GetAggregateVersion() != 4 {
		t.Fatalf("unassign: %v, previous %q, owner %q", err, previous, r.owner)
	}
	_, _, err = assign.Unassign(&r.Header, &r.owner, "sifting", record.By(spoc, at, 4), "sift.unassigned", open)
	var te *record.TransitionError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "no assignee") {
		t.Errorf("unassign an unowned record: %v", err)
	}
}
