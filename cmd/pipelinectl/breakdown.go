package main

import (
	"github.com/spf13/cobra"

	"github.com/probation-recruitment/pipeline/pkg/reason"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

var sourceHelp = "only applications from this source: " + reason.Source.Accepted() + `, or "unknown" (none recorded)`

func newBreakdownCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		role     = newEnum(commonv1.JobRole(0))
		source   string
		from, to timeValue
		bySource bool
	)
	cmd := &cobra.Command{
		Use:   "breakdown",
		Short: "Why applications left the pipeline, and conversion and time to hire by where they came from",
		Long: `Breaks the applications submitted in a window down by why they left the
pipeline — each sift or interview fail, candidate withdrawal, offer declined
or withdrawn, with its reason code, the stage it left from and the days
from submission — or, with --by-source, by where they came from: per
source, how many reached each stage, the conversion from submission to
start, and the time to hire (campaign close to offer, median days).

Reasons recorded before the fixed lists existed read as other:<code>.
--from and --to filter on submission.`,
		Example: `  pipelinectl reports breakdown --region london
  pipelinectl reports breakdown --region london --by-source -o csv
  pipelinectl reports breakdown --source social_media --from 2026-01-01T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetReasonBreakdown(cmd.Context(), &reportingv1.GetReasonBreakdownRequest{
				Region: string(reg), CampaignId: campaign, Role: commonv1.JobRole(role.number()), Source: source,
				From: from.t, To: to.t,
			})
			if err != nil {
				return err
			}
			if bySource {
				return a.emit(resp, sourceBreakdownView(resp))
			}
			return a.emit(resp, reasonBreakdownView(resp))
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("only this region (default: every region of the token)"))
	f.StringVar(&campaign, "campaign", "", "only this campaign")
	f.Var(role, "role", "only this job role; "+oneOf(commonv1.JobRole(0)))
	f.StringVar(&source, "source", "", sourceHelp)
	f.Var(&from, "from", "only applications submitted at or after this time")
	f.Var(&to, "to", "only applications submitted before this time")
	f.BoolVar(&bySource, "by-source", false, "show the funnel and time to hire per source instead of the reasons")
	return cmd
}

func reasonBreakdownView(r *reportingv1.GetReasonBreakdownResponse) view {
	v := view{columns: []string{"exit", "reason_code", "from_stage", "count", "mean_days", "median_days", "p90_days"}}
	for _, c := range r.GetReasons() {
		d := c.GetDaysToExit()
		v.rows = append(v.rows, []string{friendly(c.GetKind()), c.GetReasonCode(), friendly(c.GetStage()), fmtInt(c.GetCount()),
			fmtFloat(d.GetMean()), fmtFloat(d.GetMedian()), fmtFloat(d.GetP90())})
	}
	v.notes = []string{"applications: " + fmtInt(r.GetApplications())}
	return v
}

func sourceBreakdownView(r *reportingv1.GetReasonBreakdownResponse) view {
	v := view{columns: []string{"source", "submitted", "passed_sift", "passed_interview", "accepted_offer", "started",
		"conversion_to_start", "rejected", "withdrawn", "time_to_hire_count", "time_to_hire_median_days"}}
	for _, s := range r.GetSources() {
		reached := map[commonv1.Stage]int32{}
		var rejected, withdrawn int32
		for _, st := range s.GetStages() {
			reached[st.GetStage()] = st.GetReached()
			rejected += st.GetRejected()
			withdrawn += st.GetWithdrawn()
		}
		conv := 0.0
		if n := reached[commonv1.Stage_STAGE_SIFT]; n > 0 {
			conv = float64(reached[commonv1.Stage_STAGE_HIRED]) / float64(n)
		}
		tth := s.GetTimeToHire().GetCalendarDays()
		v.rows = append(v.rows, []string{s.GetSource(), fmtInt(reached[commonv1.Stage_STAGE_SIFT]),
			fmtInt(reached[commonv1.Stage_STAGE_INTERVIEW]), fmtInt(reached[commonv1.Stage_STAGE_OFFER]),
			fmtInt(reached[commonv1.Stage_STAGE_PRE_EMPLOYMENT]), fmtInt(reached[commonv1.Stage_STAGE_HIRED]),
			fmtFloat(conv), fmtInt(rejected), fmtInt(withdrawn), fmtInt(tth.GetCount()), fmtFloat(tth.GetMedian())})
	}
	v.notes = []string{"applications: " + fmtInt(r.GetApplications())}
	return v
}
