package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/probation-recruitment/pipeline/pkg/reason"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func init() {
	register(newCampaignsCmd)
	register(newApplicationsCmd)
}

func newCampaignsCmd(a *app) *cobra.Command {
	return group("campaigns", "Open, change and read recruitment campaigns (applications service)",
		`A campaign recruits for one job role in one region or several, with posts per
region, between an opening and a closing date (none for a rolling campaign).
It is open, closed or cancelled; applications go only to an open one. Admins,
and SPOCs holding every region of a campaign, create, update, close and
cancel it; every role reads those of its regions. 'progress' reports the
posts filled per region (reporting service).`,
		newCampaignCreateCmd(a), newCampaignUpdateCmd(a), newCampaignStatusCmd(a), newCampaignGetCmd(a), newCampaignListCmd(a),
		newCampaignProgressCmd(a))
}

func newCampaignCreateCmd(a *app) *cobra.Command {
	var (
		ch      change
		reg     regionPostsValue
		role    = newEnum(commonv1.JobRole(0))
		title   string
		posts   int32
		opens   dateValue
		closes  dateValue
		rolling bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Open a campaign in one region or several (admin, or a SPOC of every region)",
		Example: `  pipelinectl campaigns create --region london --role administrator --title "Administrative officers" \
    --posts 30 --opens-on 2026-11-01 --closes-on 2027-06-30
  pipelinectl campaigns create --region london=120,wales=30,north-east=150 --role administrator \
    --title "National admin campaign" --opens-on 2026-11-01 --closes-on 2027-06-30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if closes.d == nil && !rolling {
				return usagef("give --closes-on, or --rolling for a campaign with no closing date")
			}
			req := &applicationsv1.CreateCampaignRequest{Role: commonv1.JobRole(role.number()),
				Title: title, OpensOn: opens.d, ClosesOn: closes.d}
			switch {
			case reg.multi() && cmd.Flags().Changed("posts"):
				return usagef("give posts per region (--region london=120,wales=30) or --posts with one region, not both")
			case reg.multi():
				req.Regions = reg.list
			case len(reg.list) == 1 && cmd.Flags().Changed("posts"):
				req.Region, req.Posts = reg.list[0].GetRegion(), posts
			default:
				return usagef("give --posts for the one region, or posts per region: --region london=120,wales=30")
			}
			if err := ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			req.RequestId = ch.requestID
			resp, err := a.applications.CreateCampaign(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(campaignView(resp.GetCampaign())))
		},
	}
	addChange(cmd, &ch, false)
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("region of the campaign, or regions with their posts: london=120,wales=30 (the first is the lead region)"))
	f.Var(role, "role", "job role recruited for; "+oneOf(commonv1.JobRole(0)))
	f.StringVar(&title, "title", "", "title, 1-200 characters")
	f.Int32Var(&posts, "posts", 0, "number of posts, 1-10000, for a campaign in one region")
	f.Var(&opens, "opens-on", "first day applications are accepted")
	f.Var(&closes, "closes-on", "last day applications are accepted")
	f.BoolVar(&rolling, "rolling", false, "a rolling campaign, with no closing date")
	cmd.MarkFlagsMutuallyExclusive("closes-on", "rolling")
	required(cmd, "region", "role", "title", "opens-on")
	return cmd
}

func newCampaignUpdateCmd(a *app) *cobra.Command {
	var (
		ch      change
		title   string
		posts   int32
		reg     regionPostsValue
		opens   dateValue
		closes  dateValue
		rolling bool
	)
	cmd := &cobra.Command{
		Use:   "update CAMPAIGN_ID",
		Short: "Change a campaign's title, posts, regions or dates (admin, or a SPOC of every region)",
		Long: `Change a campaign's title, posts or dates, or add regions; role cannot change
and a region is never removed. Details not given keep their current values
(pipelinectl reads the campaign first). --posts is for a campaign in one
region; --region london=120,wales=40 gives every region's posts.`,
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
				Title: cur.GetTitle(), OpensOn: cur.GetOpensOn(), ClosesOn: cur.GetClosesOn(),
			}
			if len(cur.GetRegions()) > 1 {
				req.Regions = cur.GetRegions()
			} else {
				req.Posts = cur.GetPosts()
			}
			f := cmd.Flags()
			if f.Changed("title") {
				req.Title = title
			}
			switch {
			case f.Changed("posts") && f.Changed("region"):
				return usagef("give --posts (a campaign in one region) or --region with posts per region, not both")
			case f.Changed("posts"):
				req.Posts, req.Regions = posts, nil
			case f.Changed("region"):
				if !reg.multi() {
					return usagef("give --region with posts per region: london=120,wales=40")
				}
				req.Posts, req.Regions = 0, reg.list
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
	f.Int32Var(&posts, "posts", 0, "new number of posts, 1-10000, for a campaign in one region")
	f.Var(&reg, "region", "every region's posts, the campaign's regions first in their order, new ones after: london=120,wales=40")
	f.Var(&opens, "opens-on", "new opening date")
	f.Var(&closes, "closes-on", "new closing date")
	f.BoolVar(&rolling, "rolling", false, "remove the closing date (a rolling campaign)")
	cmd.MarkFlagsMutuallyExclusive("closes-on", "rolling")
	return cmd
}

func newCampaignStatusCmd(a *app) *cobra.Command {
	var (
		ch     change
		to     = newEnum(commonv1.CampaignStatus(0))
		reason string
	)
	cmd := &cobra.Command{
		Use:   "status CAMPAIGN_ID",
		Short: "Close, cancel or open again a campaign (admin, or a SPOC of every region)",
		Long: `Move a campaign to open, closed or cancelled: open → closed or cancelled,
closed → open or cancelled; cancelled is final. Applications go only to an
open campaign. --reason is required to cancel.`,
		Example: `  pipelinectl campaigns status 0192f3a4-5b6c-7d8e-9f00-112233445566 --to closed --reason filled`,
		Args:    oneID("campaign id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := ch.prepare(a, cmd, func() (int64, error) {
				got, err := a.applications.GetCampaign(ctx, &applicationsv1.GetCampaignRequest{CampaignId: args[0]})
				return got.GetCampaign().GetVersion(), err
			}); err != nil {
				return err
			}
			resp, err := a.applications.SetCampaignStatus(ctx, &applicationsv1.SetCampaignStatusRequest{
				RequestId: ch.requestID, CampaignId: args[0], ExpectedVersion: ch.version,
				Status: commonv1.CampaignStatus(to.number()), ReasonCode: reason,
			})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(campaignView(resp.GetCampaign())))
		},
	}
	addChange(cmd, &ch, true)
	f := cmd.Flags()
	f.Var(to, "to", "new status; "+oneOf(commonv1.CampaignStatus(0)))
	f.StringVar(&reason, "reason", "", "lower-case reason code, e.g. filled, budget_withdrawn (required to cancel)")
	required(cmd, "to")
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
		reg                regionValue
		name, email, phone string
		source             string
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Record a candidate's application to an open campaign (SPOC)",
		Example: `  pipelinectl applications submit --campaign 0192f3a4-5b6c-7d8e-9f00-112233445566 \
    --name "Ada Lovelace" --email ada@example.org --phone "+44 20 7946 0000" --source job_centre`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.applications.SubmitApplication(cmd.Context(), &applicationsv1.SubmitApplicationRequest{
				RequestId: ch.requestID, CampaignId: campaign, ApplicationRegion: string(reg),
				Candidate: &applicationsv1.Candidate{Name: name, Email: email, Phone: phone}, Source: source,
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
	f.Var(&reg, "region", regionHelp("the application's region, one of the campaign's (required for a campaign in several)"))
	f.StringVar(&name, "name", "", "candidate's name, 1-200 characters")
	f.StringVar(&email, "email", "", "candidate's email address")
	f.StringVar(&phone, "phone", "", "candidate's phone number (optional)")
	f.StringVar(&source, "source", "", "where the application came from (optional): "+reason.Source.Accepted())
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
	var why string
	cmd := changeCmd(a, "withdraw", "Withdraw an application from any stage before hired (SPOC)",
		`  pipelinectl applications withdraw 0192f3a4-5b6c-7d8e-9f00-112233445566 --reason candidate_request`,
		a.applicationVersion,
		func(ctx context.Context, id string, ch *change) (*applicationsv1.WithdrawApplicationResponse, error) {
			return a.applications.WithdrawApplication(ctx, &applicationsv1.WithdrawApplicationRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, ReasonCode: why,
			})
		},
		func(r *applicationsv1.WithdrawApplicationResponse) view {
			return recordOf(applicationView(r.GetApplication()))
		})
	cmd.Flags().StringVar(&why, "reason", "", "why the candidate withdrew: "+reason.Withdrawal.Accepted())
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
	v := view{columns: []string{"id", "region", "role", "title", "posts", "opens_on", "closes_on", "version", "created_at", "updated_at",
		"regions", "status", "status_reason_code"}}
	for _, c := range cs {
		v.rows = append(v.rows, []string{
			c.GetId(), c.GetRegion(), friendly(c.GetRole()), c.GetTitle(), fmtInt(c.GetPosts()),
			fmtDate(c.GetOpensOn()), fmtDate(c.GetClosesOn()), fmtInt(c.GetVersion()),
			fmtTime(c.GetCreatedAt()), fmtTime(c.GetUpdatedAt()),
			regionPostsText(c.GetRegions()), friendly(c.GetStatus()), c.GetStatusReasonCode(),
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
