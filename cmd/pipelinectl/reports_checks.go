package main

import (
	"strings"

	"github.com/spf13/cobra"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func newChecksReportCmd(a *app) *cobra.Command {
	return group("checks", "Pre-employment checks: outstanding ones, and the time each takes",
		`An offer's pre-employment checks (references, medical, right to work) are
recorded in the offers service; reporting lists those outstanding and measures
the days from the offer to each check being met.`,
		newChecksOutstandingCmd(a), newChecksDurationsCmd(a))
}

func newChecksOutstandingCmd(a *app) *cobra.Command {
	var (
		reg   regionValue
		check = newEnum(commonv1.OfferCondition(0))
		pg    paging
	)
	cmd := &cobra.Command{
		Use:     "outstanding",
		Short:   "A region's offers with checks outstanding, oldest offer first",
		Example: `  pipelinectl reports checks outstanding --region london --check right-to-work`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.ListOutstandingChecks(cmd.Context(), &reportingv1.ListOutstandingChecksRequest{
				Region: string(reg), Check: commonv1.OfferCondition(check.number()), PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := view{columns: []string{"application_id", "campaign_id", "role", "stage", "offer_made_at", "days_outstanding", "checks", "assignee"}}
			for _, o := range resp.GetApplications() {
				checks := make([]string, len(o.GetChecks()))
				for i, c := range o.GetChecks() {
					checks[i] = friendly(c)
				}
				v.rows = append(v.rows, []string{o.GetApplicationId(), o.GetCampaignId(), friendly(o.GetRole()), friendly(o.GetStage()),
					fmtTime(o.GetOfferMadeAt()), fmtInt(o.GetDaysOutstanding()), strings.Join(checks, " "), o.GetAssignee()})
			}
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region"))
	f.Var(check, "check", "only offers with this check outstanding; "+oneOf(commonv1.OfferCondition(0)))
	addPaging(f, &pg)
	required(cmd, "region")
	return cmd
}

func newChecksDurationsCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		from, to timeValue
	)
	cmd := &cobra.Command{
		Use:     "durations",
		Short:   "Days from the offer to each check being met (median, p90)",
		Example: `  pipelinectl reports checks durations --region london --from 2026-10-01T00:00:00Z`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetStageDurations(cmd.Context(), &reportingv1.GetStageDurationsRequest{
				Region: string(reg), From: from.t, To: to.t,
			})
			if err != nil {
				return err
			}
			v := view{columns: []string{"check", "count", "mean", "median", "p90"}}
			for _, c := range resp.GetChecks() {
				v.rows = append(v.rows, append([]string{friendly(c.GetCheck())}, statCells(c.GetDays())...))
			}
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region"))
	f.Var(&from, "from", "only checks met at or after this time")
	f.Var(&to, "to", "only checks met before this time")
	required(cmd, "region")
	return cmd
}
