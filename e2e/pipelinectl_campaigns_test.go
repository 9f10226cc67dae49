package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestPipelinectlCampaigns: a campaign in several regions through the
// CLI and the running services: created with posts per region, an
// application in Wales, a SPOC refused a region not theirs, the campaign
// closed (applications refused), and its progress per region from
// reporting, the total only to a caller holding every region.
func TestPipelinectlCampaigns(t *testing.T) {
	t.Parallel()
	st := start(t)
	c := newCtl(t, st)
	admin := c.mint("--role", "admin", "--subject", "admin-1")
	spocLondon := c.mint("--role", "spoc", "--subject", "spoc-london-1", "--region", "london")
	spocWales := c.mint("--role", "spoc", "--subject", "spoc-wales-1", "--region", "wales")
	dashBoth := c.mint("--role", "dashboard", "--subject", "dashboard-lw", "--region", "london,wales")
	opens := time.Now().AddDate(0, 0, -30).Format(time.DateOnly)

	var camp applicationsv1.CreateCampaignResponse
	c.json(admin, &camp, "campaigns", "create", "--region", "london=120,wales=30,north-east=150", "--role", "administrator",
		"--title", "National admin campaign", "--rolling", "--opens-on", opens)
	id := camp.GetCampaign().GetId()
	if camp.GetCampaign().GetPosts() != 300 || len(camp.GetCampaign().GetRegions()) != 3 || camp.GetCampaign().GetRegion() != "london" {
		t.Fatalf("campaign = %v", camp.GetCampaign())
	}

	// The attack: London's SPOC creating a campaign that adds Wales.
	r := c.run(spocLondon, "campaigns", "create", "--region", "london=10,wales=5", "--role", "administrator",
		"--title", "Mine", "--rolling", "--opens-on", opens)
	if r.code == 0 || !strings.Contains(r.stderr, "permission denied") || !strings.Contains(r.stderr, "wales") {
		t.Errorf("a London SPOC adding Wales: exit %d\n%s", r.code, r.stderr)
	}

	var app applicationsv1.SubmitApplicationResponse
	c.json(spocWales, &app, "applications", "submit", "--campaign", id, "--region", "wales",
		"--name", "Wyn Jones", "--email", "wyn@example.org")
	if app.GetApplication().GetRegion() != "wales" {
		t.Errorf("application = %v, want in wales", app.GetApplication())
	}

	var closed applicationsv1.SetCampaignStatusResponse
	c.json(admin, &closed, "campaigns", "status", id, "--to", "closed", "--reason", "filled")
	if closed.GetCampaign().GetStatus() != commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED {
		t.Errorf("after closing: %v", closed.GetCampaign())
	}
	r = c.run(spocLondon, "applications", "submit", "--campaign", id, "--region", "london", "--name", "Late", "--email", "late@example.org")
	if r.code == 0 || !strings.Contains(r.stderr, "campaign is CLOSED") {
		t.Errorf("submitting to a closed campaign: exit %d\n%s", r.code, r.stderr)
	}

	var prog reportingv1.GetCampaignProgressResponse
	c.eventuallyJSON(admin, &prog, func() error {
		if prog.GetTotal().GetApplications() != 1 || prog.GetCampaign().GetStatus() != commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED {
			return fmt.Errorf("progress %v", &prog)
		}
		return nil
	}, "campaigns", "progress", id)
	if len(prog.GetRegions()) != 3 || prog.GetRegions()[1].GetApplications() != 1 || prog.GetTotal().GetRemaining() != 300 {
		t.Errorf("admin's progress = %v", &prog)
	}
	both := c.ok(dashBoth, "campaigns", "progress", id, "-o", "csv")
	var seen []string
	for _, row := range readCSV(t, both.stdout)[1:] {
		seen = append(seen, row[3])
	}
	if strings.Join(seen, ",") != "london,wales" || !strings.Contains(both.stderr, "no total") {
		t.Errorf("London and Wales's reader sees regions %v (stderr %q), want london and wales and no total", seen, both.stderr)
	}
	rows := readCSV(t, c.ok(spocWales, "campaigns", "progress", "--region", "wales", "-o", "csv").stdout)
	if len(rows) != 2 || rows[1][0] != id || rows[1][3] != "wales" || rows[1][4] != "30" || rows[1][5] != "1" {
		t.Errorf("wales's campaigns = %q", rows)
	}
}
