package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	notifierv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
)

func init() { register(newNotifyCmd) }

func newNotifyCmd(a *app) *cobra.Command {
	return group("notify", "How you are told about stuck and assigned cases (notifier service)",
		`The notifier emails (and, if you give one, posts to a signed webhook) the
owner of a case when it breaches its stage's threshold or is assigned to them,
and sends a daily digest of warnings and resolutions. A case with no owner
goes to the region's role mailbox. `+"`notify prefs`"+` sets your own address, how
you are told (off, digest or immediate) and quiet hours; an admin manages the
role mailboxes and the messages that could not be delivered.`,
		group("prefs", "Your notification preferences",
			`Read or set your own preferences (an admin: anyone's, with --subject).`,
			newNotifyPrefsGetCmd(a), newNotifyPrefsSetCmd(a)),
		group("mailbox", "Regions' role mailboxes (admin)",
			`A role mailbox is where a region's SPOC or vetting team is told about a
case nobody owns.`,
			newNotifyMailboxSetCmd(a), newNotifyMailboxListCmd(a)),
		newNotifyDeadLettersCmd(a), newNotifyRetryCmd(a))
}

func newNotifyPrefsGetCmd(a *app) *cobra.Command {
	var subject string
	cmd := &cobra.Command{
		Use:     "get",
		Short:   "Show your notification preferences",
		Example: "  pipelinectl notify prefs get\n  pipelinectl notify prefs get --subject spoc-london-1   # admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.notifier.GetPreferences(cmd.Context(), &notifierv1.GetPreferencesRequest{Subject: subject})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(prefsView(resp.GetPreferences())))
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "whose (admin only); default yours")
	return cmd
}

