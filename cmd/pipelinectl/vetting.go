package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

func init() { register(newVettingCmd) }

func newVettingCmd(a *app) *cobra.Command {
	return group("vetting", "Work vetting cases, including the blocked-case work list (vetting service)",
		`A vetting case opens moments after an offer is accepted. The vetting contact
point of the region (or an admin) records the forms, blocks the case with a
reason when it cannot progress, unblocks it, and clears or fails it; a failed
case makes offers withdraw the offer. SPOCs of the region may read cases.

`+"`pipelinectl vetting blocked --region R`"+` is the work list: blocked cases, longest
blocked first. `+"`pipelinectl vetting my`"+` is your own list: the cases assigned to you
(`+"`vetting assign`"+`, `+"`vetting unassign`"+`, `+"`vetting batch-assign`"+`), oldest first;
they are `+"`pipelinectl assign|unassign|batch-assign|my --stage vetting`"+`.`,
		// The generic owner commands (owners.go) for this stage.
		newAssignCmd(a, "vetting"), newUnassignCmd(a, "vetting"), newMyCmd(a, "vetting"), newBatchAssignCmd(a, "vetting"),
		newVettingFormsCmd(a), newVettingBlockCmd(a), newVettingUnblockCmd(a), newVettingClearCmd(a),
		newVettingFailCmd(a), newVettingBlockedCmd(a), newVettingListCmd(a), newVettingGetCmd(a),
		newVettingBatchUnblockCmd(a), newVettingBatchClearCmd(a))
}

// vettingChange builds a vetting command that takes the application id and
// shows the case after the change.
func vettingChange[R interface {
	proto.Message
	GetCase() *vettingv1.VettingCase
}](a *app, use, short, example string, call func(ctx context.Context, id string, ch *change) (R, error)) *cobra.Command {
	return changeCmd(a, use, short, example, a.vettingVersion, call, func(r R) view { return vettingRecord(r.GetCase()) })
}

func newVettingFormsCmd(a *app) *cobra.Command {
	return vettingChange(a, "forms", "Record that the candidate's vetting forms arrived (vetting)",
		`  pipelinectl vetting forms 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		func(ctx context.Context, id string, ch *change) (*vettingv1.RecordFormsReceivedResponse, error) {
			return a.vetting.RecordFormsReceived(ctx, &vettingv1.RecordFormsReceivedRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
			})
		})
}

func newVettingBlockCmd(a *app) *cobra.Command {
	var (
		reason = newEnum(commonv1.BlockReason(0))
		note   string
	)
	cmd := vettingChange(a, "block", "Mark a case blocked, with a reason (vetting)",
		`  pipelinectl vetting block 0192f3a4-5b6c-7d8e-9f00-112233445566 --reason missing-documents --note "passport scan unreadable"`,
		func(ctx context.Context, id string, ch *change) (*vettingv1.BlockCaseResponse, error) {
			return a.vetting.BlockCase(ctx, &vettingv1.BlockCaseRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
				Reason: commonv1.BlockReason(reason.number()), Note: note,
			})
		})
	f := cmd.Flags()
	f.Var(reason, "reason", "why the case cannot progress; "+oneOf(commonv1.BlockReason(0)))
	f.StringVar(&note, "note", "", "free text, at most 1000 characters; kept in the vetting service only, never in an event")
	required(cmd, "reason")
	return cmd
}

func newVettingUnblockCmd(a *app) *cobra.Command {
	return vettingChange(a, "unblock", "Clear a case's block; it goes back to where it was (vetting)",
		`  pipelinectl vetting unblock 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		func(ctx context.Context, id string, ch *change) (*vettingv1.UnblockCaseResponse, error) {
			return a.vetting.UnblockCase(ctx, &vettingv1.UnblockCaseRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
			})
		})
}

