package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// csvRow is one data row of a batch CSV, by column name.
type csvRow struct {
	line  int
	cells map[string]string
}

func (r csvRow) get(col string) string { return r.cells[col] }

// version is the row's expected_version, 0 if empty (read it first).
func (r csvRow) version() (int64, error) {
	s := r.get("expected_version")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("line %d: expected_version %q is not a version (a whole number from 1)", r.line, s)
	}
	return n, nil
}

// readBatchCSV reads a CSV whose first row names its columns, in any
// order, from columns ("version" is read as expected_version); required
// columns must be present and application_id non-empty on every row.
func readBatchCSV(name string, columns, required []string) ([]csvRow, error) {
	rows, err := readInputFile(name, func(r io.Reader) ([]csvRow, error) {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		header, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty: the first line must name the columns (%s)", strings.Join(columns, ","))
		}
		if err != nil {
			return nil, err
		}
		cols := map[string]int{}
		for i, h := range header {
			h = strings.ToLower(strings.TrimSpace(h))
			if h == "version" {
				h = "expected_version"
			}
			if !slices.Contains(columns, h) {
				return nil, fmt.Errorf("unknown column %q; columns are %s", h, strings.Join(columns, ", "))
			}
			cols[h] = i
		}
		for _, c := range required {
			if _, ok := cols[c]; !ok {
				return nil, fmt.Errorf("no %s column; the header needs at least %s", c, strings.Join(required, ","))
			}
		}
		var out []csvRow
		for line := 2; ; line++ {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			row := csvRow{line: line, cells: map[string]string{}}
			for c, i := range cols {
				if i < len(rec) {
					row.cells[c] = strings.TrimSpace(rec[i])
				}
			}
			if row.get("application_id") == "" {
				return nil, fmt.Errorf("line %d: application_id is empty", line)
			}
			out = append(out, row)
		}
	})
	if err == nil && len(rows) == 0 {
		err = usagef("--file holds no rows")
	}
	return rows, err
}

// batchFlags are the flags every bulk command shares.
type batchFlags struct {
	ch     change
	file   string
	dryRun bool
}

func (b *batchFlags) add(cmd *cobra.Command) {
	addChange(cmd, &b.ch, false)
	cmd.Flags().StringVar(&b.file, "file", "", `CSV file of items, with a header ("-" for stdin)`)
	cmd.Flags().BoolVar(&b.dryRun, "dry-run", false, "report what would happen, changing nothing")
	required(cmd, "file")
}

// fillVersion reads the current version of an item without one.
func fillVersion(ctx context.Context, id string, v *int64, read func(context.Context, string) (int64, error)) error {
	if *v != 0 {
		return nil
	}
	n, err := read(ctx, id)
	if err != nil {
		return fmt.Errorf("read the current version of %s: %w", id, err)
	}
	*v = n
	return nil
}

const batchLong = `Each item succeeds or fails on its own (an item of a region you do not hold
fails alone); the output says which and why, and the exit code is 8 if any
failed. --dry-run reports what each item would do, changing nothing.
Retrying with the same --request-id answers the finished items from the
service's log and applies the rest. An empty expected_version is read from
the record first.

--file is a CSV file ("-" for stdin) whose header names its columns, in any
order: `

func batchResultView(state string) view {
	return view{columns: []string{"index", "application_id", "code", "field", "message", state, "version"}}
}

func batchResultRow(index int32, id string, st *commonv1.ItemStatus, state string, version int64) []string {
	return []string{fmtInt(index), id, st.GetCode(), st.GetField(), st.GetMessage(), state, versionIfOK(version)}
}

