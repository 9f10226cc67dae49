package e2e

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	notifierv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// email is one message the test's SMTP server received.
type email struct {
	rcpts   []string
	subject string
	body    string
}

// mailServer is a real SMTP server (go-smtp) on loopback, in plain text
// and without sign-in as a local mail catcher is, that keeps what it
// receives.
type mailServer struct {
	addr string
	mu   sync.Mutex
	got  []email
}

type mailSession struct {
	s     *mailServer
	rcpts []string
}

func (s *mailSession) Reset()                               { s.rcpts = nil }
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

// Data parses the message: its subject decoded, its quoted-printable
// body decoded with CRLF as LF.
func (s *mailSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	s.s.got = append(s.s.got, email{rcpts: s.rcpts, subject: subject, body: strings.ReplaceAll(string(body), "\r\n", "\n")})
	return nil
}

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	ms := &mailServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{s: ms}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ms
}

// to returns the messages received for the address, in order.
func (ms *mailServer) to(address string) []email {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []email
	for _, e := range ms.got {
		for _, r := range e.rcpts {
			if r == address {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

func (ms *mailServer) count() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return len(ms.got)
}

// waitFor waits until address has received n messages and returns them.
func (ms *mailServer) waitFor(t *testing.T, address string, n int) []email {
	t.Helper()
	var got []email
	testenv.Eventually(t, fmt.Sprintf("%d emails to %s", n, address), func() (bool, string) {
		got = ms.to(address)
		return len(got) >= n, fmt.Sprintf("%d: %v", len(got), got)
	})
	if len(got) != n {
		t.Fatalf("%s received %d emails, want %d: %v", address, len(got), n, got)
	}
	return got
}

// stuckEvents are the application's stuck events on the stream, by name.
func (s *stack) stuckEvents(t *testing.T, applicationID string) map[string][]*eventsv1.StuckChanged {
	t.Helper()
	out := map[string][]*eventsv1.StuckChanged{}
	for _, ev := range s.events(t, applicationID) {
		name, _ := event.Name(ev)
		switch p := ev.GetPayload().(type) {
		case *eventsv1.Event_StuckWarning:
			out[name] = append(out[name], p.StuckWarning)
		case *eventsv1.Event_StuckBreach:
			out[name] = append(out[name], p.StuckBreach)
		case *eventsv1.Event_StuckResolved:
			out[name] = append(out[name], p.StuckResolved)
		}
	}
	return out
}

// fact is a line of a message's facts, as the notifier writes it.
func fact(label, value string) string {
	return fmt.Sprintf("  %-12s %s\n", label+":", value)
}

// wantContains fails the test for each of wants the text lacks.
func wantContains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// Issue 15 across the real processes, as its users meet it: an admin
// names London's SPOC mailbox and a vetting contact point asks to be told
// at once by email; the contact point is assigned a vetting case and gets
// one email naming the candidate (a case they may read). The case's
// block, backdated past its breach threshold, makes reporting publish one
// stuck.breach carrying the assignee, and the contact point gets one
// breach email naming the candidate. A sift case nobody owns, stuck past
// its breach, reaches the London SPOC mailbox once, with the reference
// and never the name. The notifier and reporting are killed and started
// again between the steps; nothing is published or sent twice.
func TestStuckAndAssignedCasesReachTheirOwners(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t)
	// The daily digest (of warnings) is due twelve hours from now, never
	// during the test: the counts below are of the messages sent at once.
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	digestHour := (time.Now().In(london).Hour() + 12) % 24
	st := start(t, "SMTP_ADDR="+ms.addr, "SMTP_SECURITY=none", "SMTP_FROM=Recruitment pipeline <notifier@probation.example>",
		"NOTIFIER_POLL_INTERVAL=100ms", fmt.Sprintf("NOTIFIER_DIGEST_HOUR=%d", digestHour))
	ctx := context.Background()
	const (
		contactPoint  = "vetting-london-7"
		contactEmail  = "vetting-london-7@probation.example"
		londonMailbox = "resourcing-london@probation.example"
	)
	admin := token(t, "admin-1", auth.RoleAdmin)
	vetter := token(t, contactPoint, auth.RoleVetting, "london")
	notifier := notifierv1.NewNotifierServiceClient(st.conns["notifier"])

	if _, err := notifier.SetRoleMailbox(ctx, &notifierv1.SetRoleMailboxRequest{
		Region: "london", Role: notifierv1.MailboxRole_MAILBOX_ROLE_SPOC, Email: londonMailbox}, admin); err != nil {
		t.Fatal(err)
	}
	prefs, err := notifier.SetPreferences(ctx, &notifierv1.SetPreferencesRequest{
		Email: contactEmail, Mode: notifierv1.DeliveryMode_DELIVERY_MODE_IMMEDIATE}, vetter)
	if err != nil {
		t.Fatal(err)
	}
	if p := prefs.GetPreferences(); p.GetSubject() != contactPoint || p.GetRole() != commonv1.CallerRole_CALLER_ROLE_VETTING ||
		strings.Join(p.GetRegions(), ",") != "london" {
		t.Fatalf("preferences set as %v, want the token's subject, role and region", p)
	}

	// A candidate through to vetting; their case assigned to the contact
	// point.
	c := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR)
	c.passInterview()
	vc := c.acceptOffer()
	assigned, err := c.vetting.AssignCase(ctx, &vettingv1.AssignCaseRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: vc.GetVersion(), Assignee: contactPoint}, c.vetter)
	c.must(err)
	mails := ms.waitFor(t, contactEmail, 1)
	wantContains(t, "the assignment email", mails[0].subject, "Assigned: application "+c.id)
	wantContains(t, "the assignment email", mails[0].body, "You own this case now.", fact("Application", c.id),
		fact("Candidate", "Ada Lovelace"), fact("Campaign", "Campaign ("+c.campaignID+")"), fact("Owner", contactPoint))

	// The block, backdated 10 days (breach after 5): the backdated copy
	// carries the version the real block will have and reaches reporting
	// first, so reporting keeps its date (as in the dashboard test); the
	// notifier is killed as the real block is recorded.
	st.backdate(t, st.streamEvent(t, c.id, "vetting.opened"), time.Now().AddDate(0, 0, -10), func(ev *eventsv1.Event) {
		ev.AggregateVersion = assigned.GetCase().GetVersion() + 1
		ev.Actor = &commonv1.Actor{Subject: contactPoint, Role: commonv1.CallerRole_CALLER_ROLE_VETTING}
		ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{
			Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}}
	})
	reports := reportingv1.NewReportingServiceClient(st.conns["reporting"])
	reader := token(t, "dashboard-e2e", auth.RoleDashboard, "london")
	testenv.Eventually(t, "reporting sees the backdated block", func() (bool, string) {
		r, err := reports.ListStuckCandidates(ctx, &reportingv1.ListStuckCandidatesRequest{Region: "london"}, reader)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range r.GetCandidates() {
			if s.GetApplicationId() == c.id && s.GetKind() == reportingv1.StuckKind_STUCK_KIND_VETTING_BLOCKED {
				return true, ""
			}
		}
		return false, fmt.Sprintf("stuck list is %v", r.GetCandidates())
	})
	blocked, err := c.vetting.BlockCase(ctx, &vettingv1.BlockCaseRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: assigned.GetCase().GetVersion(),
		Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}, vetter)
	c.must(err)
	if blocked.GetCase().GetVersion() != assigned.GetCase().GetVersion()+1 {
		t.Fatalf("blocked case has version %d, the backdated block %d", blocked.GetCase().GetVersion(), assigned.GetCase().GetVersion()+1)
	}
	st.restart(t, "notifier")

	testenv.Eventually(t, "stuck.breach for the blocked case on the stream", func() (bool, string) {
		got := st.stuckEvents(t, c.id)
		return len(got["stuck.breach"]) > 0, fmt.Sprint(got)
	})
	mails = ms.waitFor(t, contactEmail, 2)
	breach := mails[1]
	wantContains(t, "the breach email", breach.subject, "Breach: application "+c.id)
	wantContains(t, "the breach email", breach.body, "passed its breach threshold", fact("Candidate", "Ada Lovelace"),
		fact("Rule", "vetting blocked (missing documents)"), fact("Threshold", "5 days"), fact("Owner", contactPoint))

	// Reporting killed after publishing the breach: started again, it
	// publishes nothing twice.
	st.restart(t, "reporting")

	// A London candidate nobody owns, in sift since (as reporting knows
	// it) 20 days ago, past the 14-day breach.
	// (In a subtest: a candidate's request ids are made of the test's name.)
	var s *candidate
	t.Run("unowned sift case", func(t *testing.T) {
		s = newCandidate(t, st, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
		s.siftCase()
		st.backdate(t, st.streamEvent(t, s.id, "application.submitted"), time.Now().AddDate(0, 0, -20), nil)
	})
	if t.Failed() {
		return
	}
	// The mailbox's email comes after anything the restarts could have
	// sent again: a second breach of the first case would have been
	// written to reporting's outbox, and so published, consumed and sent,
	// before this one.
	mails = ms.waitFor(t, londonMailbox, 1)
	wantContains(t, "the mailbox's breach email", mails[0].subject, "Breach: application "+s.id+" stuck in SIFT past 14 days")
	wantContains(t, "the mailbox's breach email", mails[0].body, fact("Application", s.id), fact("Threshold", "14 days"),
		fact("Owner", "unassigned (the region's spoc team)"))
	if strings.Contains(mails[0].body, "Ada Lovelace") || strings.Contains(mails[0].body, "Candidate:") {
		t.Errorf("the role mailbox's email names the candidate:\n%s", mails[0].body)
	}

	// Exactly: one breach per case on the stream, with its owner or none;
	// two emails to the contact point, one to the mailbox, none else
	// (warnings wait for the daily digest).
	for _, tc := range []struct {
		id, assignee string
		rule         eventsv1.StuckRule
		actor        commonv1.CallerRole
	}{
		{c.id, contactPoint, eventsv1.StuckRule_STUCK_RULE_VETTING_BLOCKED, commonv1.CallerRole_CALLER_ROLE_VETTING},
		{s.id, "", eventsv1.StuckRule_STUCK_RULE_STAGE, commonv1.CallerRole_CALLER_ROLE_SPOC},
	} {
		got := st.stuckEvents(t, tc.id)
		if b := got["stuck.breach"]; len(b) != 1 || b[0].GetAssignee() != tc.assignee || b[0].GetRule() != tc.rule || b[0].GetNextActor() != tc.actor {
			t.Errorf("application %s: stuck.breach events %v, want one for %q by rule %v, next actor %v", tc.id, b, tc.assignee, tc.rule, tc.actor)
		}
		if len(got["stuck.warning"]) > 1 || len(got["stuck.resolved"]) != 0 {
			t.Errorf("application %s: stuck events %v, want at most one warning and no resolution", tc.id, got)
		}
	}
	if got := ms.to(contactEmail); len(got) != 2 {
		t.Errorf("the contact point received %d emails, want 2: %v", len(got), got)
	}
	if got := ms.to(londonMailbox); len(got) != 1 {
		t.Errorf("the London mailbox received %d emails, want 1: %v", len(got), got)
	}
	if n := ms.count(); n != 3 {
		t.Errorf("the mail server received %d emails, want 3", n)
	}
}
