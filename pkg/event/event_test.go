package event

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

func TestNameAndSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ev      *eventsv1.Event
		name    string
		subject string
	}{
		{&eventsv1.Event{Region: "london", Payload: &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}}, "sift.passed", "london.sift.passed"},
		{&eventsv1.Event{Region: "wales", Payload: &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{}}}, "offer.start_date_set", "wales.offer.start_date_set"},
		{&eventsv1.Event{Region: "north-east", Payload: &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}}, "vetting.forms_received", "north-east.vetting.forms_received"},
		{&eventsv1.Event{Region: "london", Payload: &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{}}}, "candidate.started", "london.candidate.started"},
	}
	for _, tt := range tests {
		name, err := Name(tt.ev)
		if err != nil || name != tt.name {
			t.Errorf("Name = %q, %v; want %q", name, err, tt.name)
		}
		subject, err := SubjectSuffix(tt.ev)
		if err != nil || subject != tt.subject {
			t.Errorf("SubjectSuffix = %q, %v; want %q", subject, err, tt.subject)
		}
	}
	if _, err := Name(&eventsv1.Event{}); err == nil {
		t.Error("Name of an event without payload: want an error")
	}
}

func TestNamesCoverDesign(t *testing.T) {
	t.Parallel()
	// docs/design.md §3-4: every stage change is an event.
	want := []string{
		"campaign.created", "campaign.updated", "campaign.status_changed",
		"application.submitted", "application.withdrawn", "application.erased",
		"sift.passed", "sift.failed", "interview.scheduled", "interview.passed", "interview.failed",
		"sift.assigned", "sift.unassigned",
		"offer.made", "offer.accepted", "offer.declined", "offer.withdrawn", "offer.start_date_set", "candidate.started",
		"offer.assigned", "offer.unassigned", "offer.check_recorded",
		"vetting.opened", "vetting.forms_received", "vetting.blocked", "vetting.unblocked", "vetting.cleared", "vetting.failed",
		"vetting.assigned", "vetting.unassigned",
		"stuck.warning", "stuck.breach", "stuck.resolved",
		"offer.early_start_approved", "offer.early_start_policy_set",
	}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v\nwant %v", got, want)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	ev := &eventsv1.Event{
		EventId:       NewID(),
		ApplicationId: NewID(),
		Region:        "london",
		OccurredAt:    timestamppb.Now(),
		Producer:      "test",
		Actor:         &commonv1.Actor{Subject: "u1", Role: commonv1.CallerRole_CALLER_ROLE_SPOC},
		Payload:       &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "no_evidence"}},
	}
	b, err := Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSiftFailed().GetReasonCode() != "no_evidence" || got.GetEventId() != ev.GetEventId() {
		t.Errorf("round trip lost data: %v", got)
	}
	bad := []*eventsv1.Event{
		{EventId: "x", Region: "london", OccurredAt: timestamppb.Now(), Producer: "p", Actor: &commonv1.Actor{}, Payload: ev.Payload},
		{EventId: NewID(), Region: "", OccurredAt: timestamppb.Now(), Producer: "p", Actor: &commonv1.Actor{}, Payload: ev.Payload},
		{EventId: NewID(), Region: "london", Producer: "p", Actor: &commonv1.Actor{}, Payload: ev.Payload},
		{EventId: NewID(), Region: "london", OccurredAt: timestamppb.Now(), Producer: "p", Actor: &commonv1.Actor{}},
	}
	for i, ev := range bad {
		if _, err := Marshal(ev); err == nil {
			t.Errorf("bad[%d]: Marshal succeeded, want an error", i)
		}
	}
	if _, err := Unmarshal([]byte("not a protobuf")); err == nil {
		t.Error("Unmarshal of garbage: want an error")
	}
}

func TestEnvelope(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ev := New("sifting", Actor(auth.Claims{Subject: "spoc-1", Role: auth.RoleSPOC}), at,
		Record{ApplicationID: "a", CampaignID: "c", Region: "wales", Role: commonv1.JobRole_JOB_ROLE_OTHER, Version: 3})
	if ev.GetProducer() != "sifting" || ev.GetActor().GetRole() != commonv1.CallerRole_CALLER_ROLE_SPOC ||
		ev.GetActor().GetSubject() != "spoc-1" || ev.GetAggregateVersion() != 3 || !ev.GetOccurredAt().AsTime().Equal(at) ||
		ev.GetRegion() != "wales" || ev.GetEventId() == "" {
		t.Errorf("envelope = %v", ev)
	}
	if a := SystemActor("offers"); a.GetSubject() != "system:offers" || a.GetRole() != commonv1.CallerRole_CALLER_ROLE_SYSTEM {
		t.Errorf("SystemActor = %v", a)
	}
	if d := Date(at); d.GetYear() != 2026 || d.GetMonth() != 11 || d.GetDay() != 23 {
		t.Errorf("Date = %v", d)
	}
}

func TestBlank(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		ev, ok := Blank(name)
		if got, err := Name(ev); !ok || err != nil || got != name {
			t.Errorf("Blank(%q) names %q (%v, %v)", name, got, ok, err)
		}
	}
	if _, ok := Blank("application.teleported"); ok {
		t.Error("Blank of an unknown name = ok")
	}
}
