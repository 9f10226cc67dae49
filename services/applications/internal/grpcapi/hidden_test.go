package grpcapi_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

// TestAnotherRegionsRecordIsNotFound reads and changes London's campaign
// and application as callers of other regions, and does the same with ids
// that exist nowhere: each answer is the same NotFound, word for word, so
// no caller can learn that an id exists in a region it may not see; and
// nothing changes.
func TestAnotherRegionsRecordIsNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london := e.openCampaign(t, "london")
	a := e.submit(t, e.as(t, spocLondon), london.GetId(), candidate("Ada Lovelace"))
	before := e.counts(t)

	calls := map[string]func(ctx context.Context, c pb.ApplicationsServiceClient, campaignID, applicationID string) error{
		"GetCampaign": func(ctx context.Context, c pb.ApplicationsServiceClient, campaignID, _ string) error {
			_, err := c.GetCampaign(ctx, &pb.GetCampaignRequest{CampaignId: campaignID})
			return err
		},
		"SubmitApplication": func(ctx context.Context, c pb.ApplicationsServiceClient, campaignID, _ string) error {
			_, err := c.SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: campaignID, Candidate: candidate("Grace Hopper")})
			return err
		},
		"GetApplication": func(ctx context.Context, c pb.ApplicationsServiceClient, _, applicationID string) error {
			_, err := c.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: applicationID})
			return err
		},
		"WithdrawApplication": func(ctx context.Context, c pb.ApplicationsServiceClient, _, applicationID string) error {
			_, err := c.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: applicationID,
				ExpectedVersion: 1, ReasonCode: "candidate_request"})
			return err
		},
	}
	walesVetting := auth.Claims{Subject: "vetting-wales", Role: auth.RoleVetting, Regions: []string{"wales"}}
	callers := map[string]auth.Claims{"wales spoc": spocWales, "wales vetting": walesVetting}
	for who, caller := range callers {
		c := e.as(t, caller)
		for name, call := range calls {
			if caller.Role != auth.RoleSPOC && name != "GetCampaign" {
				continue // not the role's calls: PermissionDenied before any record
			}
			t.Run(who+" "+name, func(t *testing.T) {
				other := call(t.Context(), c, london.GetId(), a.GetId())
				missing := call(t.Context(), c, event.NewID(), event.NewID())
				testenv.WantSameAsMissing(t, other, missing, codes.NotFound)
			})
		}
	}
	e.wantCounts(t, before)
	// The same calls by London's SPOC find the records, so the NotFound is
	// about the region.
	if err := calls["GetApplication"](t.Context(), e.as(t, spocLondon), london.GetId(), a.GetId()); err != nil {
		t.Errorf("London's SPOC reading its application: %v", err)
	}
}
