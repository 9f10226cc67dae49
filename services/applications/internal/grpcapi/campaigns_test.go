package grpcapi_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func regionPosts(kv ...any) []*commonv1.CampaignRegion {
	var out []*commonv1.CampaignRegion
	for i := 0; i < len(kv); i += 2 {
		out = append(out, &commonv1.CampaignRegion{Region: kv[i].(string), Posts: int32(kv[i+1].(int))})
	}
	return out
}

func (e *env) multiCampaign(t *testing.T, as auth.Claims, regions []*commonv1.CampaignRegion) (*pb.Campaign, error) {
	t.Helper()
	resp, err := e.as(t, as).CreateCampaign(t.Context(), &pb.CreateCampaignRequest{
		RequestId: reqID(), Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, Title: "National admin campaign",
		OpensOn: date(2026, 11, 1), ClosesOn: date(2026, 12, 31), Regions: regions,
	})
	return resp.GetCampaign(), err
}

// TestMultiRegionCampaigns: a campaign in several regions with posts per
// region; who may create and change one; applications keep their own
// region; campaign events carry every region's posts.
func TestMultiRegionCampaigns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()

	national, err := e.multiCampaign(t, admin, regionPosts("london", 120, "wales", 30, "north-east", 150))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("created with posts per region", func(t *testing.T) {
		if national.GetRegion() != "london" || national.GetPosts() != 300 || len(national.GetRegions()) != 3 ||
			national.GetRegions()[2].GetRegion() != "north-east" || national.GetRegions()[2].GetPosts() != 150 ||
			national.GetStatus() != commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN {
			t.Errorf("campaign = %v", national)
		}
		evs := testenv.OutboxEvents(t, e.Pool, national.GetId())
		if len(evs) != 1 || evs[0].Subject != "london.campaign.created" {
			t.Fatalf("events = %v, want one london.campaign.created (the lead region's subject)", evs)
		}
		d := evs[0].Event.GetCampaignCreated().GetCampaign()
		if d.GetPosts() != 300 || !proto.Equal(&pb.Campaign{Regions: d.GetRegions()}, &pb.Campaign{Regions: national.GetRegions()}) ||
			d.GetStatus() != commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN {
			t.Errorf("campaign.created = %v", d)
		}
	})

	t.Run("a single-region campaign is a campaign with one region entry", func(t *testing.T) {
		one := e.openCampaign(t, "wales")
		if len(one.GetRegions()) != 1 || one.GetRegions()[0].GetRegion() != "wales" || one.GetRegions()[0].GetPosts() != 25 {
			t.Errorf("campaign = %v", one)
		}
		d := testenv.OutboxEvents(t, e.Pool, one.GetId())[0].Event.GetCampaignCreated().GetCampaign()
		if len(d.GetRegions()) != 1 || d.GetRegions()[0].GetRegion() != "wales" {
			t.Errorf("campaign.created = %v", d)
		}
		// Its posts change as before, with posts alone.
		u, err := e.as(t, admin).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: one.GetId(), ExpectedVersion: 1,
			Title: one.GetTitle(), Posts: 40, OpensOn: one.GetOpensOn(), ClosesOn: one.GetClosesOn()})
		if err != nil {
			t.Fatal(err)
		}
		if u.GetCampaign().GetPosts() != 40 || u.GetCampaign().GetRegions()[0].GetPosts() != 40 {
			t.Errorf("updated = %v", u.GetCampaign())
		}
	})

	t.Run("who may create one", func(t *testing.T) {
		// A SPOC holding every region may.
		c, err := e.multiCampaign(t, spocTwo, regionPosts("wales", 5, "london", 10))
		if err != nil {
			t.Fatalf("spoc of london and wales: %v", err)
		}
		if c.GetRegion() != "wales" || c.GetPosts() != 15 {
			t.Errorf("campaign = %v", c)
		}
		// The attack: a SPOC adding a region not theirs.
		before := e.counts(t)
		_, err = e.multiCampaign(t, spocLondon, regionPosts("london", 10, "wales", 5))
		testenv.WantStatus(t, err, codes.PermissionDenied, "wales")
		_, err = e.multiCampaign(t, spocLondon, regionPosts("kent-surrey-sussex", 1))
		testenv.WantStatus(t, err, codes.PermissionDenied)
		_, err = e.multiCampaign(t, dashboard, regionPosts("london", 1))
		testenv.WantStatus(t, err, codes.PermissionDenied)
		e.wantCounts(t, before)
	})

	t.Run("a spoc may not add a region not theirs by update", func(t *testing.T) {
		mine, err := e.multiCampaign(t, spocLondon, regionPosts("london", 10))
		if err != nil {
			t.Fatal(err)
		}
		before := e.counts(t)
		_, err = e.as(t, spocLondon).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: mine.GetId(), ExpectedVersion: 1,
			Title: mine.GetTitle(), OpensOn: mine.GetOpensOn(), ClosesOn: mine.GetClosesOn(), Regions: regionPosts("london", 10, "wales", 50)})
		testenv.WantStatus(t, err, codes.PermissionDenied, "wales")
		// Nor change a campaign with a region not theirs.
		_, err = e.as(t, spocLondon).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: national.GetId(), ExpectedVersion: 1,
			Title: "Mine now", OpensOn: national.GetOpensOn(), Regions: regionPosts("london", 300, "wales", 30, "north-east", 150)})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		_, err = e.as(t, spocLondon).SetCampaignStatus(ctx, &pb.SetCampaignStatusRequest{RequestId: reqID(), CampaignId: national.GetId(), ExpectedVersion: 1,
			Status: commonv1.CampaignStatus_CAMPAIGN_STATUS_CANCELLED, ReasonCode: "mine"})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		// A SPOC of none of its regions is told it does not exist.
		_, err = e.as(t, spocKent).SetCampaignStatus(ctx, &pb.SetCampaignStatusRequest{RequestId: reqID(), CampaignId: national.GetId(), ExpectedVersion: 1,
			Status: commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED})
		testenv.WantStatus(t, err, codes.NotFound)
		e.wantCounts(t, before)

		// An admin adds wales; a region is never removed.
		u, err := e.as(t, admin).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: mine.GetId(), ExpectedVersion: 1,
			Title: mine.GetTitle(), OpensOn: mine.GetOpensOn(), ClosesOn: mine.GetClosesOn(), Regions: regionPosts("london", 12, "wales", 3)})
		if err != nil {
			t.Fatal(err)
		}
		if u.GetCampaign().GetPosts() != 15 || len(u.GetCampaign().GetRegions()) != 2 {
			t.Errorf("updated = %v", u.GetCampaign())
		}
		evs := testenv.OutboxEvents(t, e.Pool, mine.GetId())
		if d := evs[len(evs)-1].Event.GetCampaignUpdated().GetCampaign(); len(d.GetRegions()) != 2 || d.GetRegions()[1].GetPosts() != 3 || d.GetPosts() != 15 {
			t.Errorf("campaign.updated = %v", d)
		}
		_, err = e.as(t, admin).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: mine.GetId(), ExpectedVersion: 2,
			Title: mine.GetTitle(), OpensOn: mine.GetOpensOn(), Regions: regionPosts("wales", 3)})
		testenv.WantField(t, err, "regions")
		_, err = e.as(t, admin).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: mine.GetId(), ExpectedVersion: 2,
			Title: mine.GetTitle(), OpensOn: mine.GetOpensOn(), Posts: 9})
		testenv.WantField(t, err, "regions")
		// Now in wales too, the london-only SPOC may no longer change it.
		_, err = e.as(t, spocLondon).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: mine.GetId(), ExpectedVersion: 2,
			Title: "x", OpensOn: mine.GetOpensOn(), Regions: regionPosts("london", 12, "wales", 3)})
		testenv.WantStatus(t, err, codes.PermissionDenied)
	})

	t.Run("validation", func(t *testing.T) {
		for _, tt := range []struct {
			regions []*commonv1.CampaignRegion
			field   string
		}{
			{regionPosts("london", 1, "london", 2), "regions[1].region"},
			{regionPosts("atlantis", 1), "regions[0].region"},
			{regionPosts("london", 0), "regions[0].posts"},
			{regionPosts("london", 10001), "regions[0].posts"},
		} {
			_, err := e.multiCampaign(t, admin, tt.regions)
			testenv.WantField(t, err, tt.field)
		}
		_, err := e.as(t, admin).CreateCampaign(ctx, &pb.CreateCampaignRequest{RequestId: reqID(), Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR,
			Title: "Both", Region: "london", Posts: 3, OpensOn: date(2026, 11, 1), Regions: regionPosts("wales", 1)})
		testenv.WantField(t, err, "regions")
	})

	t.Run("applications keep their own region", func(t *testing.T) {
		a := e.submitTo(t, spocTwo, national.GetId(), "wales", candidate("Wyn Jones"))
		if a.GetRegion() != "wales" || a.GetCampaignId() != national.GetId() {
			t.Errorf("application = %v", a)
		}
		evs := testenv.OutboxEvents(t, e.Pool, a.GetId())
		if len(evs) != 1 || evs[0].Subject != "wales.application.submitted" || evs[0].Event.GetRegion() != "wales" {
			t.Errorf("events = %v, want wales.application.submitted", evs)
		}
		// The region is needed when the campaign has several.
		_, err := e.as(t, spocLondon).SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: national.GetId(), Candidate: candidate("No Region")})
		testenv.WantField(t, err, "application_region")
		_, err = e.as(t, admin).SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: national.GetId(), ApplicationRegion: "kent-surrey-sussex", Candidate: candidate("Not Here")})
		testenv.WantField(t, err, "application_region")
		// A SPOC of london may not submit for wales.
		before := e.counts(t)
		_, err = e.as(t, spocLondon).SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: national.GetId(), ApplicationRegion: "wales", Candidate: candidate("Not Mine")})
		testenv.WantStatus(t, err, codes.PermissionDenied, "wales")
		e.wantCounts(t, before)
		// Each region's SPOC sees the campaign and lists it; wales's
		// applications are not london's.
		for _, c := range []auth.Claims{spocLondon, spocWales} {
			resp, err := e.as(t, c).ListCampaigns(ctx, &pb.ListCampaignsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(ids(resp.GetCampaigns()), national.GetId()) {
				t.Errorf("%s does not list the national campaign", c.Subject)
			}
		}
		list, err := e.as(t, spocLondon).ListApplications(ctx, &pb.ListApplicationsRequest{CampaignId: national.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.GetApplications()) != 0 {
			t.Errorf("london's SPOC lists %v of wales", ids(list.GetApplications()))
		}
	})
}

