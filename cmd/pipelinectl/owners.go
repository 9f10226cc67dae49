package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

func init() {
	register(func(a *app) *cobra.Command { return newAssignCmd(a, "") })
	register(func(a *app) *cobra.Command { return newUnassignCmd(a, "") })
	register(func(a *app) *cobra.Command { return newBatchAssignCmd(a, "") })
	register(func(a *app) *cobra.Command { return newMyCmd(a, "") })
}

// ownerStages are the stages whose records have named owners, as --stage
// names them: the sift case (SIFT and INTERVIEW), the offer record (OFFER
// and PRE_EMPLOYMENT) and the vetting case.
var ownerStages = []string{"sift", "offer", "vetting"}

// ownerStage is how pipelinectl reads, assigns and lists the records of
// one stage with named owners.
type ownerStage struct {
	version  func(ctx context.Context, id string) (int64, error)
	assign   func(ctx context.Context, id string, ch *change, to string) (proto.Message, view, error)
	unassign func(ctx context.Context, id string, ch *change) (proto.Message, view, error)
	batch    func(ctx context.Context, requestID string, items []*vettingv1.UnblockItem, to string, dryRun bool) (batchResponse, view, error)
	my       func(ctx context.Context, pg paging) (proto.Message, view, error)
}

// stageValue is the --stage flag: one of ownerStages.
type stageValue string

func (v *stageValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(ownerStages, s) {
		return fmt.Errorf("unknown stage %q; use one of: %s", s, strings.Join(ownerStages, ", "))
	}
	*v = stageValue(s)
	return nil
}
func (v *stageValue) String() string { return string(*v) }
func (v *stageValue) Type() string   { return "stage" }

const stageHelp = "whose records: sift (the sift case: SIFT and INTERVIEW), offer (the offer record: OFFER and PRE_EMPLOYMENT) or vetting (the vetting case)"

// stageFlag adds --stage to cmd unless fixed names the stage (a stage's
// own alias, such as `vetting assign`), and returns the stage the command
// runs for.
func stageFlag(cmd *cobra.Command, fixed string) func() string {
	if fixed != "" {
		return func() string { return fixed }
	}
	var st stageValue
	cmd.Flags().Var(&st, "stage", stageHelp)
	required(cmd, "stage")
	return func() string { return string(st) }
}

// ownerStage returns how to work the named stage's owners.
func (a *app) ownerStage(name string) ownerStage {
	switch name {
	case "sift":
		return a.siftOwners()
	case "offer":
		return a.offerOwners()
	}
	return a.vettingOwners()
}

// ownerUse says a command's name and what it is for, generic or as a
// stage's alias.
func ownerUse(fixed, generic, alias string) string {
	if fixed == "" {
		return generic
	}
	return alias
}

func newAssignCmd(a *app, fixed string) *cobra.Command {
	var (
		ch change
		to string
	)
	cmd := &cobra.Command{
		Use: "assign APPLICATION_ID --to SUBJECT",
		Short: ownerUse(fixed, "Name the owner of an application's record at a stage, a staff subject id (SPOC for sift and offer, vetting for vetting)",
			"Name a case's owner, a staff subject id (vetting)"),
		Long: ownerUse(fixed, `Name who owns an application's open record at a stage: the sift case (the
SIFT and INTERVIEW stages, sifting service), the offer record (OFFER and
PRE_EMPLOYMENT, offers service) or the vetting case (vetting service). The
owner is a staff subject id as their sign-in token carries it, never an email
address. A SPOC of the region (an admin anywhere) names owners of sift cases
and offer records; a vetting contact point those of vetting cases. Naming the
current owner again is refused and changes nothing; a closed record (decided,
withdrawn, declined, started) takes no owner.`, ""),
		Example: ownerUse(fixed, `  pipelinectl assign 0192f3a4-5b6c-7d8e-9f00-112233445566 --stage sift --to spoc-london-2
  pipelinectl assign 0192f3a4-5b6c-7d8e-9f00-112233445566 --stage offer --to spoc-london-2 --version 3`,
			`  pipelinectl vetting assign 0192f3a4-5b6c-7d8e-9f00-112233445566 --to vetting-london-2`),
		Args: oneID("application id"),
	}
	stage := stageFlag(cmd, fixed)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, s := cmd.Context(), a.ownerStage(stage())
		if err := ch.prepare(a, cmd, func() (int64, error) { return s.version(ctx, args[0]) }); err != nil {
			return err
		}
		resp, v, err := s.assign(ctx, args[0], &ch, to)
		if err != nil {
			return err
		}
		return a.emit(resp, v)
	}
	addChange(cmd, &ch, true)
	cmd.Flags().StringVar(&to, "to", "", "the owner's subject id as their sign-in token carries it (never an email address)")
	required(cmd, "to")
	return cmd
}

