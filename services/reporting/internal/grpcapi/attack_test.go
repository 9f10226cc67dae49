package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestAnotherRegionsCampaignTellsNothing: the attack is a London token
// naming a Wales campaign in the campaign filter of the national (no
// region) and the London funnel, stage durations and vetting durations,
// hoping the filter pulls the Wales applications in. Every answer is the
// one a campaign that does not exist gets (so it neither counts Wales nor
// says the campaign exists), while an admin's national answer for it is
// not (the filter would find them).
func TestAnotherRegionsCampaignTellsNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := newScripted()
	e.apply(t, s.events...)
	adm, dash := e.as(t, admin), e.as(t, dashLondon)
	nowhere := event.NewID()

	type ask func(c pb.ReportingServiceClient, region, campaign string) proto.Message
	calls := map[string]ask{
		"GetFunnel": func(c pb.ReportingServiceClient, region, campaign string) proto.Message {
			r, err := c.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: region, CampaignId: campaign})
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
		"GetStageDurations": func(c pb.ReportingServiceClient, region, campaign string) proto.Message {
			r, err := c.GetStageDurations(t.Context(), &pb.GetStageDurationsRequest{Region: region, CampaignId: campaign})
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
		"GetVettingDurations": func(c pb.ReportingServiceClient, region, campaign string) proto.Message {
			r, err := c.GetVettingDurations(t.Context(), &pb.GetVettingDurationsRequest{Region: region, CampaignId: campaign})
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	}
	for name, call := range calls {
		for _, region := range []string{"", "london"} {
			if got, want := call(dash, region, s.cw.id), call(dash, region, nowhere); !proto.Equal(got, want) {
				t.Errorf("%s(region %q, Wales campaign) as London = %v; want what a missing campaign gets, %v", name, region, got, want)
			}
		}
	}
	if got, none := calls["GetFunnel"](adm, "", s.cw.id), calls["GetFunnel"](adm, "", nowhere); proto.Equal(got, none) {
		t.Error("the admin's national funnel of the Wales campaign is empty: the attack above proves nothing")
	}
}

// TestCampaignOverRegionsTellsOnlyTheCallersShare: the attack is a London
// token naming a campaign that recruits in London and Wales, with no
// region (every region it may see) or with London, in each report that
// filters by campaign — hoping the campaign pulls in its Wales
// applications. Every answer is the admin's London answer for the
// campaign, while the admin's national answer is not (the Wales share is
// there to leak).
func TestCampaignOverRegionsTellsOnlyTheCallersShare(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := &national{campaign: newCampaign("london", commonv1.JobRole_JOB_ROLE_ADMINISTRATOR), regions: []*commonv1.CampaignRegion{
		{Region: "london", Posts: 10}, {Region: "wales", Posts: 10},
	}}
	e.apply(t, n.created(at(time.February, 20, 9)))
	e.apply(t, n.in("wales").hired(2).evs...)
	e.apply(t, n.in("wales").submitted(at(time.March, 4, 10)).siftFailed(at(time.March, 9, 10)).evs...)
	e.apply(t, n.in("london").submitted(at(time.March, 3, 10)).evs...)
	adm, dash := e.as(t, admin), e.as(t, dashLondon)

	type ask func(c pb.ReportingServiceClient, region string) proto.Message
	must := func(m proto.Message, err error) proto.Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	calls := map[string]ask{
		"GetFunnel": func(c pb.ReportingServiceClient, region string) proto.Message {
			return must(c.GetFunnel(t.Context(), &pb.GetFunnelRequest{Region: region, CampaignId: n.id}))
		},
		"GetStageDurations": func(c pb.ReportingServiceClient, region string) proto.Message {
			return must(c.GetStageDurations(t.Context(), &pb.GetStageDurationsRequest{Region: region, CampaignId: n.id}))
		},
		"GetVettingDurations": func(c pb.ReportingServiceClient, region string) proto.Message {
			return must(c.GetVettingDurations(t.Context(), &pb.GetVettingDurationsRequest{Region: region, CampaignId: n.id}))
		},
		"GetReasonBreakdown": func(c pb.ReportingServiceClient, region string) proto.Message {
			return must(c.GetReasonBreakdown(t.Context(), &pb.GetReasonBreakdownRequest{Region: region, CampaignId: n.id}))
		},
	}
	for name, call := range calls {
		want := call(adm, "london")
		for _, region := range []string{"", "london"} {
			if got := call(dash, region); !proto.Equal(got, want) {
				t.Errorf("%s(region %q, the London and Wales campaign) as London = %v; want London's share %v", name, region, got, want)
			}
		}
	}
	for _, name := range []string{"GetFunnel", "GetReasonBreakdown"} {
		if proto.Equal(calls[name](adm, ""), calls[name](adm, "london")) {
			t.Errorf("%s: the admin's national answer is London's: the attack above proves nothing", name)
		}
	}
	_, err := dash.GetReasonBreakdown(t.Context(), &pb.GetReasonBreakdownRequest{Region: "wales", CampaignId: n.id})
	testenv.WantStatus(t, err, codes.PermissionDenied)
}
