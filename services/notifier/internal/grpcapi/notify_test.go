package grpcapi_test

import (
	"strings"
	"testing"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
)

const day = 24 * time.Hour

// TestBreachEmailsTheAssignee: the thin slice end to end. reporting
// publishes stuck.breach naming an assignee; the notifier's consumer
// records it; the sender emails the assignee's address once, over a real
// SMTP conversation, with the facts of the case and the event id as its
// Message-ID.
func TestBreachEmailsTheAssignee(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example"})
	a := newApp("london")
	e.publish(t, a.campaignCreated("London probation officers, winter 2026", start.Add(-40*day)))
	since := start.Add(-14 * day)
	breach := a.stuck("stuck.breach", commonv1.Stage_STAGE_SIFT, since, 14, spocLondon.Subject, start)
	e.publish(t, breach)

	if n := e.runOnce(t); n != 1 {
		t.Fatalf("sent %d messages, want 1", n)
	}
	got := e.smtp.take()
	wantEmails(t, got, [2]string{"spoc1@probation.example", "Breach: application " + a.id + " stuck in SIFT past 14 days"})
	m := got[0]
	if m.From != "notifier@probation.example" {
		t.Errorf("envelope from %q", m.From)
	}
	if m.MessageID != "<"+breach.GetEventId()+"@probation.example>" {
		t.Errorf("Message-ID %q, want the event id", m.MessageID)
	}
	for _, want := range []string{
		"This case has passed its breach threshold and needs action.",
		"Application: " + a.id,
		"Campaign:    London probation officers, winter 2026 (" + a.campaign + ")",
		"Role:        probation officer",
		"Stage:       SIFT",
		"Rule:        time in stage",
		"Days:        14 (since 23 Nov 2026)",
		"Threshold:   14 days",
		"Due:         7 Dec 2026",
		"Owner:       spoc-london-1",
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
	if strings.Contains(m.Body, "Candidate:") {
		t.Errorf("body names a candidate with no contacts configured:\n%s", m.Body)
	}

	// Nothing is due again: the message is marked sent.
	e.clock.Advance(time.Hour)
	if n := e.runOnce(t); n != 0 {
		t.Errorf("second run sent %d", n)
	}
	if got := e.smtp.take(); len(got) != 0 {
		t.Errorf("second run: %d more emails", len(got))
	}
}
