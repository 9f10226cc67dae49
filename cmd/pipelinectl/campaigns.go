package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/probation-recruitment/pipeline/pkg/region"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// regionPostsValue is a flag holding one region ("london"), or regions
// with their posts ("london=120,wales=30").
type regionPostsValue struct{ list []*commonv1.CampaignRegion }

func (v *regionPostsValue) Set(s string) error {
	v.list = nil
	for part := range strings.SplitSeq(s, ",") {
		name, posts, hasPosts := strings.Cut(strings.TrimSpace(part), "=")
		if !region.Valid(name) {
			return fmt.Errorf("%q is not a region; one of: %s", name, strings.Join(region.All, ", "))
		}
		r := &commonv1.CampaignRegion{Region: name}
		if hasPosts {
			n, err := strconv.ParseInt(posts, 10, 32)
			if err != nil || n < 1 {
				return fmt.Errorf("posts of %s must be a whole number of at least 1, not %q", name, posts)
			}
			r.Posts = int32(n)
		}
		v.list = append(v.list, r)
	}
	if len(v.list) > 1 && !v.multi() {
		return fmt.Errorf("give every region its posts: london=120,wales=30")
	}
	return nil
}

// multi reports whether the flag gave posts per region.
func (v *regionPostsValue) multi() bool {
	for _, r := range v.list {
		if r.GetPosts() == 0 {
			return false
		}
	}
	return len(v.list) > 0
}

func (v *regionPostsValue) String() string { return regionPostsText(v.list) }
func (v *regionPostsValue) Type() string   { return "region[=posts],..." }

// regionPostsText writes regions as the flag and the import take them:
// "london=120;wales=30" (";" so that a CSV cell needs no quotes).
func regionPostsText(rs []*commonv1.CampaignRegion) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.GetRegion()
		if r.GetPosts() != 0 {
			parts[i] += "=" + strconv.Itoa(int(r.GetPosts()))
		}
	}
	return strings.Join(parts, ";")
}

func newCampaignProgressCmd(a *app) *cobra.Command {
	var (
		reg  regionValue
		asOf timeValue
	)
	cmd := &cobra.Command{
		Use:   "progress [CAMPAIGN_ID]",
		Short: "Posts filled and remaining: one campaign per region, or a region's campaigns",
		Long: `With a campaign id: the campaign's applications, sift passes, offers,
acceptances, starts and posts filled and remaining, in each region you hold,
and in total when you hold every region of it (or are an admin). With
--region: every campaign recruiting in the region, its progress there.
--as-of counts what had happened by then.`,
		Example: `  pipelinectl campaigns progress 0192f3a4-5b6c-7d8e-9f00-112233445566
  pipelinectl campaigns progress --region london -o csv`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && reg != "":
				return usagef("give a campaign id or --region, not both")
			case len(args) == 1:
				resp, err := a.reporting.GetCampaignProgress(cmd.Context(), &reportingv1.GetCampaignProgressRequest{CampaignId: args[0], AsOf: asOf.t})
				if err != nil {
					return err
				}
				v := progressView()
				for _, p := range resp.GetRegions() {
					v.rows = append(v.rows, progressRow(resp.GetCampaign(), p))
				}
				if t := resp.GetTotal(); t != nil {
					v.rows = append(v.rows, progressRow(resp.GetCampaign(), t))
				} else {
					v.notes = append(v.notes, "no total: you do not hold every region of the campaign ("+strings.Join(resp.GetCampaign().GetRegions(), ", ")+")")
				}
				return a.emit(resp, v)
			case reg != "":
				resp, err := a.reporting.ListCampaignProgress(cmd.Context(), &reportingv1.ListCampaignProgressRequest{Region: string(reg), AsOf: asOf.t})
				if err != nil {
					return err
				}
				v := progressView()
				for _, c := range resp.GetCampaigns() {
					v.rows = append(v.rows, progressRow(c.GetCampaign(), c.GetProgress()))
				}
				return a.emit(resp, v)
			}
			return usagef("give a campaign id, or --region for the region's campaigns")
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("list this region's campaigns"))
	cmd.Flags().Var(&asOf, "as-of", "count what had happened by this time (default now)")
	return cmd
}

func progressView() view {
	return view{columns: []string{"campaign_id", "title", "status", "region", "posts", "applications", "passed_sift", "offers",
		"accepted", "started", "filled", "remaining"}}
}

// progressRow is one region's progress, or the total (region "all").
func progressRow(c *reportingv1.CampaignSummary, p *reportingv1.CampaignProgress) []string {
	r := p.GetRegion()
	if r == "" {
		r = "all"
	}
	return []string{c.GetCampaignId(), c.GetTitle(), friendly(c.GetStatus()), r, fmtInt(p.GetPosts()), fmtInt(p.GetApplications()),
		fmtInt(p.GetPassedSift()), fmtInt(p.GetOffers()), fmtInt(p.GetAccepted()), fmtInt(p.GetStarted()), fmtInt(p.GetFilled()),
		fmtInt(p.GetRemaining())}
}