func newInterviewBatchOutcomesCmd(a *app) *cobra.Command {
	var b batchFlags
	cols := []string{"application_id", "outcome", "reason_code", "expected_version"}
	cmd := &cobra.Command{
		Use:   "batch-outcomes",
		Short: "Record up to 1,000 interview outcomes (SPOC)",
		Long: "Record many interview outcomes in one call, e.g. after an assessment centre.\n" + batchLong +
			strings.Join(cols, ",") + "\n\napplication_id and outcome (pass or fail) are required; reason_code is\nrequired for a fail.",
		Example: `  pipelinectl interviews batch-outcomes --file outcomes.csv --dry-run`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rows, err := readBatchCSV(b.file, cols, []string{"application_id", "outcome"})
			if err != nil {
				return err
			}
			items := make([]*siftingv1.InterviewOutcome, len(rows))
			for i, r := range rows {
				o, err := parseEnum(commonv1.Outcome(0).Descriptor(), r.get("outcome"))
				if err != nil {
					return usagef("line %d: outcome: %v", r.line, err)
				}
				v, err := r.version()
				if err != nil {
					return usagef("%v", err)
				}
				items[i] = &siftingv1.InterviewOutcome{ApplicationId: r.get("application_id"), ExpectedVersion: v,
					Outcome: commonv1.Outcome(o), ReasonCode: r.get("reason_code")}
				if err := fillVersion(ctx, items[i].ApplicationId, &items[i].ExpectedVersion, a.siftVersion); err != nil {
					return err
				}
			}
			if err := b.ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.sifting.BatchRecordInterviewOutcomes(ctx, &siftingv1.BatchRecordInterviewOutcomesRequest{
				RequestId: b.ch.requestID, Outcomes: items, DryRun: b.dryRun})
			if err != nil {
				return err
			}
			v := batchResultView("state")
			for _, r := range resp.GetResults() {
				v.rows = append(v.rows, batchResultRow(r.GetIndex(), r.GetApplicationId(), r.GetStatus(), friendly(r.GetCase().GetState()), r.GetCase().GetVersion()))
			}
			v.notes = []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}
			return a.emitBatch(resp, len(resp.GetResults()), v)
		},
	}
	b.add(cmd)
	return cmd
}

func newOfferBatchMakeCmd(a *app) *cobra.Command {
	var b batchFlags
	cols := []string{"application_id", "salary_band_code", "conditions", "expected_version"}
	cmd := &cobra.Command{
		Use:   "batch-make",
		Short: "Make up to 1,000 conditional offers (SPOC)",
		Long: "Make many conditional offers in one call.\n" + batchLong + strings.Join(cols, ",") +
			"\n\napplication_id, salary_band_code and conditions are required; conditions\nare separated by ';' (e.g. vetting;references), " + oneOf(commonv1.OfferCondition(0)) + ".",
		Example: `  pipelinectl offers batch-make --file offers.csv --dry-run`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rows, err := readBatchCSV(b.file, cols, []string{"application_id", "salary_band_code", "conditions"})
			if err != nil {
				return err
			}
			items := make([]*offersv1.OfferItem, len(rows))
			for i, r := range rows {
				v, err := r.version()
				if err != nil {
					return usagef("%v", err)
				}
				it := &offersv1.OfferItem{ApplicationId: r.get("application_id"), ExpectedVersion: v, SalaryBandCode: r.get("salary_band_code")}
				for part := range strings.SplitSeq(r.get("conditions"), ";") {
					if strings.TrimSpace(part) == "" {
						continue
					}
					n, err := parseEnum(commonv1.OfferCondition(0).Descriptor(), part)
					if err != nil {
						return usagef("line %d: conditions: %v", r.line, err)
					}
					it.Conditions = append(it.Conditions, commonv1.OfferCondition(n))
				}
				if err := fillVersion(ctx, it.ApplicationId, &it.ExpectedVersion, a.offerVersion); err != nil {
					return err
				}
				items[i] = it
			}
			if err := b.ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.offers.BatchMakeConditionalOffers(ctx, &offersv1.BatchMakeConditionalOffersRequest{
				RequestId: b.ch.requestID, Items: items, DryRun: b.dryRun})
			if err != nil {
				return err
			}
			v := batchResultView("status")
			for _, r := range resp.GetResults() {
				v.rows = append(v.rows, batchResultRow(r.GetIndex(), r.GetApplicationId(), r.GetStatus(), friendly(r.GetOffer().GetStatus()), r.GetOffer().GetVersion()))
			}
			v.notes = []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}
			return a.emitBatch(resp, len(resp.GetResults()), v)
		},
	}
	b.add(cmd)
	return cmd
}

