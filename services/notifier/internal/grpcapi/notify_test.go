package grpcapi_test

import (
	"context"
	"errors"
	"sync"

	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"

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

// TestScriptedDay walks a day of events past the notifier with a scripted
// clock and checks the exact emails: breaches and assignments at once to
// the assignee (or, unassigned or unknown, the region's role mailbox);
// warnings and resolutions in the next morning's digest, in order; a
// person who turned notifications off gets nothing; one who wants a
// digest only gets their breach there; quiet hours hold a breach until
// they end; and a restart with every event delivered again sends nothing
// twice.
func TestScriptedDay(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example", Mode: pb.DeliveryMode_DELIVERY_MODE_IMMEDIATE})
	e.prefs(t, spocLondon2, &pb.SetPreferencesRequest{Email: "spoc2@probation.example", Mode: pb.DeliveryMode_DELIVERY_MODE_OFF})
	e.prefs(t, vettingLondon, &pb.SetPreferencesRequest{Email: "vet1@probation.example", Mode: pb.DeliveryMode_DELIVERY_MODE_DIGEST})
	e.prefs(t, spocWales, &pb.SetPreferencesRequest{Email: "wales1@probation.example", QuietStart: "22:00", QuietEnd: "07:00"})
	e.mailbox(t, "london", pb.MailboxRole_MAILBOX_ROLE_SPOC, "london-spoc@probation.example")
	e.mailbox(t, "london", pb.MailboxRole_MAILBOX_ROLE_VETTING, "london-vetting@probation.example")

	sift, interview, pre := commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_PRE_EMPLOYMENT
	a1, a2, a3, a4, a5, a6, a7, a8 := newApp("london"), newApp("london"), newApp("london"), newApp("london"),
		newApp("london"), newApp("london"), newApp("london"), newApp("london")
	morning := []*eventsv1.Event{
		a1.stuck("stuck.warning", sift, start.Add(-11*day), 10, spocLondon.Subject, start.Add(-time.Hour)),
		a2.stuck("stuck.warning", interview, start.Add(-15*day), 14, spocLondon.Subject, start.Add(-30*time.Minute)),
		a3.stuck("stuck.breach", sift, start.Add(-14*day), 14, spocLondon.Subject, start),
		a4.stuck("stuck.breach", sift, start.Add(-14*day), 14, spocLondon2.Subject, start),
		a5.stuck("stuck.breach", pre, start.Add(-42*day), 42, vettingLondon.Subject, start),
		a6.stuck("stuck.breach", sift, start.Add(-14*day), 14, "", start),
		a7.assigned("sift.assigned", spocLondon.Subject, start),
		a8.assigned("vetting.assigned", "vetting-london-9", start),
	}
	e.publish(t, morning...)
	if n := e.runOnce(t); n != 4 {
		t.Errorf("10:00 sent %d, want 4", n)
	}
	wantEmails(t, e.smtp.take(),
		[2]string{"spoc1@probation.example", "Breach: application " + a3.id + " stuck in SIFT past 14 days"},
		[2]string{"london-spoc@probation.example", "Breach: application " + a6.id + " stuck in SIFT past 14 days"},
		[2]string{"spoc1@probation.example", "Assigned: application " + a7.id + " (sift case)"},
		[2]string{"london-vetting@probation.example", "Assigned: application " + a8.id + " (vetting case)"},
	)

	// 23:00: Wales breaches inside its SPOC's quiet hours; a1 is resolved.
	e.clock.Set(time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC))
	w := newApp("wales")
	e.publish(t,
		w.stuck("stuck.breach", sift, e.clock.Now().Add(-14*day), 14, spocWales.Subject, e.clock.Now()),
		a1.stuck("stuck.resolved", sift, start.Add(-11*day), 10, spocLondon.Subject, e.clock.Now()),
	)
	if n := e.runOnce(t); n != 0 {
		t.Errorf("23:00 sent %d, want none (quiet hours; the rest waits for the digest)", n)
	}

	// A restart, and every morning event delivered again: nothing twice.
	e.restart(t)
	e.republish(t, morning...)
	e.clock.Set(time.Date(2026, 12, 8, 6, 59, 0, 0, time.UTC))
	if n := e.runOnce(t); n != 0 {
		t.Errorf("06:59 after the restart sent %d, want none", n)
	}
	e.clock.Set(time.Date(2026, 12, 8, 7, 0, 0, 0, time.UTC))
	e.runOnce(t)
	wantEmails(t, e.smtp.take(), [2]string{"wales1@probation.example", "Breach: application " + w.id + " stuck in SIFT past 14 days"})

	// 08:00 London: the digests.
	e.clock.Set(time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC))
	e.runOnce(t)
	got := e.smtp.take()
	wantEmails(t, got,
		[2]string{"spoc1@probation.example", "Daily digest: 2 warnings, 1 resolved"},
		[2]string{"vet1@probation.example", "Daily digest: 1 breach"},
	)
	wantInOrder(t, got[0].Body,
		"1. Warning: application "+a1.id+" stuck in SIFT past 10 days",
		"2. Warning: application "+a2.id+" stuck in INTERVIEW past 14 days",
		"3. Resolved: application "+a1.id+" no longer stuck in SIFT",
	)
	wantInOrder(t, got[1].Body, "1. Breach: application "+a5.id+" stuck in PRE_EMPLOYMENT past 42 days")
	for _, m := range got {
		if strings.Contains(m.Body, a4.id) {
			t.Errorf("%s's digest tells of %s, whose assignee turned notifications off", m.To, a4.id)
		}
	}

	// The next day nothing is left.
	e.clock.Set(time.Date(2026, 12, 9, 8, 0, 0, 0, time.UTC))
	if n := e.runOnce(t); n != 0 {
		t.Errorf("the next day sent %d", n)
	}
}

