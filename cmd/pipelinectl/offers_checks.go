package main

import (
	"context"

	"github.com/spf13/cobra"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

func newOfferCheckCmd(a *app) *cobra.Command {
	var (
		check  = newEnum(commonv1.OfferCondition(0))
		status = newEnum(commonv1.CheckStatus(0))
		waive  = newEnum(commonv1.CheckWaiveReason(0))
	)
	cmd := offerChange(a, "check", "Record a pre-employment check of a made or accepted offer: met, failed, waived or outstanding (SPOC)",
		`  pipelinectl offers check 0192f3a4-5b6c-7d8e-9f00-112233445566 --check right-to-work --status met
  pipelinectl offers check 0192f3a4-5b6c-7d8e-9f00-112233445566 --check references --status waived --waive-reason internal-transfer`,
		func(ctx context.Context, id string, ch *change) (*offersv1.RecordCheckResponse, error) {
			return a.offers.RecordCheck(ctx, &offersv1.RecordCheckRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
				Check: commonv1.OfferCondition(check.number()), Status: commonv1.CheckStatus(status.number()),
				WaiveReason: commonv1.CheckWaiveReason(waive.number()),
			})
		})
	cmd.Long = `Record the status of one pre-employment check. An offer's checks are its
conditions other than vetting (which the vetting service records), and right
to work always. You are recorded as who recorded it. A failed check withdraws
the offer (reason check_failed:<check>). Right to work may not be waived, and
a start cannot be confirmed until it is met. A waiver needs --waive-reason.`
	f := cmd.Flags()
	f.Var(check, "check", "the check; "+oneOf(commonv1.OfferCondition(0)))
	f.Var(status, "status", "its new status; "+oneOf(commonv1.CheckStatus(0)))
	f.Var(waive, "waive-reason", "why it is waived (with --status waived); "+oneOf(commonv1.CheckWaiveReason(0)))
	required(cmd, "check", "status")
	return cmd
}

// withChecks adds an offer's checks to its record view.
func withChecks(v view, checks []*offersv1.Check) view {
	if len(checks) == 0 {
		return v
	}
	cv := view{columns: []string{"check", "status", "waive_reason", "recorded_by", "recorded_at"}}
	for _, c := range checks {
		reason := ""
		if c.GetWaiveReason() != 0 {
			reason = friendly(c.GetWaiveReason())
		}
		cv.rows = append(cv.rows, []string{friendly(c.GetCheck()), friendly(c.GetStatus()), reason, c.GetRecordedBy(), fmtTime(c.GetRecordedAt())})
	}
	v.sections = append(v.sections, section{title: "Checks", view: cv})
	return v
}
