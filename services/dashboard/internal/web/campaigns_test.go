package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// campaignReports answers the campaign calls as reporting would for a
// reader of London alone.
type campaignReports struct {
	Reports
	asked []string
}

const nationalID = "0190d6a0-5b1e-7c3a-9f00-2d4e6b8a1c33"

var national = &pb.CampaignSummary{CampaignId: nationalID, Title: "National admin campaign", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR,
	Status: commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN, Regions: []string{"london", "wales", "north-east"}}

func (c *campaignReports) ListCampaignProgress(_ context.Context, in *pb.ListCampaignProgressRequest, _ ...grpc.CallOption) (*pb.ListCampaignProgressResponse, error) {
	c.asked = append(c.asked, "list "+in.GetRegion())
	return &pb.ListCampaignProgressResponse{Campaigns: []*pb.RegionCampaign{{Campaign: national,
		Progress: &pb.CampaignProgress{Region: "london", Posts: 120, Applications: 300, PassedSift: 150, Offers: 90, Accepted: 80, Started: 60, Filled: 58, Remaining: 62}}}}, nil
}

func (c *campaignReports) GetCampaignProgress(_ context.Context, in *pb.GetCampaignProgressRequest, _ ...grpc.CallOption) (*pb.GetCampaignProgressResponse, error) {
	c.asked = append(c.asked, "get "+in.GetCampaignId())
	return &pb.GetCampaignProgressResponse{Campaign: national, Regions: []*pb.CampaignProgress{
		{Region: "london", Posts: 120, Applications: 300, PassedSift: 150, Offers: 90, Accepted: 80, Started: 60, Filled: 58, Remaining: 62}}}, nil
}

// TestCampaignPages: a region's campaigns and a campaign's page show what
// reporting answers; with no total (the reader does not hold every
// region) the page says why.
func TestCampaignPages(t *testing.T) {
	t.Parallel()
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	reports := &campaignReports{}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, pages: p, reports: reports}
	get := func(path string, handler func(http.ResponseWriter, *http.Request), values map[string]string) string {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for k, v := range values {
			req.SetPathValue(k, v)
		}
		rec := httptest.NewRecorder()
		handler(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d\n%s", path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	list := get("/regions/london/campaigns", func(w http.ResponseWriter, r *http.Request) { s.regionCampaigns(w, r, nil) }, map[string]string{"region": "london"})
	for _, want := range []string{`href="/campaigns/` + nationalID + `?region=london"`, "National admin campaign", "Regions: London, Wales, North East",
		`data-field="filled">58<`, `data-field="remaining">62<`, "Open"} {
		if !strings.Contains(list, want) {
			t.Errorf("campaigns page lacks %q", want)
		}
	}
	page := get("/campaigns/"+nationalID+"?region=london", func(w http.ResponseWriter, r *http.Request) { s.campaign(w, r, nil) }, map[string]string{"campaign": nationalID})
	for _, want := range []string{`data-region-row="London"`, `id="no-total"`, `value="48"`, `href="/regions/london/campaigns"`} {
		if !strings.Contains(page, want) {
			t.Errorf("campaign page lacks %q", want)
		}
	}
	if strings.Contains(page, "<tfoot>") {
		t.Error("the campaign page shows a total reporting did not give")
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/campaigns/nonsense", nil)
	req.SetPathValue("campaign", "nonsense")
	s.campaign(rec, req, nil)
	if rec.Code != http.StatusNotFound {
		t.Errorf("a malformed campaign id: %d, want 404", rec.Code)
	}
	if strings.Join(reports.asked, ",") != "list london,get "+nationalID {
		t.Errorf("reporting asked %v", reports.asked)
	}
}
