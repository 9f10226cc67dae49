package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// What a message may contain (docs/security.md, "Notifications"): the
// application's id, its campaign's id and title, the job role, stage,
// rule, days, threshold and due date, the assignee's subject id — and the
// candidate's name only in an email to someone who may read it, fetched
// as it is written. Webhooks never carry a name: where a webhook posts
// (a team channel) is not known to be read by that person alone.

// RenderEmail writes an email's subject and plain-text body. names holds
// the candidates' names the recipient may read, by application id.
func RenderEmail(m Message, items []Notification, names map[string]string, now time.Time) (subject, body string) {
	var b strings.Builder
	if m.Kind == KindDigest {
		subject = "Daily digest: " + digestCounts(items)
		fmt.Fprintf(&b, "Your daily digest of stuck and assigned cases (%s).\n", now.In(london).Format("Monday 2 January 2006"))
		for i, n := range items {
			fmt.Fprintf(&b, "\n%d. %s\n", i+1, headline(n))
			writeFacts(&b, n, names, now)
		}
	} else {
		n := items[0]
		subject = headline(n)
		b.WriteString(lead(n, m.Recipient) + "\n\n")
		writeFacts(&b, n, names, now)
	}
	b.WriteString("\nSet how you are told with `pipelinectl notify prefs set`.\n")
	return subject, b.String()
}

// headline is one line about a notification: an immediate email's
// subject, a digest's item title.
func headline(n Notification) string {
	switch n.Event {
	case "stuck.breach":
		return fmt.Sprintf("Breach: application %s stuck in %s past %d days", n.ApplicationID, stageName(n.Stage), n.ThresholdDays)
	case "stuck.warning":
		return fmt.Sprintf("Warning: application %s stuck in %s past %d days", n.ApplicationID, stageName(n.Stage), n.ThresholdDays)
	case "stuck.resolved":
		return fmt.Sprintf("Resolved: application %s no longer stuck in %s", n.ApplicationID, stageName(n.Stage))
	}
	return fmt.Sprintf("Assigned: application %s (%s case)", n.ApplicationID, caseName(n.Event))
}

func lead(n Notification, recipient string) string {
	switch {
	case n.Event == "stuck.breach":
		return "This case has passed its breach threshold and needs action."
	case immediate(n.Event) && n.Assignee == recipient:
		return "You own this case now."
	case immediate(n.Event):
		return "This case has a new owner; you are told as the region's mailbox."
	}
	return ""
}

func writeFacts(b *strings.Builder, n Notification, names map[string]string, now time.Time) {
	line := func(label, value string) { fmt.Fprintf(b, "  %-12s %s\n", label+":", value) }
	line("Application", n.ApplicationID)
	if name, ok := names[n.ApplicationID]; ok {
		line("Candidate", name)
	}
	campaign := n.CampaignID
	if n.CampaignTitle != "" {
		campaign = n.CampaignTitle + " (" + n.CampaignID + ")"
	}
	line("Campaign", campaign)
	line("Role", jobRoleName(n.JobRole))
	line("Region", n.Region)
	if n.Stage != commonv1.Stage_STAGE_UNSPECIFIED {
		line("Stage", stageName(n.Stage))
	} else {
		line("Stage", caseName(n.Event)+" case")
	}
	if !n.Since.IsZero() {
		line("Rule", ruleName(n.Rule, n.BlockedReason))
		line("Days", fmt.Sprintf("%d (since %s)", days(n.Since, now), n.Since.In(london).Format("2 Jan 2006")))
		line("Threshold", fmt.Sprintf("%d days", n.ThresholdDays))
		line("Due", n.Due().In(london).Format("2 Jan 2006"))
	}
	owner := n.Assignee
	if owner == "" {
		owner = "unassigned (the region's " + string(n.NextActor) + " team)"
	}
	line("Owner", owner)
}

func digestCounts(items []Notification) string {
	counts := map[string]int{}
	for _, n := range items {
		counts[kindWord(n.Event)]++
	}
	var parts []string
	for _, k := range []struct{ one, many string }{
		{"breach", "breaches"}, {"warning", "warnings"}, {"resolved", "resolved"}, {"assigned", "assigned"},
	} {
		if c := counts[k.one]; c > 0 {
			word := k.many
			if c == 1 {
				word = k.one
			}
			parts = append(parts, fmt.Sprintf("%d %s", c, word))
		}
	}
	return strings.Join(parts, ", ")
}