// wantInOrder fails unless body holds each of lines, in that order.
func wantInOrder(t *testing.T, body string, lines ...string) {
	t.Helper()
	at := 0
	for _, l := range lines {
		i := strings.Index(body[at:], l)
		if i < 0 {
			t.Fatalf("body lacks %q after position %d:\n%s", l, at, body)
		}
		at += i + len(l)
	}
}

// TestCrashBetweenSendAndMark: a crash after the SMTP server took a
// message and before the notifier recorded it sent leaves the message to
// be sent again — one more copy, with the same Message-ID, and no more.
func TestCrashBetweenSendAndMark(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example"})
	a := newApp("london")
	e.publish(t, a.stuck("stuck.breach", commonv1.Stage_STAGE_OFFER, start.Add(-10*day), 10, spocLondon.Subject, start))
	e.service().CrashAfterSend(func() error { return errors.New("crash") })
	if _, err := e.service().RunOnce(t.Context()); err == nil {
		t.Fatal("the run that crashed returned no error")
	}
	e.restart(t)
	if n := e.runOnce(t); n != 1 {
		t.Fatalf("after the restart sent %d, want 1", n)
	}
	e.clock.Advance(day)
	e.runOnce(t)
	got := e.smtp.take()
	if len(got) != 2 || got[0].MessageID != got[1].MessageID {
		t.Fatalf("got %d emails %v, want the same message twice (the one sent before the crash, and its resend)", len(got), got)
	}
}

// TestTwoReplicasSendEachMessageOnce: two notifier processes sending at
// the same moment from the same schema send every message once between
// them (each claims a message with FOR UPDATE SKIP LOCKED).
func TestTwoReplicasSendEachMessageOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example"})
	var evs []*eventsv1.Event
	for range 12 {
		evs = append(evs, newApp("london").stuck("stuck.breach", commonv1.Stage_STAGE_SIFT, start.Add(-14*day), 14, spocLondon.Subject, start))
	}
	e.publish(t, evs...)
	replicas := []*notify.Service{e.service(), e.sender(t, prometheus.NewRegistry())}
	sent := make([]int, len(replicas))
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() {
			n, err := r.RunOnce(context.Background())
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
			sent[i] = n
		})
	}
	wg.Wait()
	got := e.smtp.take()
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.MessageID] = true
	}
	if len(got) != 12 || len(ids) != 12 || sent[0]+sent[1] != 12 {
		t.Errorf("%d emails, %d distinct, replicas sent %v; want each of 12 once", len(got), len(ids), sent)
	}
}
