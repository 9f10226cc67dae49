package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	notifierv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
)

// notifier records the requests pipelinectl sends and answers with what
// they set.
type notifier struct {
	notifierv1.UnimplementedNotifierServiceServer
	mu   sync.Mutex
	reqs []proto.Message
}

func (n *notifier) keep(m proto.Message) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reqs = append(n.reqs, m)
}

func (n *notifier) SetPreferences(_ context.Context, r *notifierv1.SetPreferencesRequest) (*notifierv1.SetPreferencesResponse, error) {
	n.keep(r)
	return &notifierv1.SetPreferencesResponse{Preferences: &notifierv1.Preferences{Subject: "spoc-london-1", Email: r.GetEmail(), Mode: r.GetMode(),
		QuietStart: r.GetQuietStart(), QuietEnd: r.GetQuietEnd(), TimeZone: "Europe/London", WebhookSecretSet: r.GetWebhookSecret() != ""}}, nil
}

func (n *notifier) SetRoleMailbox(_ context.Context, r *notifierv1.SetRoleMailboxRequest) (*notifierv1.SetRoleMailboxResponse, error) {
	n.keep(r)
	if r.GetEmail() == "" {
		return &notifierv1.SetRoleMailboxResponse{}, nil
	}
	return &notifierv1.SetRoleMailboxResponse{Mailbox: &notifierv1.RoleMailbox{Region: r.GetRegion(), Role: r.GetRole(), Email: r.GetEmail()}}, nil
}

func (n *notifier) ListDeadLetters(_ context.Context, r *notifierv1.ListDeadLettersRequest) (*notifierv1.ListDeadLettersResponse, error) {
	n.keep(r)
	return &notifierv1.ListDeadLettersResponse{DeadLetters: []*notifierv1.DeadLetter{{Id: 7, Channel: notifierv1.Channel_CHANNEL_WEBHOOK,
		Kind: "stuck.breach", Recipient: "spoc-london-1", Attempts: 6, LastError: "webhook: answered 503"}}}, nil
}

// TestNotifyCommands: the flags of `notify prefs set`, `notify mailbox
// set` and `notify dead-letters` become the requests they should, the
// webhook secret read from its file, and the answers print.
func TestNotifyCommands(t *testing.T) {
	t.Parallel()
	n := &notifier{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	notifierv1.RegisterNotifierServiceServer(srv, n)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	addr := l.Addr().String()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("a-webhook-secret-of-32-characters\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runCLI(t, "notify", "prefs", "set", "--email", "spoc1@example.org", "--mode", "digest", "--quiet-hours", "22:00-07:00",
		"--webhook-url", "https://hooks.example.org/x", "--webhook-secret-file", secret, "--notifier-addr", addr, "--token", "t")
	if code != 0 || !strings.Contains(out, "22:00-07:00") || !strings.Contains(out, "digest") {
		t.Errorf("prefs set: exit %d\n%s%s", code, out, stderr)
	}
	_, stderr, code = runCLI(t, "notify", "mailbox", "set", "--region", "london", "--role", "spoc", "--email", "", "--notifier-addr", addr, "--token", "t")
	if code != 0 || !strings.Contains(stderr, "removed the spoc mailbox of london") {
		t.Errorf("mailbox set (remove): exit %d, %s", code, stderr)
	}
	out, _, code = runCLI(t, "notify", "dead-letters", "-o", "csv", "--notifier-addr", addr, "--token", "t")
	if code != 0 || !strings.Contains(out, "7,webhook,stuck.breach,spoc-london-1,6,webhook: answered 503") {
		t.Errorf("dead-letters: exit %d\n%s", code, out)
	}
	_, stderr, code = runCLI(t, "notify", "prefs", "set", "--email", "a@b.example", "--quiet-hours", "22:00", "--notifier-addr", addr)
	if code != exitUsage || !strings.Contains(stderr, "HH:MM-HH:MM") {
		t.Errorf("bad --quiet-hours: exit %d, %s", code, stderr)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	want := []proto.Message{
		&notifierv1.SetPreferencesRequest{Email: "spoc1@example.org", Mode: notifierv1.DeliveryMode_DELIVERY_MODE_DIGEST, QuietStart: "22:00",
			QuietEnd: "07:00", WebhookUrl: "https://hooks.example.org/x", WebhookSecret: "a-webhook-secret-of-32-characters"},
		&notifierv1.SetRoleMailboxRequest{Region: "london", Role: notifierv1.MailboxRole_MAILBOX_ROLE_SPOC},
		&notifierv1.ListDeadLettersRequest{PageSize: 50},
	}
	if len(n.reqs) != len(want) {
		t.Fatalf("requests %v, want %v", n.reqs, want)
	}
	for i := range want {
		if !proto.Equal(n.reqs[i], want[i]) {
			t.Errorf("request %d = %v, want %v", i, n.reqs[i], want[i])
		}
	}
}