func kindWord(name string) string {
	switch name {
	case "stuck.breach":
		return "breach"
	case "stuck.warning":
		return "warning"
	case "stuck.resolved":
		return "resolved"
	}
	return "assigned"
}

// days is whole days from since to now.
func days(since, now time.Time) int {
	if now.Before(since) {
		return 0
	}
	return int(now.Sub(since) / (24 * time.Hour))
}

func caseName(name string) string {
	switch name {
	case "sift.assigned":
		return "sift"
	case "offer.assigned":
		return "offer"
	case "vetting.assigned":
		return "vetting"
	}
	return name
}

func stageName(s commonv1.Stage) string {
	return strings.TrimPrefix(s.String(), "STAGE_")
}

func jobRoleName(r commonv1.JobRole) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(r.String(), "JOB_ROLE_")), "_", " ")
}

func ruleName(r eventsv1.StuckRule, reason commonv1.BlockReason) string {
	switch r {
	case eventsv1.StuckRule_STUCK_RULE_STAGE:
		return "time in stage"
	case eventsv1.StuckRule_STUCK_RULE_VETTING_BLOCKED:
		return "vetting blocked (" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(reason.String(), "BLOCK_REASON_")), "_", " ") + ")"
	case eventsv1.StuckRule_STUCK_RULE_VETTING_OVERDUE:
		return "started subject to vetting; vetting overdue"
	case eventsv1.StuckRule_STUCK_RULE_CHECK_OUTSTANDING:
		return "pre-employment check outstanding"
	}
	return "unspecified"
}

// webhookItem is one notification in a webhook's body: no names.
type webhookItem struct {
	EventID       string `json:"event_id"`
	Event         string `json:"event"`
	ApplicationID string `json:"application_id"`
	Region        string `json:"region"`
	CampaignID    string `json:"campaign_id"`
	CampaignTitle string `json:"campaign_title,omitempty"`
	JobRole       string `json:"job_role"`
	Stage         string `json:"stage,omitempty"`
	Rule          string `json:"rule,omitempty"`
	Days          *int   `json:"days,omitempty"`
	ThresholdDays int32  `json:"threshold_days,omitempty"`
	Since         string `json:"since,omitempty"`
	Due           string `json:"due,omitempty"`
	Assignee      string `json:"assignee,omitempty"`
	OccurredAt    string `json:"occurred_at"`
}

// webhookBody is what a webhook receives.
type webhookBody struct {
	ID        string        `json:"id"`
	Kind      string        `json:"kind"`
	Recipient string        `json:"recipient"`
	Text      string        `json:"text"`
	Items     []webhookItem `json:"items"`
}

// RenderWebhook writes a webhook's JSON body: a one-line text for chat
// tools and the facts of each notification.
func RenderWebhook(m Message, items []Notification, now time.Time) []byte {
	body := webhookBody{ID: m.Key, Kind: m.Kind, Recipient: m.Recipient}
	if m.Kind == KindDigest {
		body.Text = "Daily digest: " + digestCounts(items)
	} else {
		body.Text = headline(items[0])
	}
	for _, n := range items {
		it := webhookItem{
			EventID: n.EventID, Event: n.Event, ApplicationID: n.ApplicationID, Region: n.Region, CampaignID: n.CampaignID,
			CampaignTitle: n.CampaignTitle, JobRole: jobRoleName(n.JobRole), Assignee: n.Assignee,
			OccurredAt: n.OccurredAt.UTC().Format(time.RFC3339),
		}
		if n.Stage != commonv1.Stage_STAGE_UNSPECIFIED {
			it.Stage = stageName(n.Stage)
		}
		if !n.Since.IsZero() {
			d := days(n.Since, now)
			it.Rule, it.Days, it.ThresholdDays = ruleName(n.Rule, n.BlockedReason), &d, n.ThresholdDays
			it.Since, it.Due = n.Since.UTC().Format(time.RFC3339), n.Due().UTC().Format(time.RFC3339)
		}
		body.Items = append(body.Items, it)
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("webhook body: %v", err)) // plain strings and numbers cannot fail
	}
	return b
}