func newVettingClearCmd(a *app) *cobra.Command {
	return vettingChange(a, "clear", "Record that vetting passed; needs the forms and no block (vetting)",
		`  pipelinectl vetting clear 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		func(ctx context.Context, id string, ch *change) (*vettingv1.ClearCaseResponse, error) {
			return a.vetting.ClearCase(ctx, &vettingv1.ClearCaseRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
			})
		})
}

func newVettingFailCmd(a *app) *cobra.Command {
	var reason string
	cmd := vettingChange(a, "fail", "Record that vetting failed; offers then withdraws the offer (vetting)",
		`  pipelinectl vetting fail 0192f3a4-5b6c-7d8e-9f00-112233445566 --reason identity_not_verified`,
		func(ctx context.Context, id string, ch *change) (*vettingv1.FailCaseResponse, error) {
			return a.vetting.FailCase(ctx, &vettingv1.FailCaseRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, ReasonCode: reason,
			})
		})
	cmd.Flags().StringVar(&reason, "reason", "", "lower-case reason code, e.g. identity_not_verified")
	required(cmd, "reason")
	return cmd
}

func newVettingBlockedCmd(a *app) *cobra.Command {
	var (
		reg regionValue
		pg  paging
		pp  people
	)
	cmd := &cobra.Command{
		Use:     "blocked",
		Short:   "The work list: a region's blocked cases, longest blocked first",
		Example: `  pipelinectl vetting blocked --region london`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.vetting.ListBlockedCases(cmd.Context(), &vettingv1.ListBlockedCasesRequest{
				Region: string(reg), PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := view{columns: append([]string{"days_blocked"}, vettingColumns...)}
			for _, b := range resp.GetCases() {
				v.rows = append(v.rows, append([]string{fmtInt(b.GetDaysBlocked())}, vettingRow(b.GetCase())...))
			}
			if err := pp.addNames(cmd.Context(), a, &v); err != nil {
				return err
			}
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("the region's work list"))
	addPaging(cmd.Flags(), &pg)
	pp.addFlags(cmd.Flags())
	required(cmd, "region")
	return cmd
}

func newVettingListCmd(a *app) *cobra.Command {
	var (
		reg    regionValue
		status = newEnum(vettingv1.CaseStatus(0))
		pg     paging
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List a region's vetting cases, oldest first",
		Example: `  pipelinectl vetting list --region london --status forms-received`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.vetting.ListCases(cmd.Context(), &vettingv1.ListCasesRequest{
				Region: string(reg), Status: vettingv1.CaseStatus(status.number()), PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := view{columns: vettingColumns}
			for _, c := range resp.GetCases() {
				v.rows = append(v.rows, vettingRow(c))
			}
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region's cases"))
	f.Var(status, "status", "only cases in this status; "+oneOf(vettingv1.CaseStatus(0)))
	addPaging(f, &pg)
	required(cmd, "region")
	return cmd
}

func newVettingGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get APPLICATION_ID",
		Short:   "Show an application's vetting case with its history",
		Example: `  pipelinectl vetting get 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := a.vetting.GetCase(cmd.Context(), &vettingv1.GetCaseRequest{ApplicationId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, vettingRecord(resp.GetCase()))
		},
	}
}

