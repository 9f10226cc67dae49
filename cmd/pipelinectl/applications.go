package main

import (
	"context"

	"github.com/spf13/cobra"

	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func init() {
	register(newCampaignsCmd)
	register(newApplicationsCmd)
}

func newCampaignsCmd(a *app) *cobra.Command {
	return group("campaigns", "Open, change and read recruitment campaigns (applications service)",
		`A campaign recruits for one job role in one region, between an opening and a
closing date (none for a rolling campaign). Admins create and update
campaigns; every role reads those of its regions.`,
		newCampaignCreateCmd(a), newCampaignUpdateCmd(a), newCampaignGetCmd(a), newCampaignListCmd(a))
}

func newCampaignCreateCmd(a *app) *cobra.Command {
	var (
		ch      change
		reg     regionValue
		role    = newEnum(commonv1.JobRole(0))
		title   string
		posts   int32
		opens   dateValue
		closes  dateValue
		rolling bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Open a campaign in a region (admin)",
		Example: `  pipelinectl campaigns create --region london --role administrator --title "Administrative officers" \
    --posts 300 --opens-on 2026-11-01 --closes-on 2027-06-30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if closes.d == nil && !rolling {
				return usagef("give --closes-on, or --rolling for a campaign with no closing date")
			}
			if err := ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.applications.CreateCampaign(cmd.Context(), &applicationsv1.CreateCampaignRequest{
				RequestId: ch.requestID, Region: string(reg), Role: commonv1.JobRole(role.number()),
				Title: title, Posts: posts, OpensOn: opens.d, ClosesOn: closes.d,
			})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(campaignView(resp.GetCampaign())))
		},
	}
	addChange(cmd, &ch, false)
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("region of the campaign"))
	f.Var(role, "role", "job role recruited for; "+oneOf(commonv1.JobRole(0)))
	f.StringVar(&title, "title", "", "title, 1-200 characters")
	f.Int32Var(&posts, "posts", 0, "number of posts, 1-10000")
	f.Var(&opens, "opens-on", "first day applications are accepted")
	f.Var(&closes, "closes-on", "last day applications are accepted")
	f.BoolVar(&rolling, "rolling", false, "a rolling campaign, with no closing date")
	cmd.MarkFlagsMutuallyExclusive("closes-on", "rolling")
	required(cmd, "region", "role", "title", "posts", "opens-on")
	return cmd
}

func newCampaignUpdateCmd(a *app) *cobra.Command {
	var (
		ch      change
		title   string
		posts   int32
		opens   dateValue
		closes  dateValue
		rolling bool
	)
	cmd := &cobra.Command{
		Use:   "update CAMPAIGN_ID",
		Short: "Change a campaign's title, posts or dates (admin)",
		Long: `Change a campaign's title, posts or dates; region and role cannot change.
Details not given keep their current values (pipelinectl reads the campaign
first).`,
		Example: `  pipelinectl campaigns update 0192f3a4-5b6c-7d8e-9f00-112233445566 --closes-on 2027-01-15 --version 1`,
		Args:    oneID("campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			got, err := a.applications.GetCampaign(ctx, &applicationsv1.GetCampaignRequest{CampaignId: args[0]})
			if err != nil {
				return err
			}
			cur := got.GetCampaign()
			if err := ch.prepare(a, cmd, func() (int64, error) { return cur.GetVersion(), nil }); err != nil {
				return err
			}
			req := &applicationsv1.UpdateCampaignRequest{
				RequestId: ch.requestID, CampaignId: args[0], ExpectedVersion: ch.version,
				Title: cur.GetTitle(), Posts: cur.GetPosts(), OpensOn: cur.GetOpensOn(), ClosesOn: cur.GetClosesOn(),
			}
			f := cmd.Flags()
			if f.Changed("title") {
				req.Title = title
			}
			if f.Changed("posts") {
				req.Posts = posts
			}
			if opens.d != nil {
				req.OpensOn = opens.d
			}
			if closes.d != nil {
				req.ClosesOn = closes.d
			}
			if rolling {
				req.ClosesOn = nil
			}
			resp, err := a.applications.UpdateCampaign(ctx, req)
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(campaignView(resp.GetCampaign())))
		},
	}
	addChange(cmd, &ch, true)
	f := cmd.Flags()
	f.StringVar(&title, "title", "", "new title, 1-200 characters")
	f.Int32Var(&posts, "posts", 0, "new number of posts, 1-10000")
	f.Var(&opens, "opens-on", "new opening date")
	f.Var(&closes, "closes-on", "new closing date")
	f.BoolVar(&rolling, "rolling", false, "remove the closing date (a rolling campaign)")
	cmd.MarkFlagsMutuallyExclusive("closes-on", "rolling")
	return cmd
}

func newCampaignGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get CAMPAIGN_ID",
		Short:   "Show one campaign",
		Example: `  pipelinectl campaigns get 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		Args:    oneID("campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := a.applications.GetCampaign(cmd.Context(), &applicationsv1.GetCampaignRequest{CampaignId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(campaignView(resp.GetCampaign())))
		},
	}
}

func newCampaignListCmd(a *app) *cobra.Command {
	var (
		reg regionValue
		pg  paging
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List campaigns, newest first",
		Example: `  pipelinectl campaigns list --region london -o csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.applications.ListCampaigns(cmd.Context(), &applicationsv1.ListCampaignsRequest{
				Region: string(reg), PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := campaignView(resp.GetCampaigns()...)
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("only this region (default: every region of the token)"))
	addPaging(cmd.Flags(), &pg)
	return cmd
}

func newApplicationsCmd(a *app) *cobra.Command {
	return group("applications", "Submit, read and withdraw applications (applications service)",
		`An application is one candidate's application to one campaign. SPOCs of the
region (and admins) submit, read, list and withdraw them; they hold the
candidate's name, email and phone, which no other service sees. 'contact'
shows who the candidate is to the people who act: the region's SPOCs, and
its vetting contact points while the vetting case is open.`,
		newApplicationSubmitCmd(a), newApplicationGetCmd(a), newApplicationContactCmd(a), newApplicationListCmd(a),
		newApplicationWithdrawCmd(a), newApplicationBatchWithdrawCmd(a), newApplicationEraseCmd(a))
}

func newApplicationSubmitCmd(a *app) *cobra.Command {
	var (
		ch                 change
		campaign           string
		name, email, phone string
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Record a candidate's application to an open campaign (SPOC)",
		Example: `  pipelinectl applications submit --campaign 0192f3a4-5b6c-7d8e-9f00-112233445566 \
    --name "Ada Lovelace" --email ada@example.org --phone "+44 20 7946 0000"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.applications.SubmitApplication(cmd.Context(), &applicationsv1.SubmitApplicationRequest{
				RequestId: ch.requestID, CampaignId: campaign,
				Candidate: &applicationsv1.Candidate{Name: name, Email: email, Phone: phone},
			})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(applicationView(resp.GetApplication())))
		},
	}
	addChange(cmd, &ch, false)
	f := cmd.Flags()
	f.StringVar(&campaign, "campaign", "", "campaign id")
	f.StringVar(&name, "name", "", "candidate's name, 1-200 characters")
	f.StringVar(&email, "email", "", "candidate's email address")
	f.StringVar(&phone, "phone", "", "candidate's phone number (optional)")
	required(cmd, "campaign", "name", "email")
	return cmd
}

func newApplicationGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get APPLICATION_ID",
		Short:   "Show one application with the candidate's details",
		Example: `  pipelinectl applications get 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := a.applications.GetApplication(cmd.Context(), &applicationsv1.GetApplicationRequest{ApplicationId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(applicationView(resp.GetApplication())))
		},
	}
}

func newApplicationListCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		stage    = newEnum(commonv1.Stage(0))
		pg       paging
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List applications, oldest first",
		Example: `  pipelinectl applications list --region london --stage offer`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.applications.ListApplications(cmd.Context(), &applicationsv1.ListApplicationsRequest{
				Region: string(reg), CampaignId: campaign, Stage: commonv1.Stage(stage.number()),
				PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := applicationView(resp.GetApplications()...)
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("only this region (default: every region of the token)"))
	f.StringVar(&campaign, "campaign", "", "only this campaign's applications")
	f.Var(stage, "stage", "only applications in this stage; "+oneOf(commonv1.Stage(0)))
	addPaging(f, &pg)
	return cmd
}

func newApplicationWithdrawCmd(a *app) *cobra.Command {
	var reason string
	cmd := changeCmd(a, "withdraw", "Withdraw an application from any stage before hired (SPOC)",
		`  pipelinectl applications withdraw 0192f3a4-5b6c-7d8e-9f00-112233445566 --reason candidate_request`,
		a.applicationVersion,
		func(ctx context.Context, id string, ch *change) (*applicationsv1.WithdrawApplicationResponse, error) {
			return a.applications.WithdrawApplication(ctx, &applicationsv1.WithdrawApplicationRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, ReasonCode: reason,
			})
		},
		func(r *applicationsv1.WithdrawApplicationResponse) view {
			return recordOf(applicationView(r.GetApplication()))
		})
	cmd.Flags().StringVar(&reason, "reason", "", "lower-case reason code, e.g. candidate_request, accepted_other_job")
	required(cmd, "reason")
	return cmd
}

func newApplicationEraseCmd(a *app) *cobra.Command {
	var (
		ch     change
		reason string
		yes    bool
	)
	cmd := &cobra.Command{
		Use:   "erase APPLICATION_ID",
		Short: "Erase a candidate's personal data (admin; cannot be undone)",
		Long: `Erase the candidate's name, email and phone from an application, and the