func newUnassignCmd(a *app, fixed string) *cobra.Command {
	var ch change
	cmd := &cobra.Command{
		Use: "unassign APPLICATION_ID",
		Short: ownerUse(fixed, "Remove the named owner of an application's record at a stage; the region's role owns it again",
			"Remove a case's named owner; the region's contact points own it again (vetting)"),
		Example: ownerUse(fixed, `  pipelinectl unassign 0192f3a4-5b6c-7d8e-9f00-112233445566 --stage offer`,
			`  pipelinectl vetting unassign 0192f3a4-5b6c-7d8e-9f00-112233445566`),
		Args: oneID("application id"),
	}
	stage := stageFlag(cmd, fixed)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, s := cmd.Context(), a.ownerStage(stage())
		if err := ch.prepare(a, cmd, func() (int64, error) { return s.version(ctx, args[0]) }); err != nil {
			return err
		}
		resp, v, err := s.unassign(ctx, args[0], &ch)
		if err != nil {
			return err
		}
		return a.emit(resp, v)
	}
	addChange(cmd, &ch, true)
	return cmd
}

func newBatchAssignCmd(a *app, fixed string) *cobra.Command {
	var (
		ch       change
		file, to string
		dryRun   bool
	)
	cmd := &cobra.Command{
		Use:   "batch-assign [APPLICATION_ID[:VERSION]...] --to SUBJECT",
		Short: ownerUse(fixed, "Name one owner for up to 1,000 records of a stage", "Name one owner for up to 1,000 cases (vetting)"),
		Long: `Assign many records to one owner at once, e.g. when someone takes over a
colleague's work. Each record succeeds or fails on its own; the output says
which and why, and the exit code is 8 if any failed. --dry-run reports what
would happen, changing nothing.

Records are given as for batch-unblock: arguments (an application id,
optionally :VERSION) and/or --file, a CSV file ("-" for stdin) with a header
naming application_id and, optionally, expected_version (or version); other
columns are ignored, so a list's csv output can be piped in. A record
without a version is read first.`,
		Example: ownerUse(fixed, `  pipelinectl sift queue --region london -o csv | pipelinectl batch-assign --stage sift --file - --to spoc-london-2 --dry-run
  pipelinectl batch-assign --stage offer 0192f3a4-aaaa-7d8e-9f00-112233445566:3 --to spoc-london-2`,
			`  pipelinectl vetting list --region london --status open -o csv | pipelinectl vetting batch-assign --file - --to vetting-london-2 --dry-run`),
	}
	stage := stageFlag(cmd, fixed)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, s := cmd.Context(), a.ownerStage(stage())
		items, err := caseItems(file, args)
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.GetExpectedVersion() != 0 {
				continue
			}
			v, err := s.version(ctx, it.GetApplicationId())
			if err != nil {
				return fmt.Errorf("read the current version of %s: %w", it.GetApplicationId(), err)
			}
			it.ExpectedVersion = v
		}
		if err := ch.prepare(a, cmd, nil); err != nil {
			return err
		}
		resp, v, err := s.batch(ctx, ch.requestID, items, to, dryRun)
		if err != nil {
			return err
		}
		return a.emitBatch(resp, len(items), v)
	}
	addChange(cmd, &ch, false)
	cmd.Flags().StringVar(&file, "file", "", `CSV file of records, with a header ("-" for stdin)`)
	cmd.Flags().StringVar(&to, "to", "", "the owner's subject id as their sign-in token carries it (never an email address)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would happen, changing nothing")
	required(cmd, "to")
	return cmd
}

