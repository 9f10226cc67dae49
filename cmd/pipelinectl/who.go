package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

func newApplicationContactCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "contact APPLICATION_ID",
		Aliases: []string{"who"},
		Short:   "Who the candidate is and how to reach them (SPOC; vetting while the case is open; audited)",
		Long: `Show the candidate's name, email and phone with the application's region,
campaign and role, and nothing else of the application. The region's SPOCs
may read any application's; the region's vetting contact points only while
the application's vetting case is open. Every read is recorded in the
applications service's audit trail.`,
		Example: `  pipelinectl applications contact 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := a.applications.GetCandidateContact(cmd.Context(), &applicationsv1.GetCandidateContactRequest{ApplicationId: args[0]})
			if err != nil {
				return err
			}
			name := resp.GetCandidate().GetName()
			if resp.GetErased() {
				name = erasedName
			}
			return a.emit(resp, recordOf(view{
				columns: []string{"application_id", "region", "campaign_id", "role", "name", "email", "phone"},
				rows: [][]string{{resp.GetApplicationId(), resp.GetRegion(), resp.GetCampaignId(), friendly(resp.GetRole()),
					name, resp.GetCandidate().GetEmail(), resp.GetCandidate().GetPhone()}},
			}))
		},
	}
}

// people is how a work list names its candidates and campaigns: the
// candidate's name where the caller may read it, and the campaign's title.
type people struct {
	noNames bool
}

func (p *people) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&p.noNames, "no-names", false,
		"leave out the candidates' names (a CSV to share); names are read only in table and csv output, each read audited")
}

// names reads the names of the candidates of ids, one GetCandidateContact
// each, unless names are off or the output is json (which is the API's
// answer, without names). A candidate the caller may not read (the role,
// a vetting case not open, another region) has no entry: the list shows
// the application reference only. An erased candidate reads as erased.
func (p *people) names(ctx context.Context, a *app, ids []string) (map[string]string, error) {
	out, seen := map[string]string{}, map[string]bool{}
	if p.noNames || a.output == outputJSON {
		return out, nil
	}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		resp, err := a.applications.GetCandidateContact(ctx, &applicationsv1.GetCandidateContactRequest{ApplicationId: id})
		switch status.Code(err) {
		case codes.OK:
		case codes.PermissionDenied, codes.NotFound:
			continue
		default:
			return nil, err
		}
		out[id] = resp.GetCandidate().GetName()
		if resp.GetErased() {
			out[id] = erasedName
		}
	}
	return out, nil
}

// campaignTitles reads the titles of the campaigns ids (GetCampaign, once
// each) for table and csv output; a campaign the caller cannot read has
// no entry.
func campaignTitles(ctx context.Context, a *app, ids []string) (map[string]string, error) {
	out, seen := map[string]string{}, map[string]bool{}
	if a.output == outputJSON {
		return out, nil
	}
	for _, id := range ids {
		if seen[id] || id == "" {
			continue
		}
		seen[id] = true
		resp, err := a.applications.GetCampaign(ctx, &applicationsv1.GetCampaignRequest{CampaignId: id})
		switch status.Code(err) {
		case codes.OK:
			out[id] = resp.GetCampaign().GetTitle()
		case codes.PermissionDenied, codes.NotFound:
		default:
			return nil, err
		}
	}
	return out, nil
}

// addNames adds the campaign_title and candidate columns to a work list
// whose rows have application_id and campaign_id columns.
func (p *people) addNames(ctx context.Context, a *app, v *view) error {
	appCol, campaignCol := slices.Index(v.columns, "application_id"), slices.Index(v.columns, "campaign_id")
	if appCol < 0 || campaignCol < 0 {
		return fmt.Errorf("a work list without application_id and campaign_id columns: %v", v.columns)
	}
	ids, campaigns := make([]string, len(v.rows)), make([]string, len(v.rows))
	for i, row := range v.rows {
		ids[i], campaigns[i] = row[appCol], row[campaignCol]
	}
	titles, err := campaignTitles(ctx, a, campaigns)
	if err != nil {
		return err
	}
	names, err := p.names(ctx, a, ids)
	if err != nil {
		return err
	}
	v.columns = append(v.columns, "campaign_title", "candidate")
	for i := range v.rows {
		v.rows[i] = append(v.rows[i], titles[campaigns[i]], names[ids[i]])
	}
	return nil
}
