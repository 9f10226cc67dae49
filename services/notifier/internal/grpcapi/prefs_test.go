package grpcapi_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/grpcapi"
)

// TestAuditPolicyCoversTheContract: every RPC is declared.
func TestAuditPolicyCoversTheContract(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Audit.Covers(pb.File_recruitment_notifier_v1_notifier_proto.Services().ByName(protoreflect.Name("NotifierService"))); err != nil {
		t.Error(err)
	}
}

// TestPreferencesAreTheCallersOwn: a caller sets and reads their own
// preferences, their role and regions taken from their token; setting or
// reading another person's is refused unless the caller is an admin, and
// a non-admin cannot give themself another role or region.
func TestPreferencesAreTheCallersOwn(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example", QuietStart: "22:00", QuietEnd: "07:30",
		WebhookUrl: "https://hooks.probation.example/x", WebhookSecret: webhookSecret})
	if p.GetRole() != commonv1.CallerRole_CALLER_ROLE_SPOC || !slices.Equal(p.GetRegions(), []string{"london"}) ||
		p.GetMode() != pb.DeliveryMode_DELIVERY_MODE_IMMEDIATE || p.GetTimeZone() != "Europe/London" ||
		p.GetQuietStart() != "22:00" || p.GetQuietEnd() != "07:30" || !p.GetWebhookSecretSet() {
		t.Errorf("preferences %v", p)
	}

	// The attack: a SPOC sets (and reads) another SPOC's preferences, to
	// have their alerts sent to an address of the attacker's.
	_, err := e.client(t, spocWales).SetPreferences(t.Context(), &pb.SetPreferencesRequest{Subject: spocLondon.Subject, Email: "attacker@evil.example"})
	testenv.WantStatus(t, err, codes.PermissionDenied, "only an admin")
	_, err = e.client(t, spocWales).GetPreferences(t.Context(), &pb.GetPreferencesRequest{Subject: spocLondon.Subject})
	testenv.WantStatus(t, err, codes.PermissionDenied)
	// … or gives themself London, to be told candidates' names there.
	_, err = e.client(t, spocWales).SetPreferences(t.Context(), &pb.SetPreferencesRequest{Email: "w@probation.example", Regions: []string{"london"}})
	testenv.WantStatus(t, err, codes.PermissionDenied, "from your token")
	got, err := e.client(t, spocLondon).GetPreferences(t.Context(), &pb.GetPreferencesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetPreferences().GetEmail() != "spoc1@probation.example" {
		t.Errorf("after the refused attempts, the email is %q", got.GetPreferences().GetEmail())
	}

	// An admin may, and gives the role and regions.
	resp, err := e.client(t, admin).SetPreferences(t.Context(), &pb.SetPreferencesRequest{Subject: "vetting-wales-1", Email: "vw@probation.example",
		Role: commonv1.CallerRole_CALLER_ROLE_VETTING, Regions: []string{"wales"}, Mode: pb.DeliveryMode_DELIVERY_MODE_DIGEST})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetPreferences().GetRole() != commonv1.CallerRole_CALLER_ROLE_VETTING || resp.GetPreferences().GetUpdatedAt() == nil {
		t.Errorf("admin's set: %v", resp.GetPreferences())
	}
	if _, err := e.client(t, admin).GetPreferences(t.Context(), &pb.GetPreferencesRequest{Subject: spocLondon.Subject}); err != nil {
		t.Errorf("admin reads another's preferences: %v", err)
	}
	_, err = e.client(t, spocWales).GetPreferences(t.Context(), &pb.GetPreferencesRequest{})
	testenv.WantStatus(t, err, codes.NotFound)

	// The webhook secret is kept when not given again, and never returned.
	p = e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example", WebhookUrl: "https://hooks.probation.example/x"})
	if !p.GetWebhookSecretSet() {
		t.Error("the webhook secret was lost")
	}
}