func newVettingBatchClearCmd(a *app) *cobra.Command {
	var b batchFlags
	cols := []string{"application_id", "expected_version"}
	cmd := &cobra.Command{
		Use:   "batch-clear",
		Short: "Record up to 1,000 cases cleared (vetting)",
		Long:  "Record many vetting cases cleared in one call, e.g. after a vetting panel.\n" + batchLong + strings.Join(cols, ",") + "\n\nOther columns are refused.",
		Example: `  pipelinectl vetting batch-clear --file cleared.csv --dry-run
  pipelinectl vetting list --region london --status forms-received -o csv | cut -d, -f1,13 | pipelinectl vetting batch-clear --file -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rows, err := readBatchCSV(b.file, cols, []string{"application_id"})
			if err != nil {
				return err
			}
			items := make([]*vettingv1.ClearItem, len(rows))
			for i, r := range rows {
				v, err := r.version()
				if err != nil {
					return usagef("%v", err)
				}
				items[i] = &vettingv1.ClearItem{ApplicationId: r.get("application_id"), ExpectedVersion: v}
				if err := fillVersion(ctx, items[i].ApplicationId, &items[i].ExpectedVersion, a.vettingVersion); err != nil {
					return err
				}
			}
			if err := b.ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.vetting.BatchClear(ctx, &vettingv1.BatchClearRequest{RequestId: b.ch.requestID, Items: items, DryRun: b.dryRun})
			if err != nil {
				return err
			}
			v := batchResultView("status")
			for _, r := range resp.GetResults() {
				v.rows = append(v.rows, batchResultRow(r.GetIndex(), r.GetApplicationId(), r.GetStatus(), friendly(r.GetCase().GetStatus()), r.GetCase().GetVersion()))
			}
			v.notes = []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}
			return a.emitBatch(resp, len(resp.GetResults()), v)
		},
	}
	b.add(cmd)
	return cmd
}

func newApplicationBatchWithdrawCmd(a *app) *cobra.Command {
	var b batchFlags
	cols := []string{"application_id", "reason_code", "expected_version"}
	cmd := &cobra.Command{
		Use:     "batch-withdraw",
		Short:   "Withdraw up to 1,000 applications (SPOC)",
		Long:    "Withdraw many applications in one call.\n" + batchLong + strings.Join(cols, ",") + "\n\napplication_id and reason_code are required.",
		Example: `  pipelinectl applications batch-withdraw --file withdrawals.csv --dry-run`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rows, err := readBatchCSV(b.file, cols, []string{"application_id", "reason_code"})
			if err != nil {
				return err
			}
			items := make([]*applicationsv1.WithdrawItem, len(rows))
			for i, r := range rows {
				v, err := r.version()
				if err != nil {
					return usagef("%v", err)
				}
				items[i] = &applicationsv1.WithdrawItem{ApplicationId: r.get("application_id"), ExpectedVersion: v, ReasonCode: r.get("reason_code")}
				if err := fillVersion(ctx, items[i].ApplicationId, &items[i].ExpectedVersion, a.applicationVersion); err != nil {
					return err
				}
			}
			if err := b.ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.applications.BatchWithdrawApplications(ctx, &applicationsv1.BatchWithdrawApplicationsRequest{
				RequestId: b.ch.requestID, Items: items, DryRun: b.dryRun})
			if err != nil {
				return err
			}
			v := batchResultView("stage")
			for _, r := range resp.GetResults() {
				v.rows = append(v.rows, batchResultRow(r.GetIndex(), r.GetApplicationId(), r.GetStatus(), friendly(r.GetApplication().GetStage()), r.GetApplication().GetVersion()))
			}
			v.notes = []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}
			return a.emitBatch(resp, len(resp.GetResults()), v)
		},
	}
	b.add(cmd)
	return cmd
}
