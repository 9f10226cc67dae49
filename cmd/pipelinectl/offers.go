package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/reason"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

func init() { register(newOffersCmd) }

func newOffersCmd(a *app) *cobra.Command {
	return group("offers", "Make and track conditional offers and starts (offers service)",
		`An application becomes eligible for a conditional offer moments after it
passes interview. A SPOC of the region (or an admin) makes the offer, records
the candidate's answer, sets the start date and confirms the start. A start
before vetting has cleared has a vetting due date and needs an approver's
approval (approve-early-start) under the region's early start policy.`,
		newOfferMakeCmd(a), newOfferBatchMakeCmd(a), newOfferAcceptCmd(a), newOfferDeclineCmd(a), newOfferWithdrawCmd(a),
		newOfferStartDateCmd(a), newOfferConfirmStartCmd(a), newOfferListCmd(a), newOfferGetCmd(a), newOfferCheckCmd(a),
		newOfferApproveEarlyStartCmd(a), newEarlyStartPolicyCmd(a))
}

func newOfferMakeCmd(a *app) *cobra.Command {
	var (
		band       string
		conditions = newEnumSlice(commonv1.OfferCondition(0))
	)
	cmd := offerChange(a, "make", "Make a conditional offer to a candidate who passed interview (SPOC)",
		`  pipelinectl offers make 0192f3a4-5b6c-7d8e-9f00-112233445566 --salary-band band_4 --condition vetting,references`,
		func(ctx context.Context, id string, ch *change) (*offersv1.MakeConditionalOfferResponse, error) {
			conds := make([]commonv1.OfferCondition, len(conditions.ns))
			for i, n := range conditions.ns {
				conds[i] = commonv1.OfferCondition(n)
			}
			return a.offers.MakeConditionalOffer(ctx, &offersv1.MakeConditionalOfferRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
				SalaryBandCode: band, Conditions: conds,
			})
		})
	f := cmd.Flags()
	f.StringVar(&band, "salary-band", "", "lower-case salary band code, e.g. band_4")
	f.Var(conditions, "condition", "a condition of the offer, repeatable or comma-separated; "+oneOf(commonv1.OfferCondition(0)))
	required(cmd, "salary-band", "condition")
	return cmd
}

// offerChange builds an offers command that takes the application id and
// shows the offer after the change.
func offerChange[R interface {
	proto.Message
	GetOffer() *offersv1.Offer
}](a *app, use, short, example string, call func(ctx context.Context, id string, ch *change) (R, error)) *cobra.Command {
	return changeCmd(a, use, short, example, a.offerVersion, call, func(r R) view { return offerRecord(r.GetOffer()) })
}

func newOfferAcceptCmd(a *app) *cobra.Command {
	return offerChange(a, "accept", "Record that the candidate accepted the offer; vetting then opens a case (SPOC)",
		`  pipelinectl offers accept 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		func(ctx context.Context, id string, ch *change) (*offersv1.AcceptOfferResponse, error) {
			return a.offers.AcceptOffer(ctx, &offersv1.AcceptOfferRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version})
		})
}

func newOfferConfirmStartCmd(a *app) *cobra.Command {
	return offerChange(a, "confirm-start", "Record that the candidate started work (SPOC)",
		`  pipelinectl offers confirm-start 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		func(ctx context.Context, id string, ch *change) (*offersv1.ConfirmStartResponse, error) {
			return a.offers.ConfirmStart(ctx, &offersv1.ConfirmStartRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version})
		})
}

func newOfferDeclineCmd(a *app) *cobra.Command {
	var why string
	cmd := offerChange(a, "decline", "Record that the candidate declined the offer (SPOC)",
		`  pipelinectl offers decline 0192f3a4-5b6c-7d8e-9f00-112233445566 --reason accepted_other_offer`,
		func(ctx context.Context, id string, ch *change) (*offersv1.DeclineOfferResponse, error) {
			return a.offers.DeclineOffer(ctx, &offersv1.DeclineOfferRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, ReasonCode: why,
			})
		})
	cmd.Flags().StringVar(&why, "reason", "", "why the candidate declined: "+reason.Decline.Accepted())
	required(cmd, "reason")
	return cmd
}

