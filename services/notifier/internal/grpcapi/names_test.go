package grpcapi_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/contacts"
)

// applications stands in for the applications service's
// GetCandidateContact (being built beside this): it answers only the
// bearer token it expects, and counts the calls.
type applications struct {
	applicationsv1.UnimplementedApplicationsServiceServer
	mu     sync.Mutex
	token  string
	names  map[string]string
	calls  int
	tokens []string
}

func (a *applications) GetCandidateContact(ctx context.Context, req *applicationsv1.GetCandidateContactRequest) (*applicationsv1.GetCandidateContactResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	md, _ := metadata.FromIncomingContext(ctx)
	got := strings.TrimPrefix(strings.Join(md.Get("authorization"), ""), "Bearer ")
	a.tokens = append(a.tokens, got)
	if got != a.token {
		return nil, status.Error(codes.PermissionDenied, "not the notifier")
	}
	name, ok := a.names[req.GetApplicationId()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such application")
	}
	return &applicationsv1.GetCandidateContactResponse{ApplicationId: req.GetApplicationId(), Region: "london",
		Candidate: &applicationsv1.Candidate{Name: name, Email: "candidate@home.example"}}, nil
}

func (a *applications) expect(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.token = token
}

// startApplications serves a on a loopback port and returns a contacts
// client of it reading its token from file.
func startApplications(t *testing.T, a *applications, file string) *contacts.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(grpcauth.PlaintextLoopback()))
	applicationsv1.RegisterApplicationsServiceServer(srv, a)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	tokens, err := contacts.NewTokenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := contacts.New(l.Addr().String(), grpcauth.PlaintextLoopback(), tokens, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestCandidateNameOnlyForThoseWhoMayReadIt: the email to the region's
// SPOC names the candidate, fetched from applications with the token in
// APPLICATIONS_TOKEN_FILE (read again when it changes); the email to a
// SPOC of another region, to the role mailbox, and the webhook carry the
// reference only; when applications refuses, the email goes with the
// reference only and the metric counts it. The name is never stored.
func TestCandidateNameOnlyForThoseWhoMayReadIt(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "applications-token")
	if err := os.WriteFile(file, []byte("token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a1, a2, a3, a4 := newApp("london"), newApp("london"), newApp("london"), newApp("london")
	apps := &applications{token: "token-one", names: map[string]string{
		a1.id: "Ada Lovelace", a2.id: "Grace Hopper", a3.id: "Mary Somerville", a4.id: "Edith Clarke"}}
	e := setupWith(t, options{contacts: startApplications(t, apps, file)})
	r := &receiver{t: t, now: e.clock.Now}
	hook := newHook(t, r)
	e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example", WebhookUrl: hook, WebhookSecret: webhookSecret})
	e.prefs(t, vettingLondon, &pb.SetPreferencesRequest{Email: "vet1@probation.example"})
	e.prefs(t, spocWales, &pb.SetPreferencesRequest{Email: "wales1@probation.example"})
	e.mailbox(t, "london", pb.MailboxRole_MAILBOX_ROLE_SPOC, "london-spoc@probation.example")
	sift := commonv1.Stage_STAGE_SIFT
	e.publish(t,
		a1.stuck("stuck.breach", sift, start.Add(-14*day), 14, spocLondon.Subject, start),
		a2.assigned("vetting.assigned", vettingLondon.Subject, start),
		a3.stuck("stuck.breach", sift, start.Add(-14*day), 14, spocWales.Subject, start),
		a4.stuck("stuck.breach", sift, start.Add(-14*day), 14, "", start),
	)
	e.runOnce(t)
	got := e.smtp.take()
	wantEmails(t, got,
		[2]string{"spoc1@probation.example", "Breach: application " + a1.id + " stuck in SIFT past 14 days"},
		[2]string{"vet1@probation.example", "Assigned: application " + a2.id + " (vetting case)"},
		[2]string{"wales1@probation.example", "Breach: application " + a3.id + " stuck in SIFT past 14 days"},
		[2]string{"london-spoc@probation.example", "Breach: application " + a4.id + " stuck in SIFT past 14 days"},
	)
	for i, want := range []string{"Ada Lovelace", "Grace Hopper", "", ""} {
		has := strings.Contains(got[i].Body, "Candidate:")
		if want == "" && has {
			t.Errorf("email to %s names the candidate:\n%s", got[i].To, got[i].Body)
		}
		if want != "" && !strings.Contains(got[i].Body, "Candidate:   "+want) {
			t.Errorf("email to %s lacks the candidate's name %s:\n%s", got[i].To, want, got[i].Body)
		}
	}
	if len(r.got) != 1 || strings.Contains(string(r.got[0]), "Ada") {
		t.Errorf("webhook posts %q: want one, with no name", r.got)
	}
	if apps.mu.Lock(); apps.calls != 2 {
		t.Errorf("applications asked %d times, want 2 (only for those who may read the name)", apps.calls)
	}
	apps.mu.Unlock()

	// The token is rotated: the notifier sends the new one.
	if err := os.WriteFile(file, []byte("token-number-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newApp("london")
	apps.mu.Lock()
	apps.token, apps.names[b.id] = "token-number-two", "Hertha Ayrton"
	apps.mu.Unlock()
	e.publish(t, b.stuck("stuck.breach", sift, start.Add(-14*day), 14, spocLondon.Subject, start))
	e.runOnce(t)
	got = e.smtp.take()
	if len(got) != 1 || !strings.Contains(got[0].Body, "Candidate:   Hertha Ayrton") {
		t.Errorf("after the token changed: %v", got)
	}

	// applications refuses: the reference only, counted.
	apps.expect("some-other-token")
	c := newApp("london")
	e.publish(t, c.stuck("stuck.breach", sift, start.Add(-14*day), 14, spocLondon.Subject, start))
	e.runOnce(t)
	got = e.smtp.take()
	wantEmails(t, got, [2]string{"spoc1@probation.example", "Breach: application " + c.id + " stuck in SIFT past 14 days"})
	if strings.Contains(got[0].Body, "Candidate:") {
		t.Errorf("named without an answer from applications:\n%s", got[0].Body)
	}
	if n := e.metric(t, "notifier_candidate_names_unavailable_total"); n != 1 {
		t.Errorf("names unavailable = %v, want 1", n)
	}

	// No table holds a name.
	for _, table := range []string{"notifications", "messages", "preferences", "role_mailboxes", "campaigns"} {
		var dump string
		if err := e.Pool.QueryRow(t.Context(), "SELECT coalesce(string_agg(t::text, '|'), '') FROM "+table+" t").Scan(&dump); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"Ada", "Grace", "Hertha", "Lovelace"} {
			if strings.Contains(dump, name) {
				t.Errorf("table %s holds %q", table, name)
			}
		}
	}
}