free text other services hold about it (the vetting note), for a
right-to-erasure request. Stages, dates and codes stay, so reports do not
change. Erasing an erased application changes nothing. It cannot be undone:
--yes confirms it. Run pipelinectl export first if the candidate asked for
a copy.`,
		Example: `  pipelinectl applications erase 0192f3a4-5b6c-7d8e-9f00-112233445566 --reason right_to_erasure --yes`,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usagef("erasure cannot be undone: add --yes to erase application %s", args[0])
			}
			if err := ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.applications.EraseCandidate(cmd.Context(), &applicationsv1.EraseCandidateRequest{
				RequestId: ch.requestID, ApplicationId: args[0], ReasonCode: reason,
			})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(applicationView(resp.GetApplication())))
		},
	}
	addChange(cmd, &ch, false)
	cmd.Flags().StringVar(&reason, "reason", "", "why: right_to_erasure (the candidate asked) or retention (the retention period ran out)")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the erasure")
	required(cmd, "reason")
	return cmd
}

func (a *app) applicationVersion(ctx context.Context, id string) (int64, error) {
	r, err := a.applications.GetApplication(ctx, &applicationsv1.GetApplicationRequest{ApplicationId: id})
	return r.GetApplication().GetVersion(), err
}

func campaignView(cs ...*applicationsv1.Campaign) view {
	v := view{columns: []string{"id", "region", "role", "title", "posts", "opens_on", "closes_on", "version", "created_at", "updated_at"}}
	for _, c := range cs {
		v.rows = append(v.rows, []string{
			c.GetId(), c.GetRegion(), friendly(c.GetRole()), c.GetTitle(), fmtInt(c.GetPosts()),
			fmtDate(c.GetOpensOn()), fmtDate(c.GetClosesOn()), fmtInt(c.GetVersion()),
			fmtTime(c.GetCreatedAt()), fmtTime(c.GetUpdatedAt()),
		})
	}
	return v
}

// erasedName stands for the name of a candidate whose personal data was
// erased (the application's erased field says so; json output shows it).
const erasedName = "(erased)"

func applicationView(as ...*applicationsv1.Application) view {
	v := view{columns: []string{
		"id", "campaign_id", "region", "role", "stage", "stage_entered_at", "name", "email", "phone",
		"submitted_at", "submitted_by", "version", "withdrawn_at", "withdrawal_reason_code", "erased_at", "erasure_reason_code",
	}}
	for _, x := range as {
		name := x.GetCandidate().GetName()
		if x.GetErased() {
			name = erasedName
		}
		v.rows = append(v.rows, []string{
			x.GetId(), x.GetCampaignId(), x.GetRegion(), friendly(x.GetRole()), friendly(x.GetStage()),
			fmtTime(x.GetStageEnteredAt()), name, x.GetCandidate().GetEmail(), x.GetCandidate().GetPhone(),
			fmtTime(x.GetSubmittedAt()), x.GetSubmittedBy(), fmtInt(x.GetVersion()),
			fmtTime(x.GetWithdrawnAt()), x.GetWithdrawalReasonCode(), fmtTime(x.GetErasedAt()), x.GetErasureReasonCode(),
		})
	}
	return v
}