func newMyCmd(a *app, fixed string) *cobra.Command {
	var (
		pg       paging
		pp       people
		reg      regionValue
		assignee string
		asOf     timeValue
	)
	cmd := &cobra.Command{
		Use: "my",
		Short: ownerUse(fixed, "Your own work list: your open cases across every stage (reporting), or at one stage",
			"Your own work list: the cases in progress assigned to you, oldest in their status first"),
		Long: ownerUse(fixed, `Your own work list. Without --stage, from the reporting service: every open
case assigned to you across the stages — a sift case in SIFT or INTERVIEW, an
offer in OFFER or PRE_EMPLOYMENT, a vetting case while vetting is open — in
your regions (or --region), oldest in their stage first, with what is due:
the next threshold (warning or breach) and when, or how many days overdue.
An admin may list someone else's with --assignee. Reporting trails a change
by moments.

With --stage, from that stage's own service: the open records assigned to
you there (by assign, batch-assign or the region's default owners), with
the stage, when the record entered it and the whole days since.`, ""),
		Example: ownerUse(fixed, `  pipelinectl my
  pipelinectl my --region london -o csv
  pipelinectl my --assignee spoc-london-2      # an admin
  pipelinectl my --stage sift
  pipelinectl my --stage offer -o csv`, `  pipelinectl vetting my -o csv`),
		Args: cobra.NoArgs,
	}
	stage := func() string { return fixed }
	if fixed == "" {
		var st stageValue
		cmd.Flags().Var(&st, "stage", stageHelp+"; without it, every stage (reporting)")
		cmd.Flags().Var(&reg, "region", regionHelp("only this region, without --stage"))
		cmd.Flags().StringVar(&assignee, "assignee", "", "whose cases, without --stage (an admin only; default you)")
		cmd.Flags().Var(&asOf, "as-of", "what is due as of this time, without --stage (default now)")
		stage = func() string { return string(st) }
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var (
			resp proto.Message
			v    view
			err  error
		)
		switch {
		case stage() == "":
			resp, v, err = a.myCases(cmd.Context(), &reportingv1.ListMyCasesRequest{
				Assignee: assignee, Region: string(reg), AsOf: asOf.t, PageSize: pg.size, PageToken: pg.token})
		case reg != "" || assignee != "" || asOf.t != nil:
			return usagef("--region, --assignee and --as-of are for the list across stages: leave out --stage")
		default:
			resp, v, err = a.ownerStage(stage()).my(cmd.Context(), pg)
		}
		if err != nil {
			return err
		}
		if err := pp.addNames(cmd.Context(), a, &v); err != nil {
			return err
		}
		return a.emit(resp, v)
	}
	addPaging(cmd.Flags(), &pg)
	pp.addFlags(cmd.Flags())
	return cmd
}

// myCases lists a person's open cases across stages (reporting).
func (a *app) myCases(ctx context.Context, req *reportingv1.ListMyCasesRequest) (proto.Message, view, error) {
	resp, err := a.reporting.ListMyCases(ctx, req)
	if err != nil {
		return nil, view{}, err
	}
	v := view{columns: []string{"application_id", "region", "role", "stage", "record", "since", "severity", "days_overdue",
		"next_threshold", "next_threshold_at", "rule", "blocked_reason", "campaign_id"},
		notes: append([]string{"assignee: " + resp.GetAssignee()}, pageNote(resp.GetNextPageToken())...)}
	for _, c := range resp.GetCases() {
		next := ""
		if c.GetNextThresholdAt() != nil {
			next = fmtTime(c.GetNextThresholdAt())
		}
		v.rows = append(v.rows, []string{c.GetApplicationId(), c.GetRegion(), friendly(c.GetRole()), friendly(c.GetStage()),
			friendly(c.GetRecord()), fmtTime(c.GetSince()), friendly(c.GetSeverity()), fmtInt(c.GetDaysOverdue()),
			friendly(c.GetNextThreshold()), next, friendly(c.GetKind()), friendly(c.GetBlockedReason()), c.GetCampaignId()})
	}
	return resp, v, nil
}