func newNotifyPrefsSetCmd(a *app) *cobra.Command {
	var (
		req     notifierv1.SetPreferencesRequest
		mode    = newEnum(notifierv1.DeliveryMode(0))
		quiet   string
		role    = newEnum(commonv1.CallerRole(0))
		regions []string
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set your notification preferences (replacing them)",
		Example: `  pipelinectl notify prefs set --email spoc1@example.org --mode immediate --quiet-hours 22:00-07:00
  pipelinectl notify prefs set --email spoc1@example.org --mode digest --webhook-url https://hooks.example.org/abc \
    --webhook-secret-file secret.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Mode = notifierv1.DeliveryMode(mode.number())
			if quiet != "" {
				start, end, ok := strings.Cut(quiet, "-")
				if !ok {
					return usagef("--quiet-hours must be HH:MM-HH:MM, e.g. 22:00-07:00; got %q", quiet)
				}
				req.QuietStart, req.QuietEnd = start, end
			}
			if secretFile := cmd.Flag("webhook-secret-file").Value.String(); secretFile != "" {
				// From a file, not a flag: a command line is there for
				// anyone on the machine to read (ps).
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return usagef("--webhook-secret-file: %v", err)
				}
				req.WebhookSecret = strings.TrimRight(string(b), "\r\n")
			}
			req.Regions = regions
			req.Role = commonv1.CallerRole(role.number())
			resp, err := a.notifier.SetPreferences(cmd.Context(), &req)
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(prefsView(resp.GetPreferences())))
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Email, "email", "", "your email address")
	f.Var(mode, "mode", "how you are told: "+oneOf(notifierv1.DeliveryMode(0))+" (default immediate)")
	f.StringVar(&quiet, "quiet-hours", "", "HH:MM-HH:MM in --time-zone: nothing is sent at once inside them (e.g. 22:00-07:00)")
	f.StringVar(&req.TimeZone, "time-zone", "", "IANA time zone of the quiet hours (default Europe/London)")
	f.StringVar(&req.WebhookUrl, "webhook-url", "", "optional https URL that receives each message as signed JSON")
	f.String("webhook-secret-file", "", "file holding the webhook's signing secret (16-256 characters); kept if not given again")
	f.StringVar(&req.Subject, "subject", "", "whose (admin only); default yours")
	f.Var(role, "role", "the person's role (admin setting another's): "+oneOf(commonv1.CallerRole(0)))
	f.StringSliceVar(&regions, "region", nil, "the person's regions (admin setting another's)")
	required(cmd, "email")
	return cmd
}

func prefsView(p *notifierv1.Preferences) view {
	quiet := ""
	if p.GetQuietStart() != "" {
		quiet = p.GetQuietStart() + "-" + p.GetQuietEnd()
	}
	secret := "no"
	if p.GetWebhookSecretSet() {
		secret = "yes"
	}
	return view{
		columns: []string{"subject", "email", "mode", "quiet_hours", "time_zone", "webhook_url", "webhook_secret_set", "role", "regions", "updated_at"},
		rows: [][]string{{p.GetSubject(), p.GetEmail(), enumName(p.GetMode().Descriptor(), p.GetMode().Number()), quiet, p.GetTimeZone(),
			p.GetWebhookUrl(), secret, enumName(p.GetRole().Descriptor(), p.GetRole().Number()), strings.Join(p.GetRegions(), ","),
			fmtTime(p.GetUpdatedAt())}},
	}
}

func newNotifyMailboxSetCmd(a *app) *cobra.Command {
	var (
		reg   regionValue
		role  = newEnum(notifierv1.MailboxRole(0))
		email string
	)
	cmd := &cobra.Command{
		Use:     "set",
		Short:   "Set a region's role mailbox; an empty --email removes it (admin)",
		Example: `  pipelinectl notify mailbox set --region london --role spoc --email london-resourcing@example.org`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.notifier.SetRoleMailbox(cmd.Context(), &notifierv1.SetRoleMailboxRequest{
				Region: string(reg), Role: notifierv1.MailboxRole(role.number()), Email: email})
			if err != nil {
				return err
			}
			if resp.GetMailbox() == nil {
				a.notef("removed the %s mailbox of %s", role.String(), reg)
				return nil
			}
			return a.emit(resp, recordOf(mailboxesView([]*notifierv1.RoleMailbox{resp.GetMailbox()})))
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the mailbox's region"))
	f.Var(role, "role", "the role it stands for: "+oneOf(notifierv1.MailboxRole(0)))
	f.StringVar(&email, "email", "", "its address; empty removes it")
	required(cmd, "region", "role", "email")
	return cmd
}

func newNotifyMailboxListCmd(a *app) *cobra.Command {
	var reg regionValue
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the role mailboxes (admin)",
		Example: `  pipelinectl notify mailbox list --region london`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.notifier.ListRoleMailboxes(cmd.Context(), &notifierv1.ListRoleMailboxesRequest{Region: string(reg)})
			if err != nil {
				return err
			}
			return a.emit(resp, mailboxesView(resp.GetMailboxes()))
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("only this region's"))
	return cmd
}

func mailboxesView(ms []*notifierv1.RoleMailbox) view {
	v := view{columns: []string{"region", "role", "email", "updated_at"}}
	for _, m := range ms {
		v.rows = append(v.rows, []string{m.GetRegion(), enumName(m.GetRole().Descriptor(), m.GetRole().Number()), m.GetEmail(), fmtTime(m.GetUpdatedAt())})
	}
	return v
}

func newNotifyDeadLettersCmd(a *app) *cobra.Command {
	var (
		size  int32
		token string
	)
	cmd := &cobra.Command{
		Use:   "dead-letters",
		Short: "List the messages given up on after every retry, newest first (admin)",
		Example: `  pipelinectl notify dead-letters
  pipelinectl notify retry 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.notifier.ListDeadLetters(cmd.Context(), &notifierv1.ListDeadLettersRequest{PageSize: size, PageToken: token})
			if err != nil {
				return err
			}
			v := view{columns: []string{"id", "channel", "kind", "recipient", "attempts", "last_error", "failed_at", "event_ids"}}
			for _, d := range resp.GetDeadLetters() {
				v.rows = append(v.rows, []string{strconv.FormatInt(d.GetId(), 10), enumName(d.GetChannel().Descriptor(), d.GetChannel().Number()),
					d.GetKind(), d.GetRecipient(), strconv.Itoa(int(d.GetAttempts())), d.GetLastError(), fmtTime(d.GetFailedAt()),
					strings.Join(d.GetEventIds(), " ")})
			}
			if t := resp.GetNextPageToken(); t != "" {
				v.notes = append(v.notes, "next page: --page-token "+t)
			}
			return a.emit(resp, v)
		},
	}
	cmd.Flags().Int32Var(&size, "page-size", 50, "rows per page, 1-500")
	cmd.Flags().StringVar(&token, "page-token", "", "from the previous page")
	return cmd
}

func newNotifyRetryCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "retry ID",
		Short:   "Send a dead letter again, with a fresh count of tries (admin)",
		Example: `  pipelinectl notify retry 42`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usagef("ID must be a dead letter's id (a positive number), got %q", args[0])
			}
			if _, err := a.notifier.RetryDeadLetter(cmd.Context(), &notifierv1.RetryDeadLetterRequest{Id: id}); err != nil {
				return err
			}
			a.notef("dead letter %d will be sent again", id)
			return nil
		},
	}
}