// TestPreferencesValidation: each bad field is refused, naming it.
func TestPreferencesValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.client(t, spocLondon)
	for _, tc := range []struct {
		field string
		req   *pb.SetPreferencesRequest
	}{
		{"email", &pb.SetPreferencesRequest{}},
		{"email", &pb.SetPreferencesRequest{Email: "not an address"}},
		{"email", &pb.SetPreferencesRequest{Email: "Someone <a@b.example>"}},
		{"quiet_start", &pb.SetPreferencesRequest{Email: "a@b.example", QuietStart: "25:00", QuietEnd: "07:00"}},
		{"quiet_end", &pb.SetPreferencesRequest{Email: "a@b.example", QuietStart: "22:00", QuietEnd: "7am"}},
		{"quiet_end", &pb.SetPreferencesRequest{Email: "a@b.example", QuietStart: "22:00"}},
		{"time_zone", &pb.SetPreferencesRequest{Email: "a@b.example", TimeZone: "Mars/Olympus_Mons"}},
		{"webhook_url", &pb.SetPreferencesRequest{Email: "a@b.example", WebhookUrl: "http://hooks.example/x", WebhookSecret: webhookSecret}},
		{"webhook_secret", &pb.SetPreferencesRequest{Email: "a@b.example", WebhookUrl: "https://hooks.example/x"}},
		{"webhook_secret", &pb.SetPreferencesRequest{Email: "a@b.example", WebhookUrl: "https://hooks.example/x", WebhookSecret: "short"}},
		{"mode", &pb.SetPreferencesRequest{Email: "a@b.example", Mode: pb.DeliveryMode(42)}},
	} {
		_, err := c.SetPreferences(t.Context(), tc.req)
		testenv.WantField(t, err, tc.field)
	}
	// An admin names another person by the subject their cases are
	// assigned to: any subject an assignee may be (pkg/assign), which the
	// refusal describes; never an email address or a service's subject.
	for _, tc := range []struct{ subject, want string }{
		{"ada@probation.example", "not an email address"},
		{"system:reporting", "not a service's"},
		{"two words", "letters, digits and ._+=:/|- only"},
	} {
		_, err := e.client(t, admin).SetPreferences(t.Context(), &pb.SetPreferencesRequest{Subject: tc.subject, Email: "a@b.example",
			Role: commonv1.CallerRole_CALLER_ROLE_VETTING, Regions: []string{"london"}})
		testenv.WantField(t, err, "subject")
		if !strings.Contains(status.Convert(err).Message(), tc.want) {
			t.Errorf("preferences for %q: %v, want a reason saying %q", tc.subject, err, tc.want)
		}
	}
	if _, err := e.client(t, admin).SetPreferences(t.Context(), &pb.SetPreferencesRequest{Subject: "oidc|vetting/7", Email: "a@b.example",
		Role: commonv1.CallerRole_CALLER_ROLE_VETTING, Regions: []string{"london"}}); err != nil {
		t.Errorf("preferences for a subject with | and /, which a case can be assigned to: %v", err)
	}
	_, err := e.client(t, admin).SetRoleMailbox(t.Context(), &pb.SetRoleMailboxRequest{Region: "atlantis", Role: pb.MailboxRole_MAILBOX_ROLE_SPOC, Email: "a@b.example"})
	testenv.WantField(t, err, "region")
	_, err = e.client(t, admin).SetRoleMailbox(t.Context(), &pb.SetRoleMailboxRequest{Region: "london", Email: "a@b.example"})
	testenv.WantField(t, err, "role")
	_, err = c.SetRoleMailbox(t.Context(), &pb.SetRoleMailboxRequest{Region: "london", Role: pb.MailboxRole_MAILBOX_ROLE_SPOC, Email: "a@b.example"})
	testenv.WantStatus(t, err, codes.PermissionDenied)
	_, err = c.ListRoleMailboxes(t.Context(), &pb.ListRoleMailboxesRequest{})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}

// TestRoleMailboxes: an admin sets, lists and removes them.
func TestRoleMailboxes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.mailbox(t, "wales", pb.MailboxRole_MAILBOX_ROLE_VETTING, "wales-vetting@probation.example")
	e.mailbox(t, "london", pb.MailboxRole_MAILBOX_ROLE_SPOC, "london-spoc@probation.example")
	list, err := e.client(t, admin).ListRoleMailboxes(t.Context(), &pb.ListRoleMailboxesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range list.GetMailboxes() {
		got = append(got, m.GetRegion()+" "+m.GetRole().String()+" "+m.GetEmail())
	}
	want := []string{"london MAILBOX_ROLE_SPOC london-spoc@probation.example", "wales MAILBOX_ROLE_VETTING wales-vetting@probation.example"}
	if !slices.Equal(got, want) {
		t.Errorf("mailboxes %q, want %q", got, want)
	}
	e.mailbox(t, "wales", pb.MailboxRole_MAILBOX_ROLE_VETTING, "")
	list, err = e.client(t, admin).ListRoleMailboxes(t.Context(), &pb.ListRoleMailboxesRequest{Region: "wales"})
	if err != nil || len(list.GetMailboxes()) != 0 {
		t.Errorf("after removing wales's: %v, %v", list.GetMailboxes(), err)
	}
}