// assignResultColumns are a batch-assign's columns.
var assignResultColumns = []string{"index", "application_id", "code", "field", "message", "assignee", "version"}

// assignResult is one batch-assign item's row.
type assignResult interface {
	GetIndex() int32
	GetApplicationId() string
}

func assignResultRow(r assignResult, code, field, message, assignee string, version int64) []string {
	return []string{fmtInt(r.GetIndex()), r.GetApplicationId(), code, field, message, assignee, versionIfOK(version)}
}

func (a *app) siftOwners() ownerStage {
	return ownerStage{
		version: a.siftVersion,
		assign: func(ctx context.Context, id string, ch *change, to string) (proto.Message, view, error) {
			r, err := a.sifting.AssignCase(ctx, &siftingv1.AssignCaseRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, Assignee: to})
			if err != nil {
				return nil, view{}, err
			}
			return r, siftCaseRecord(r.GetCase()), nil
		},
		unassign: func(ctx context.Context, id string, ch *change) (proto.Message, view, error) {
			r, err := a.sifting.UnassignCase(ctx, &siftingv1.UnassignCaseRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version})
			if err != nil {
				return nil, view{}, err
			}
			return r, siftCaseRecord(r.GetCase()), nil
		},
		batch: func(ctx context.Context, requestID string, items []*vettingv1.UnblockItem, to string, dryRun bool) (batchResponse, view, error) {
			req := &siftingv1.BatchAssignRequest{RequestId: requestID, Assignee: to, DryRun: dryRun}
			for _, it := range items {
				req.Items = append(req.Items, &siftingv1.AssignItem{ApplicationId: it.GetApplicationId(), ExpectedVersion: it.GetExpectedVersion()})
			}
			resp, err := a.sifting.BatchAssign(ctx, req)
			v := view{columns: assignResultColumns, notes: []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}}
			for _, r := range resp.GetResults() {
				st := r.GetStatus()
				v.rows = append(v.rows, assignResultRow(r, st.GetCode(), st.GetField(), st.GetMessage(), r.GetCase().GetAssignee(), r.GetCase().GetVersion()))
			}
			return resp, v, err
		},
		my: func(ctx context.Context, pg paging) (proto.Message, view, error) {
			resp, err := a.sifting.ListMyCases(ctx, &siftingv1.ListMyCasesRequest{PageSize: pg.size, PageToken: pg.token})
			v := view{columns: append([]string{"days_in_stage", "stage", "stage_entered_at"}, siftCaseColumns...), notes: pageNote(resp.GetNextPageToken())}
			for _, m := range resp.GetCases() {
				v.rows = append(v.rows, append([]string{fmtInt(m.GetDaysInStage()), friendly(m.GetStage()), fmtTime(m.GetStageEnteredAt())},
					siftCaseRow(m.GetCase())...))
			}
			return resp, v, err
		},
	}
}

