package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/equalitytable"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
)

func init() { register(newEqualityCmd) }

func newEqualityCmd(a *app) *cobra.Command {
	return group("equality", "Equality monitoring reports, under disclosure control (equality service)",
		`Equality reports count candidates by a monitoring characteristic at each
stage, published only under disclosure control: small counts suppressed
(with others, so none can be recovered), counts rounded, a characteristic
hidden where too few declared it. Admins and the equality role read them,
for their regions; a national report (no --region) needs every region.`,
		newEqualityFunnelCmd(a))
}

// quarterValue is a flag holding a calendar quarter, YYYY-QN.
type quarterValue struct{ from, to *commonv1.Date }

func (v *quarterValue) Set(s string) error {
	y, q, ok := strings.Cut(strings.ToUpper(strings.TrimSpace(s)), "-Q")
	year, err1 := strconv.Atoi(y)
	n, err2 := strconv.Atoi(q)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > 4 {
		return fmt.Errorf("%q is not a quarter written YYYY-QN, e.g. 2026-Q2", s)
	}
	v.from = &commonv1.Date{Year: int32(year), Month: int32(3*n - 2), Day: 1}
	v.to = &commonv1.Date{Year: int32(year), Month: int32(3*n + 1), Day: 1}
	if n == 4 {
		v.to = &commonv1.Date{Year: int32(year + 1), Month: 1, Day: 1}
	}
	return nil
}

func (v *quarterValue) String() string {
	if v.from == nil {
		return ""
	}
	return fmt.Sprintf("%d-Q%d", v.from.GetYear(), (v.from.GetMonth()+2)/3)
}

func (v *quarterValue) Type() string { return "YYYY-QN" }

// characteristicValue is a flag holding a monitoring characteristic.
type characteristicValue struct{ c equalityv1.Characteristic }

func (v *characteristicValue) Set(s string) error {
	n, err := parseEnum(equalityv1.Characteristic(0).Descriptor(), s)
	v.c = equalityv1.Characteristic(n)
	return err
}

func (v *characteristicValue) String() string { return friendly(v.c) }
func (v *characteristicValue) Type() string   { return "characteristic" }

func newEqualityFunnelCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		quarter  quarterValue
		char     characteristicValue
	)
	cmd := &cobra.Command{
		Use:   "funnel",
		Short: "Per category of a characteristic: reached each stage, conversion, adverse impact ratio, median days",
		Long: `Per category of one characteristic (including prefer-not-to-say and
not-answered): how many reached each stage, the conversion to the next, the
conversion relative to the most successful declared category (the adverse
impact ratio, flagged below 0.8), and the median days in each stage and
blocked in vetting. "suppressed" marks a figure withheld by disclosure
control. The window is one calendar quarter of submissions.`,
		Example: `  pipelinectl equality funnel --region london --quarter 2026-Q2 --characteristic ethnic-group -o csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.equality.GetEqualityFunnel(cmd.Context(), &equalityv1.GetEqualityFunnelRequest{
				Region: string(reg), CampaignId: campaign, From: quarter.from, To: quarter.to, Characteristic: char.c})
			if err != nil {
				return err
			}
			return a.emit(resp, view{columns: equalitytable.Columns, rows: equalitytable.Rows(resp), notes: equalitytable.Notes(resp)})
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region (omit for the nation)"))
	f.StringVar(&campaign, "campaign", "", "only this campaign")
	f.Var(&quarter, "quarter", "the quarter of submissions, YYYY-QN (e.g. 2026-Q2)")
	f.Var(&char, "characteristic", "the monitoring question; "+oneOf(equalityv1.Characteristic(0)))
	required(cmd, "quarter", "characteristic")
	return cmd
}

var _ protoreflect.Enum = equalityv1.Characteristic(0)