func (e *env) submitTo(t *testing.T, as auth.Claims, campaignID, region string, cand *pb.Candidate) *pb.Application {
	t.Helper()
	resp, err := e.as(t, as).SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: campaignID, ApplicationRegion: region, Candidate: cand})
	if err != nil {
		t.Fatalf("submit %s: %v", cand.GetEmail(), err)
	}
	return resp.GetApplication()
}

// TestCampaignStatus: open → closed → open → cancelled, the transitions
// refused, applications refused to a campaign not open, and the events.
func TestCampaignStatus(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	c := e.openCampaign(t, "london")
	set := func(as auth.Claims, version int64, s commonv1.CampaignStatus, reason string) (*pb.Campaign, error) {
		resp, err := e.as(t, as).SetCampaignStatus(ctx, &pb.SetCampaignStatusRequest{RequestId: reqID(), CampaignId: c.GetId(),
			ExpectedVersion: version, Status: s, ReasonCode: reason})
		return resp.GetCampaign(), err
	}
	submit := func(name string) error {
		_, err := e.as(t, spocLondon).SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate(name)})
		return err
	}

	closed, err := set(spocLondon, 1, commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED, "filled")
	if err != nil {
		t.Fatal(err)
	}
	if closed.GetStatus() != commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED || closed.GetStatusReasonCode() != "filled" || closed.GetVersion() != 2 {
		t.Errorf("closed = %v", closed)
	}
	before := e.counts(t)
	st := testenv.WantStatus(t, submit("Too Late"), codes.FailedPrecondition, "CLOSED")
	t.Logf("submitting to a closed campaign: %s", st.Message())
	e.wantCounts(t, before)

	if _, err := set(admin, 2, commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED, ""); err == nil {
		t.Fatal("closing a closed campaign: want an error")
	} else {
		testenv.WantStatus(t, err, codes.FailedPrecondition, "CLOSED")
	}
	_, err = set(admin, 1, commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN, "")
	testenv.WantStatus(t, err, codes.Aborted)

	if _, err := set(admin, 2, commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN, "more_posts"); err != nil {
		t.Fatal(err)
	}
	if err := submit("Reopened Applicant"); err != nil {
		t.Fatalf("submitting to a reopened campaign: %v", err)
	}
	_, err = set(admin, 3, commonv1.CampaignStatus_CAMPAIGN_STATUS_CANCELLED, "")
	testenv.WantField(t, err, "reason_code")
	_, err = set(admin, 3, commonv1.CampaignStatus_CAMPAIGN_STATUS_UNSPECIFIED, "")
	testenv.WantField(t, err, "status")
	if _, err := set(admin, 3, commonv1.CampaignStatus_CAMPAIGN_STATUS_CANCELLED, "budget_withdrawn"); err != nil {
		t.Fatal(err)
	}
	testenv.WantStatus(t, submit("After Cancel"), codes.FailedPrecondition, "CANCELLED")
	_, err = set(admin, 4, commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN, "")
	testenv.WantStatus(t, err, codes.FailedPrecondition, "CANCELLED")
	_, err = e.as(t, admin).UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: c.GetId(), ExpectedVersion: 4,
		Title: "x", Posts: 3, OpensOn: c.GetOpensOn()})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "CANCELLED")

	var got []string
	for _, ev := range testenv.OutboxEvents(t, e.Pool, c.GetId()) {
		if sc := ev.Event.GetCampaignStatusChanged(); sc != nil {
			got = append(got, ev.Subject+" "+sc.GetFrom().String()+"→"+sc.GetCampaign().GetStatus().String()+" "+sc.GetReasonCode())
		}
	}
	want := []string{
		"london.campaign.status_changed CAMPAIGN_STATUS_OPEN→CAMPAIGN_STATUS_CLOSED filled",
		"london.campaign.status_changed CAMPAIGN_STATUS_CLOSED→CAMPAIGN_STATUS_OPEN more_posts",
		"london.campaign.status_changed CAMPAIGN_STATUS_OPEN→CAMPAIGN_STATUS_CANCELLED budget_withdrawn",
	}
	if !slices.Equal(got, want) {
		t.Errorf("status events:\n%v\nwant\n%v", got, want)
	}
}

