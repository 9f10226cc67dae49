package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// national is a campaign in several regions: its events carry every
// region's posts, on the lead region's subject.
type national struct {
	*campaign
	regions []*commonv1.CampaignRegion
}

func (n *national) details(status commonv1.CampaignStatus) *eventsv1.CampaignDetails {
	d := &eventsv1.CampaignDetails{Title: "National admin campaign", OpensOn: event.Date(day(time.March, 1)),
		ClosesOn: event.Date(day(time.March, 31)), Regions: n.regions, Status: status}
	for _, r := range n.regions {
		d.Posts += r.GetPosts()
	}
	return d
}

func (n *national) created(at time.Time) *eventsv1.Event {
	n.version++
	ev := event.New("applications", system, at, event.Record{CampaignID: n.id, Region: n.region, Role: n.role, Version: n.version})
	ev.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: n.details(commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN)}}
	return ev
}

func (n *national) statusChanged(at time.Time, from, to commonv1.CampaignStatus) *eventsv1.Event {
	n.version++
	ev := event.New("applications", system, at, event.Record{CampaignID: n.id, Region: n.region, Role: n.role, Version: n.version})
	ev.Payload = &eventsv1.Event_CampaignStatusChanged{CampaignStatusChanged: &eventsv1.CampaignStatusChanged{Campaign: n.details(to), From: from, ReasonCode: "filled"}}
	return ev
}

// in is an application to the campaign in region (its own, not the
// campaign's lead region).
func (n *national) in(region string) *app {
	return newApp(&campaign{id: n.id, region: region, role: n.role})
}

func (a *app) offerWithdrawnAfterStart(at time.Time) *app {
	return a.add("offers", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}}
	})
}

// hired runs an application through to a start on day d of April.
func (a *app) hired(d int) *app {
	start := day(time.April, d+7)
	return a.submitted(at(time.March, 2, 10)).siftPassed(at(time.March, 10, 10)).interviewPassed(at(time.March, 20, 10)).
		offerMade(at(time.April, d, 10)).offerAccepted(at(time.April, d+1, 10)).started(at(time.April, d+7, 9), start, true, start.AddDate(0, 1, 0))
}

func progress(region string, posts, apps, sift, offers, accepted, started, filled int32) *pb.CampaignProgress {
	return &pb.CampaignProgress{Region: region, Posts: posts, Applications: apps, PassedSift: sift, Offers: offers, Accepted: accepted,
		Started: started, Filled: filled, Remaining: max(posts-filled, 0)}
}

