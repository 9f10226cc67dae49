package main

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func newOfferApproveEarlyStartCmd(a *app) *cobra.Command {
	cmd := offerChange(a, "approve-early-start", "Approve starting on the start date set before vetting clears (approver)",
		`  pipelinectl offers approve-early-start 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		func(ctx context.Context, id string, ch *change) (*offersv1.ApproveEarlyStartResponse, error) {
			return a.offers.ApproveEarlyStart(ctx, &offersv1.ApproveEarlyStartRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version})
		})
	cmd.Long = `Approve a start before vetting has cleared: an approver of the offer's
region (or an admin) approves the start date and vetting due date the offer
has at --version; the approval records the caller's own subject. The region's
early start policy must be on; its cap is checked when the start is
confirmed. A SPOC cannot approve; moving the start date takes the approval
back.`
	return cmd
}

func newEarlyStartPolicyCmd(a *app) *cobra.Command {
	return group("early-start-policy", "Read or set a region's policy for starts before vetting clears",
		`A region's early start policy says whether candidates may start before
vetting clears, and how many may be started subject to vetting at once (the
cap). A region never set has early starts off.`,
		newEarlyStartPolicyGetCmd(a), newEarlyStartPolicySetCmd(a))
}

func newEarlyStartPolicyGetCmd(a *app) *cobra.Command {
	var reg regionValue
	cmd := &cobra.Command{
		Use:     "get",
		Short:   "Show a region's early start policy and how many are started subject to vetting",
		Example: `  pipelinectl offers early-start-policy get --region london`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.offers.GetEarlyStartPolicy(cmd.Context(), &offersv1.GetEarlyStartPolicyRequest{Region: string(reg)})
			if err != nil {
				return err
			}
			return a.emit(resp, policyView(resp.GetPolicy(), strconv.Itoa(int(resp.GetStartedSubjectToVetting()))))
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("the region"))
	required(cmd, "region")
	return cmd
}

func newEarlyStartPolicySetCmd(a *app) *cobra.Command {
	var (
		ch      change
		reg     regionValue
		enabled bool
		limit   int32
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set a region's early start policy (admin)",
		Example: `  pipelinectl offers early-start-policy set --region london --enabled --cap 40
  pipelinectl offers early-start-policy set --region wales --enabled=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := ch.prepare(a, cmd, func() (int64, error) {
				got, err := a.offers.GetEarlyStartPolicy(ctx, &offersv1.GetEarlyStartPolicyRequest{Region: string(reg)})
				return got.GetPolicy().GetVersion(), err
			}); err != nil {
				return err
			}
			resp, err := a.offers.SetEarlyStartPolicy(ctx, &offersv1.SetEarlyStartPolicyRequest{
				RequestId: ch.requestID, Region: string(reg), Enabled: enabled, Cap: limit, ExpectedVersion: ch.version,
			})
			if err != nil {
				return err
			}
			return a.emit(resp, policyView(resp.GetPolicy(), ""))
		},
	}
	addChange(cmd, &ch, true)
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region"))
	f.BoolVar(&enabled, "enabled", false, "allow starts before vetting clears")
	f.Int32Var(&limit, "cap", 0, "most candidates started subject to vetting at once (0-10000)")
	required(cmd, "region", "enabled")
	return cmd
}

func policyView(p *offersv1.EarlyStartPolicy, started string) view {
	v := view{columns: []string{"region", "enabled", "cap", "version", "updated_at"}}
	row := []string{p.GetRegion(), fmtBool(p.GetEnabled()), strconv.Itoa(int(p.GetCap())), fmtInt(p.GetVersion()), fmtTime(p.GetUpdatedAt())}
	if started != "" {
		v.columns = append(v.columns, "started_subject_to_vetting")
		row = append(row, started)
	}
	v.rows = append(v.rows, row)
	return v
}

func newEarlyStartsCmd(a *app) *cobra.Command {
	var reg regionValue
	cmd := &cobra.Command{
		Use:   "early-starts",
		Short: "A region's candidates started before vetting cleared, against its cap",
		Long: `How many of the region's candidates are started subject to vetting (vetting
neither cleared nor failed), against the region's early start policy, and
how many of them are past their vetting due date (each also in the stuck
list, rule vetting-overdue).`,
		Example: `  pipelinectl reports early-starts --region london`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetEarlyStarts(cmd.Context(), &reportingv1.GetEarlyStartsRequest{Region: string(reg)})
			if err != nil {
				return err
			}
			return a.emit(resp, view{
				columns: []string{"region", "enabled", "cap", "started_subject_to_vetting", "overdue", "as_of"},
				rows: [][]string{{resp.GetRegion(), fmtBool(resp.GetEnabled()), strconv.Itoa(int(resp.GetCap())),
					strconv.Itoa(int(resp.GetStartedSubjectToVetting())), strconv.Itoa(int(resp.GetOverdue())), fmtTime(resp.GetAsOf())}},
			})
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("the region"))
	required(cmd, "region")
	return cmd
}
