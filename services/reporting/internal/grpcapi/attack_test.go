package grpcapi_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
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