func newOfferWithdrawCmd(a *app) *cobra.Command {
	var reason string
	cmd := offerChange(a, "withdraw", "Withdraw a made or accepted offer (SPOC)",
		`  pipelinectl offers withdraw 0192f3a4-5b6c-7d8e-9f00-112233445566 --reason post_withdrawn`,
		func(ctx context.Context, id string, ch *change) (*offersv1.WithdrawOfferResponse, error) {
			return a.offers.WithdrawOffer(ctx, &offersv1.WithdrawOfferRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, ReasonCode: reason,
			})
		})
	cmd.Flags().StringVar(&reason, "reason", "", "lower-case reason code, e.g. post_withdrawn")
	required(cmd, "reason")
	return cmd
}

func newOfferStartDateCmd(a *app) *cobra.Command {
	var date, due dateValue
	cmd := offerChange(a, "start-date", "Set or move the start date of an accepted offer (SPOC)",
		`  pipelinectl offers start-date 0192f3a4-5b6c-7d8e-9f00-112233445566 --date 2027-01-04
  pipelinectl offers start-date 0192f3a4-5b6c-7d8e-9f00-112233445566 --date 2027-01-04 --vetting-due-by 2027-02-01`,
		func(ctx context.Context, id string, ch *change) (*offersv1.SetStartDateResponse, error) {
			return a.offers.SetStartDate(ctx, &offersv1.SetStartDateRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
				StartDate: date.d, VettingDueBy: due.d,
			})
		})
	cmd.Long = `Set or move the start date (not in the past). A start before vetting has
cleared is "subject to vetting": it has a vetting due date, by default and
at the latest the start date plus the service's VETTING_DUE_PERIOD (8
weeks), and needs an approver's approval (offers approve-early-start) before
confirm-start. Moving the date takes an approval back.`
	f := cmd.Flags()
	f.Var(&date, "date", "the first day at work")
	f.Var(&due, "vetting-due-by", "date by which vetting must clear, for a start subject to vetting")
	required(cmd, "date")
	return cmd
}

func newOfferListCmd(a *app) *cobra.Command {
	var (
		reg    regionValue
		status = newEnum(offersv1.OfferStatus(0))
		pg     paging
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List a region's offers, oldest first",
		Example: `  pipelinectl offers list --region london --status accepted`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.offers.ListOffers(cmd.Context(), &offersv1.ListOffersRequest{
				Region: string(reg), Status: offersv1.OfferStatus(status.number()), PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := offerView(resp.GetOffers()...)
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region's offers"))
	f.Var(status, "status", "only offers in this status; "+oneOf(offersv1.OfferStatus(0)))
	addPaging(f, &pg)
	required(cmd, "region")
	return cmd
}

func newOfferGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get APPLICATION_ID",
		Short:   "Show an application's offer with its history",
		Example: `  pipelinectl offers get 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := a.offers.GetOffer(cmd.Context(), &offersv1.GetOfferRequest{ApplicationId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, offerRecord(resp.GetOffer()))
		},
	}
}

func (a *app) offerVersion(ctx context.Context, id string) (int64, error) {
	r, err := a.offers.GetOffer(ctx, &offersv1.GetOfferRequest{ApplicationId: id})
	return r.GetOffer().GetVersion(), err
}

func offerView(list ...*offersv1.Offer) view {
	v := view{columns: []string{
		"application_id", "campaign_id", "region", "role", "status", "salary_band_code", "conditions",
		"start_date", "vetting_cleared", "subject_to_vetting", "start_approved_by", "vetting_due_by",
		"reason_code", "status_entered_at", "version", "assignee", "stage_entered_at",
	}}
	for _, o := range list {
		conds := make([]string, len(o.GetConditions()))
		for i, c := range o.GetConditions() {
			conds[i] = friendly(c)
		}
		v.rows = append(v.rows, []string{
			o.GetApplicationId(), o.GetCampaignId(), o.GetRegion(), friendly(o.GetRole()), friendly(o.GetStatus()),
			o.GetSalaryBandCode(), strings.Join(conds, " "), fmtDate(o.GetStartDate()), fmtBool(o.GetVettingCleared()),
			fmtBool(o.GetSubjectToVetting()), o.GetStartApprovedBy(), fmtDate(o.GetVettingDueBy()),
			o.GetReasonCode(), fmtTime(o.GetStatusEnteredAt()), fmtInt(o.GetVersion()), o.GetAssignee(), fmtTime(o.GetStageEnteredAt()),
		})
	}
	return v
}

func offerRecord(o *offersv1.Offer) view {
	return withChecks(withHistory(offerView(o), o.GetHistory()), o.GetChecks())
}