// TestImportMultiRegionCampaign: rows naming a campaign in several regions
// (campaign_regions) make one campaign, across calls, each application in
// its row's region; a row that disagrees is refused naming the column.
func TestImportMultiRegionCampaign(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	c := e.as(t, importer)
	row := func(ref, region string, regions []*commonv1.CampaignRegion) *pb.ImportRow {
		r := fullRow(ref)
		r.CampaignReference, r.Region, r.Posts, r.CampaignRegions, r.CampaignTitle = "NATIONAL", region, 0, regions, "Admin (national)"
		r.History = nil
		return r
	}
	regions := regionPosts("london", 2, "wales", 1)
	first, err := c.ImportApplications(ctx, &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{row("N-1", "london", regions)}})
	if err != nil || first.GetImported() != 1 {
		t.Fatalf("first call: %v %v", first, err)
	}
	// A later call (pipelinectl sends a file in batches) adds a wales row
	// to the same campaign; two rows fail.
	resp, err := c.ImportApplications(ctx, &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{
		row("N-2", "wales", regions),
		row("N-3", "kent-surrey-sussex", regions),
		row("N-4", "wales", regionPosts("london", 2, "wales", 5)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetImported() != 1 || resp.GetFailed() != 2 {
		t.Fatalf("second call = %v", resp)
	}
	wantItemField(t, resp.GetResults()[1].GetStatus(), "rows[1].region")
	wantItemField(t, resp.GetResults()[2].GetStatus(), "rows[2].campaign_regions")

	london, err := e.as(t, admin).GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: first.GetResults()[0].GetApplicationId()})
	if err != nil {
		t.Fatal(err)
	}
	wales, err := e.as(t, admin).GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: resp.GetResults()[0].GetApplicationId()})
	if err != nil {
		t.Fatal(err)
	}
	if london.GetApplication().GetCampaignId() != wales.GetApplication().GetCampaignId() ||
		london.GetApplication().GetRegion() != "london" || wales.GetApplication().GetRegion() != "wales" {
		t.Fatalf("applications %v and %v", london.GetApplication(), wales.GetApplication())
	}
	camp, err := e.as(t, spocWales).GetCampaign(ctx, &pb.GetCampaignRequest{CampaignId: wales.GetApplication().GetCampaignId()})
	if err != nil {
		t.Fatal(err)
	}
	if camp.GetCampaign().GetPosts() != 3 || len(camp.GetCampaign().GetRegions()) != 2 {
		t.Errorf("campaign = %v", camp.GetCampaign())
	}
	evs := testenv.OutboxEvents(t, e.Pool, wales.GetApplication().GetId())
	if len(evs) == 0 || evs[0].Subject != "wales.application.submitted" {
		t.Errorf("wales application's events = %v", evs)
	}
}

// wantItemField fails unless a row's status is INVALID_ARGUMENT naming field.
func wantItemField(t *testing.T, st *commonv1.ItemStatus, field string) {
	t.Helper()
	if st.GetCode() != "INVALID_ARGUMENT" || st.GetField() != field {
		t.Errorf("row status %s %q on %q, want INVALID_ARGUMENT on %s", st.GetCode(), st.GetMessage(), st.GetField(), field)
	}
}