// TestCampaignProgress: a 300-post campaign over three regions, its
// applications through real NATS into the projection; progress per region
// and in total, as of now and as of a past time; the status from
// campaign.status_changed; and a campaign whose events came before
// campaigns had several regions.
func TestCampaignProgress(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.startPipeline(t)
	n := &national{campaign: newCampaign("london", commonv1.JobRole_JOB_ROLE_ADMINISTRATOR), regions: []*commonv1.CampaignRegion{
		{Region: "london", Posts: 120}, {Region: "wales", Posts: 30}, {Region: "north-east", Posts: 150},
	}}
	p.publish(t, n.created(at(time.February, 20, 9)))
	// London: two hired (one on 1 April, one on 10 April), one passed the
	// sift only, one submitted only. Wales: one hired, then its vetting
	// failed and the offer was withdrawn on 1 May: no post filled.
	// North-east: nothing yet.
	apps := []*app{
		n.in("london").hired(1), n.in("london").hired(10),
		n.in("london").submitted(at(time.March, 3, 10)).siftPassed(at(time.March, 12, 10)),
		n.in("london").submitted(at(time.March, 4, 10)),
		n.in("wales").hired(2).offerWithdrawnAfterStart(at(time.May, 1, 10)),
	}
	for _, a := range apps {
		p.publish(t, a.evs...)
	}
	// A campaign written before campaigns had regions: no regions in its
	// event, the envelope's region with all the posts.
	old := newCampaign("wales", po)
	p.publish(t, old.created(at(time.February, 1, 9), day(time.February, 1), nil))
	oldApp := newApp(old).hired(3)
	p.publish(t, oldApp.evs...)
	p.waitApplied(t)

	ctx := t.Context()
	get := func(t *testing.T, c auth.Claims, asOf *time.Time) *pb.GetCampaignProgressResponse {
		t.Helper()
		req := &pb.GetCampaignProgressRequest{CampaignId: n.id}
		if asOf != nil {
			req.AsOf = ts(*asOf)
		}
		resp, err := e.as(t, c).GetCampaignProgress(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	t.Run("per region and in total", func(t *testing.T) {
		resp := get(t, admin, nil)
		wantProto(t, "campaign", resp.GetCampaign(), &pb.CampaignSummary{CampaignId: n.id, Title: "National admin campaign",
			Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, Status: commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN,
			OpensOn: event.Date(day(time.March, 1)), ClosesOn: event.Date(day(time.March, 31)), Regions: []string{"london", "wales", "north-east"}})
		want := []*pb.CampaignProgress{
			progress("london", 120, 4, 3, 2, 2, 2, 2),
			progress("wales", 30, 1, 1, 1, 1, 1, 0),
			progress("north-east", 150, 0, 0, 0, 0, 0, 0),
		}
		wantProto(t, "regions", &pb.GetCampaignProgressResponse{Regions: resp.GetRegions()}, &pb.GetCampaignProgressResponse{Regions: want})
		wantProto(t, "total", resp.GetTotal(), progress("", 300, 5, 4, 3, 3, 3, 2))
	})

	t.Run("as of a past time", func(t *testing.T) {
		// 9 April: the second London offer (10 April) not made yet, the
		// first London start (8 April) and the Wales one (9 April) made,
		// the Wales withdrawal (1 May) not yet: Wales's post is filled.
		asOf := at(time.April, 9, 12)
		resp := get(t, admin, &asOf)
		want := []*pb.CampaignProgress{
			progress("london", 120, 4, 3, 1, 1, 1, 1),
			progress("wales", 30, 1, 1, 1, 1, 1, 1),
			progress("north-east", 150, 0, 0, 0, 0, 0, 0),
		}
		wantProto(t, "regions", &pb.GetCampaignProgressResponse{Regions: resp.GetRegions()}, &pb.GetCampaignProgressResponse{Regions: want})
		wantProto(t, "total", resp.GetTotal(), progress("", 300, 5, 4, 2, 2, 2, 2))
		// Before anything was submitted.
		before := at(time.March, 1, 0)
		if got := get(t, admin, &before).GetTotal(); got.GetApplications() != 0 || got.GetRemaining() != 300 {
			t.Errorf("total before any application = %v", got)
		}
	})

	t.Run("status", func(t *testing.T) {
		p.publish(t, n.statusChanged(at(time.May, 2, 9), commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN, commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED))
		p.waitApplied(t)
		resp := get(t, admin, nil)
		if resp.GetCampaign().GetStatus() != commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED {
			t.Errorf("status = %v, want CLOSED", resp.GetCampaign().GetStatus())
		}
		if resp.GetTotal().GetPosts() != 300 || len(resp.GetRegions()) != 3 {
			t.Errorf("after the status change: %v", resp)
		}
	})

	t.Run("a campaign of before is its one region", func(t *testing.T) {
		resp, err := e.as(t, admin).GetCampaignProgress(ctx, &pb.GetCampaignProgressRequest{CampaignId: old.id})
		if err != nil {
			t.Fatal(err)
		}
		wantProto(t, "regions", &pb.GetCampaignProgressResponse{Regions: resp.GetRegions()},
			&pb.GetCampaignProgressResponse{Regions: []*pb.CampaignProgress{progress("wales", 4, 1, 1, 1, 1, 1, 1)}})
		if resp.GetCampaign().GetStatus() != commonv1.CampaignStatus_CAMPAIGN_STATUS_OPEN {
			t.Errorf("status = %v, want OPEN", resp.GetCampaign().GetStatus())
		}
	})

	t.Run("a region's campaigns", func(t *testing.T) {
		resp, err := e.as(t, auth.Claims{Subject: "dash-wales", Role: auth.RoleDashboard, Regions: []string{"wales"}}).
			ListCampaignProgress(ctx, &pb.ListCampaignProgressRequest{Region: "wales"})
		if err != nil {
			t.Fatal(err)
		}
		// Newest first: the national campaign's id is the later UUIDv7.
		var got []string
		for _, c := range resp.GetCampaigns() {
			got = append(got, c.GetCampaign().GetCampaignId()+" "+c.GetProgress().GetRegion())
		}
		want := []string{n.id + " wales", old.id + " wales"}
		if n.id < old.id {
			want = []string{old.id + " wales", n.id + " wales"}
		}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("wales lists %v, want %v", got, want)
		}
		_, err = e.as(t, dashLondon).ListCampaignProgress(ctx, &pb.ListCampaignProgressRequest{Region: "wales"})
		testenv.WantStatus(t, err, codes.PermissionDenied)
	})
}

// TestCampaignProgressScoping: a caller sees only the regions it holds of
// a campaign, and the total only holding all of them.
func TestCampaignProgressScoping(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := &national{campaign: newCampaign("london", commonv1.JobRole_JOB_ROLE_ADMINISTRATOR), regions: []*commonv1.CampaignRegion{
		{Region: "london", Posts: 120}, {Region: "wales", Posts: 30}, {Region: "north-east", Posts: 150},
	}}
	e.apply(t, n.created(at(time.February, 20, 9)))
	e.apply(t, n.in("wales").hired(2).evs...)
	e.apply(t, n.in("london").submitted(at(time.March, 3, 10)).evs...)

	ctx := t.Context()
	for _, tt := range []struct {
		name    string
		caller  auth.Claims
		regions []string
		total   bool
	}{
		{"admin", admin, []string{"london", "wales", "north-east"}, true},
		{"london's SPOC", spocLondon, []string{"london"}, false},
		{"london's dashboard", dashLondon, []string{"london"}, false},
		{"london's vetting", vettingLondon, []string{"london"}, false},
		{"two of three", auth.Claims{Subject: "spoc-2", Role: auth.RoleSPOC, Regions: []string{"wales", "london"}}, []string{"london", "wales"}, false},
		{"every region", auth.Claims{Subject: "dash-3", Role: auth.RoleDashboard, Regions: []string{"north-east", "wales", "london", "kent-surrey-sussex"}},
			[]string{"london", "wales", "north-east"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.as(t, tt.caller).GetCampaignProgress(ctx, &pb.GetCampaignProgressRequest{CampaignId: n.id})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range resp.GetRegions() {
				got = append(got, r.GetRegion())
			}
			if len(got) != len(tt.regions) {
				t.Fatalf("regions %v, want %v", got, tt.regions)
			}
			for i := range got {
				if got[i] != tt.regions[i] {
					t.Errorf("regions %v, want %v", got, tt.regions)
				}
			}
			if (resp.GetTotal() != nil) != tt.total {
				t.Errorf("total = %v, want one: %v", resp.GetTotal(), tt.total)
			}
			if tt.total && resp.GetTotal().GetApplications() != 2 {
				t.Errorf("total = %v", resp.GetTotal())
			}
		})
	}

	// A caller of none of its regions: not found, as a missing campaign.
	kent := auth.Claims{Subject: "spoc-kent", Role: auth.RoleSPOC, Regions: []string{"kent-surrey-sussex"}}
	_, err := e.as(t, kent).GetCampaignProgress(ctx, &pb.GetCampaignProgressRequest{CampaignId: n.id})
	st := testenv.WantStatus(t, err, codes.NotFound)
	_, err = e.as(t, kent).GetCampaignProgress(ctx, &pb.GetCampaignProgressRequest{CampaignId: event.NewID()})
	if st2 := testenv.WantStatus(t, err, codes.NotFound); st2.Message() != st.Message() {
		t.Errorf("another region's campaign says %q, a missing one %q", st.Message(), st2.Message())
	}
	_, err = e.as(t, kent).GetCampaignProgress(ctx, &pb.GetCampaignProgressRequest{CampaignId: "not-a-uuid"})
	testenv.WantField(t, err, "campaign_id")
	_, err = e.dial(t, "").GetCampaignProgress(ctx, &pb.GetCampaignProgressRequest{CampaignId: n.id})
	testenv.WantStatus(t, err, codes.Unauthenticated)
}