func newVettingBatchUnblockCmd(a *app) *cobra.Command {
	var (
		ch     change
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "batch-unblock [APPLICATION_ID[:VERSION]...]",
		Short: "Clear the block on up to 1,000 cases after a common cause (vetting)",
		Long: `Clear the block on many cases at once, e.g. after a third party's backlog
cleared. Each case succeeds or fails on its own; the output says which and
why, and the exit code is 8 if any failed. --dry-run reports what would
happen, changing nothing.

Cases are the arguments (an application id, optionally :VERSION) and/or
--file, a CSV file ("-" for stdin) with a header naming the columns
application_id and, optionally, expected_version. A case without a version
is read first.`,
		Example: `  pipelinectl vetting batch-unblock 0192f3a4-aaaa-7d8e-9f00-112233445566:3 0192f3a4-bbbb-7d8e-9f00-112233445566
  pipelinectl vetting blocked --region london -o csv | pipelinectl vetting batch-unblock --file - --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			items, err := caseItems(file, args)
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.GetExpectedVersion() != 0 {
					continue
				}
				v, err := a.vettingVersion(ctx, it.GetApplicationId())
				if err != nil {
					return fmt.Errorf("read the current version of %s: %w", it.GetApplicationId(), err)
				}
				it.ExpectedVersion = v
			}
			if err := ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.vetting.BatchUnblock(ctx, &vettingv1.BatchUnblockRequest{RequestId: ch.requestID, Items: items, DryRun: dryRun})
			if err != nil {
				return err
			}
			v := view{columns: []string{"index", "application_id", "code", "field", "message", "status", "version"}}
			for _, r := range resp.GetResults() {
				v.rows = append(v.rows, []string{
					fmtInt(r.GetIndex()), r.GetApplicationId(), r.GetStatus().GetCode(), r.GetStatus().GetField(),
					r.GetStatus().GetMessage(), friendly(r.GetCase().GetStatus()), versionIfOK(r.GetCase().GetVersion()),
				})
			}
			v.notes = []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}
			return a.emitBatch(resp, len(resp.GetResults()), v)
		},
	}
	addChange(cmd, &ch, false)
	cmd.Flags().StringVar(&file, "file", "", `CSV file of cases, with a header ("-" for stdin)`)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would happen, changing nothing")
	return cmd
}

// readUnblockFile reads a CSV with a header naming application_id and,
// optionally, expected_version (or version); other columns are ignored, so
// the csv output of `vetting blocked` can be piped in.
func readUnblockFile(name string) ([]*vettingv1.UnblockItem, error) {
	return readInputFile(name, readUnblockItems)
}

func readUnblockItems(r io.Reader) ([]*vettingv1.UnblockItem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty: the first line must name the columns (application_id[,expected_version])")
	}
	if err != nil {
		return nil, err
	}
	idCol, verCol := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "application_id":
			idCol = i
		case "expected_version", "version":
			verCol = i
		}
	}
	if idCol < 0 {
		return nil, errors.New("no application_id column in the header")
	}
	var items []*vettingv1.UnblockItem
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, err
		}
		if idCol >= len(row) || strings.TrimSpace(row[idCol]) == "" {
			return nil, fmt.Errorf("line %d: application_id is empty", line)
		}
		it := &vettingv1.UnblockItem{ApplicationId: strings.TrimSpace(row[idCol])}
		if verCol >= 0 && verCol < len(row) && strings.TrimSpace(row[verCol]) != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(row[verCol]), 10, 64)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("line %d: version %q is not a whole number from 1", line, row[verCol])
			}
			it.ExpectedVersion = n
		}
		items = append(items, it)
	}
}

func (a *app) vettingVersion(ctx context.Context, id string) (int64, error) {
	r, err := a.vetting.GetCase(ctx, &vettingv1.GetCaseRequest{ApplicationId: id})
	return r.GetCase().GetVersion(), err
}

var vettingColumns = []string{
	"application_id", "campaign_id", "region", "role", "level", "status", "opened_at", "status_entered_at",
	"block_reason", "block_note", "blocked_since", "reason_code", "version", "assignee",
}

func vettingRow(c *vettingv1.VettingCase) []string {
	return []string{
		c.GetApplicationId(), c.GetCampaignId(), c.GetRegion(), friendly(c.GetRole()), friendly(c.GetLevel()),
		friendly(c.GetStatus()), fmtTime(c.GetOpenedAt()), fmtTime(c.GetStatusEnteredAt()),
		friendly(c.GetBlockReason()), c.GetBlockNote(), fmtTime(c.GetBlockedSince()), c.GetReasonCode(), fmtInt(c.GetVersion()),
		c.GetAssignee(),
	}
}

func vettingRecord(c *vettingv1.VettingCase) view {
	return withHistory(view{columns: vettingColumns, rows: [][]string{vettingRow(c)}}, c.GetHistory())
}

// caseItems reads the cases a batch command is given: those of file (a CSV
// file, "-" for stdin; none if "") and then args, each an application id,
// optionally ":VERSION".
func caseItems(file string, args []string) ([]*vettingv1.UnblockItem, error) {
	var items []*vettingv1.UnblockItem
	if file != "" {
		read, err := readUnblockFile(file)
		if err != nil {
			return nil, err
		}
		items = append(items, read...)
	}
	for _, arg := range args {
		id, ver, hasVer := strings.Cut(arg, ":")
		it := &vettingv1.UnblockItem{ApplicationId: id}
		if hasVer {
			n, err := strconv.ParseInt(ver, 10, 64)
			if err != nil || n < 1 {
				return nil, usagef("%q: the version after ':' must be a whole number from 1", arg)
			}
			it.ExpectedVersion = n
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, usagef("no cases: give application ids as arguments, or --file")
	}
	return items, nil
}