func (a *app) offerOwners() ownerStage {
	return ownerStage{
		version: a.offerVersion,
		assign: func(ctx context.Context, id string, ch *change, to string) (proto.Message, view, error) {
			r, err := a.offers.AssignCase(ctx, &offersv1.AssignCaseRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, Assignee: to})
			if err != nil {
				return nil, view{}, err
			}
			return r, offerRecord(r.GetOffer()), nil
		},
		unassign: func(ctx context.Context, id string, ch *change) (proto.Message, view, error) {
			r, err := a.offers.UnassignCase(ctx, &offersv1.UnassignCaseRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version})
			if err != nil {
				return nil, view{}, err
			}
			return r, offerRecord(r.GetOffer()), nil
		},
		batch: func(ctx context.Context, requestID string, items []*vettingv1.UnblockItem, to string, dryRun bool) (batchResponse, view, error) {
			req := &offersv1.BatchAssignRequest{RequestId: requestID, Assignee: to, DryRun: dryRun}
			for _, it := range items {
				req.Items = append(req.Items, &offersv1.AssignItem{ApplicationId: it.GetApplicationId(), ExpectedVersion: it.GetExpectedVersion()})
			}
			resp, err := a.offers.BatchAssign(ctx, req)
			v := view{columns: assignResultColumns, notes: []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}}
			for _, r := range resp.GetResults() {
				st := r.GetStatus()
				v.rows = append(v.rows, assignResultRow(r, st.GetCode(), st.GetField(), st.GetMessage(), r.GetOffer().GetAssignee(), r.GetOffer().GetVersion()))
			}
			return resp, v, err
		},
		my: func(ctx context.Context, pg paging) (proto.Message, view, error) {
			resp, err := a.offers.ListMyCases(ctx, &offersv1.ListMyCasesRequest{PageSize: pg.size, PageToken: pg.token})
			offers := make([]*offersv1.Offer, len(resp.GetCases()))
			for i, m := range resp.GetCases() {
				offers[i] = m.GetOffer()
			}
			list := offerView(offers...)
			v := view{columns: append([]string{"days_in_stage", "stage", "stage_entered_at"}, list.columns...), notes: pageNote(resp.GetNextPageToken())}
			for i, m := range resp.GetCases() {
				v.rows = append(v.rows, append([]string{fmtInt(m.GetDaysInStage()), friendly(m.GetStage()), fmtTime(m.GetStageEnteredAt())}, list.rows[i]...))
			}
			return resp, v, err
		},
	}
}

func (a *app) vettingOwners() ownerStage {
	return ownerStage{
		version: a.vettingVersion,
		assign: func(ctx context.Context, id string, ch *change, to string) (proto.Message, view, error) {
			r, err := a.vetting.AssignCase(ctx, &vettingv1.AssignCaseRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, Assignee: to})
			if err != nil {
				return nil, view{}, err
			}
			return r, vettingRecord(r.GetCase()), nil
		},
		unassign: func(ctx context.Context, id string, ch *change) (proto.Message, view, error) {
			r, err := a.vetting.UnassignCase(ctx, &vettingv1.UnassignCaseRequest{RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version})
			if err != nil {
				return nil, view{}, err
			}
			return r, vettingRecord(r.GetCase()), nil
		},
		batch: func(ctx context.Context, requestID string, items []*vettingv1.UnblockItem, to string, dryRun bool) (batchResponse, view, error) {
			req := &vettingv1.BatchAssignRequest{RequestId: requestID, Assignee: to, DryRun: dryRun}
			for _, it := range items {
				req.Items = append(req.Items, &vettingv1.AssignItem{ApplicationId: it.GetApplicationId(), ExpectedVersion: it.GetExpectedVersion()})
			}
			resp, err := a.vetting.BatchAssign(ctx, req)
			v := view{columns: assignResultColumns, notes: []string{batchNote(resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun())}}
			for _, r := range resp.GetResults() {
				st := r.GetStatus()
				v.rows = append(v.rows, assignResultRow(r, st.GetCode(), st.GetField(), st.GetMessage(), r.GetCase().GetAssignee(), r.GetCase().GetVersion()))
			}
			return resp, v, err
		},
		my: func(ctx context.Context, pg paging) (proto.Message, view, error) {
			resp, err := a.vetting.ListMyCases(ctx, &vettingv1.ListMyCasesRequest{PageSize: pg.size, PageToken: pg.token})
			v := view{columns: append([]string{"days_in_status"}, vettingColumns...), notes: pageNote(resp.GetNextPageToken())}
			for _, m := range resp.GetCases() {
				v.rows = append(v.rows, append([]string{fmtInt(m.GetDaysInStatus())}, vettingRow(m.GetCase())...))
			}
			return resp, v, err
		},
	}
}
