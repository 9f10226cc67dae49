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
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/reason"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
)

func init() {
	register(newSiftCmd)
	register(newInterviewsCmd)
}

func newSiftCmd(a *app) *cobra.Command {
	cmd := group("sift", "Record sift decisions and work the sift queue (sifting service)",
		`A sift case opens when an application is submitted (moments after; until
then a decision is "not allowed now: ... retry shortly"). A SPOC of the region
(or an admin) passes or fails it; a pass moves it on to interview (see
`+"`pipelinectl interviews`"+`).`,
		newSiftDecideCmd(a), newSiftBatchCmd(a), newInterviewBatchOutcomesCmd(a), newSiftQueueCmd(a), newSiftGetCmd(a))
	// `pipelinectl sifting batch-outcomes` names the service, as issue 16 does.
	cmd.Aliases = []string{"sifting"}
	return cmd
}

func newInterviewsCmd(a *app) *cobra.Command {
	return group("interviews", "Book interviews and record their outcome (sifting service)",
		`After a sift pass the case waits for an interview: book it (a time in the
future), then record pass or fail. A pass makes the candidate eligible for a
conditional offer (see `+"`pipelinectl offers`"+`). `+"`pipelinectl sift get`"+` shows the case.`,
		newInterviewScheduleCmd(a), newInterviewOutcomeCmd(a), newInterviewBatchOutcomesCmd(a), newInterviewQueueCmd(a))
}

// siftChange builds a sifting command that takes the application id and
// shows the case after the change.
func siftChange[R interface {
	proto.Message
	GetCase() *siftingv1.SiftCase
}](a *app, use, short, example string, call func(ctx context.Context, id string, ch *change) (R, error)) *cobra.Command {
	return changeCmd(a, use, short, example, a.siftVersion, call, func(r R) view { return siftCaseRecord(r.GetCase()) })
}

func newSiftDecideCmd(a *app) *cobra.Command {
	var (
		cmd     *cobra.Command
		outcome = newEnum(commonv1.Outcome(0))
		score   int32
		why     string
	)
	cmd = siftChange(a, "decide", "Pass or fail one application at the sift (SPOC)",
		`  pipelinectl sift decide 0192f3a4-5b6c-7d8e-9f00-112233445566 --outcome pass --score 72
  pipelinectl sift decide 0192f3a4-5b6c-7d8e-9f00-112233445566 --outcome fail --reason insufficient_evidence --version 1`,
		func(ctx context.Context, id string, ch *change) (*siftingv1.RecordSiftDecisionResponse, error) {
			req := &siftingv1.RecordSiftDecisionRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
				Outcome: commonv1.Outcome(outcome.number()), ReasonCode: why,
			}
			if cmd.Flags().Changed("score") {
				req.Score = &score
			}
			return a.sifting.RecordSiftDecision(ctx, req)
		})
	f := cmd.Flags()
	f.Var(outcome, "outcome", oneOf(commonv1.Outcome(0)))
	f.Int32Var(&score, "score", 0, "sift score, 0-100 (optional)")
	f.StringVar(&why, "reason", "", "required for a fail: "+reason.SiftFail.Accepted())
	required(cmd, "outcome")
	return cmd
}

// decisionColumns are the columns of a batch, in the order --decision takes them.
var decisionColumns = []string{"application_id", "outcome", "score", "reason_code", "expected_version"}

func newSiftBatchCmd(a *app) *cobra.Command {
	var (
		ch        change
		campaign  string
		file      string
		decisions []string
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "batch",
		Short: "Record up to 1,000 sift decisions for one campaign (SPOC)",
		Long: `Record many sift decisions for one campaign in one call. Each decision
succeeds or fails on its own; the output says which and why, and the exit
code is 8 if any failed. --dry-run checks every decision against the cases
and reports what would happen, changing nothing.

Decisions come from --file (a CSV file, "-" for stdin) and/or repeated
--decision flags. The CSV has a header naming its columns, in any order:

  application_id,outcome,score,reason_code,expected_version

application_id and outcome (pass or fail) are required; score (0-100),
reason_code (required for a fail) and expected_version may be empty. An
empty expected_version is read from the case first. A --decision is one row
without the header, in the order above: "ID,pass,72" or "ID,fail,,no_evidence,1".

Retrying the same batch with the same --request-id answers the finished
items from the service's log and applies the rest.`,
		Example: `  pipelinectl sift batch --campaign 0192f3a4-5b6c-7d8e-9f00-112233445566 --file decisions.csv --dry-run
  pipelinectl sift batch --campaign 0192f3a4-5b6c-7d8e-9f00-112233445566 \
    --decision 0192f3a4-aaaa-7d8e-9f00-112233445566,pass,72 --decision 0192f3a4-bbbb-7d8e-9f00-112233445566,fail,,no_evidence`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var items []*siftingv1.SiftDecision
			if file != "" {
				read, err := readDecisionsFile(file)
				if err != nil {
					return err
				}
				items = append(items, read...)
			}
			for i, d := range decisions {
				row, err := csv.NewReader(strings.NewReader(d)).Read()
				if err != nil {
					return usagef("--decision %q: %v", d, err)
				}
				item, err := decisionFromRow(row, columnIndex(decisionColumns))
				if err != nil {
					return usagef("--decision #%d %q: %v", i+1, d, err)
				}
				items = append(items, item)
			}
			if len(items) == 0 {
				return usagef("no decisions: give --file or --decision")
			}
			for _, it := range items {
				if it.GetExpectedVersion() != 0 {
					continue
				}
				v, err := a.siftVersion(ctx, it.GetApplicationId())
				if err != nil {
					return fmt.Errorf("read the current version of %s: %w", it.GetApplicationId(), err)
				}
				it.ExpectedVersion = v
			}
			if err := ch.prepare(a, cmd, nil); err != nil {
				return err
			}
			resp, err := a.sifting.BatchRecordSiftDecisions(ctx, &siftingv1.BatchRecordSiftDecisionsRequest{
				RequestId: ch.requestID, CampaignId: campaign, Decisions: items, DryRun: dryRun,
			})
			if err != nil {
				return err
			}
			return a.emitBatch(resp, len(resp.GetResults()), siftBatchView(resp))
		},
	}
	addChange(cmd, &ch, false)
	f := cmd.Flags()
	f.StringVar(&campaign, "campaign", "", "campaign id every decision belongs to")
	f.StringVar(&file, "file", "", `CSV file of decisions ("-" for stdin)`)
	f.StringArrayVar(&decisions, "decision", nil, "one decision, ID,OUTCOME[,SCORE[,REASON_CODE[,EXPECTED_VERSION]]] (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "report what would happen, changing nothing")
	required(cmd, "campaign")
	return cmd
}

// readDecisionsFile reads a batch CSV (with a header) from a file or stdin.
func readDecisionsFile(name string) ([]*siftingv1.SiftDecision, error) {
	return readInputFile(name, readDecisions)
}

// readDecisions parses a batch CSV whose first row names the columns.
func readDecisions(r io.Reader) ([]*siftingv1.SiftDecision, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty: the first line must name the columns (application_id,outcome,...)")
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
		if !slices.Contains(decisionColumns, h) {
			return nil, fmt.Errorf("unknown column %q; columns are %s", h, strings.Join(decisionColumns, ", "))
		}
		cols[h] = i
	}
	for _, c := range []string{"application_id", "outcome"} {
		if _, ok := cols[c]; !ok {
			return nil, fmt.Errorf("no %s column; the header needs at least application_id,outcome", c)
		}
	}
	var out []*siftingv1.SiftDecision
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		d, err := decisionFromRow(row, cols)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, d)
	}
}

// decisionFromRow builds one decision from a CSV row; cols maps each
// column present to its position.
func decisionFromRow(row []string, cols map[string]int) (*siftingv1.SiftDecision, error) {
	cell := func(name string) string {
		i, ok := cols[name]
		if !ok || i >= len(row) {
			return ""
		}
		return strings.TrimSpace(row[i])
	}
	d := &siftingv1.SiftDecision{ApplicationId: cell("application_id"), ReasonCode: cell("reason_code")}
	if d.ApplicationId == "" {
		return nil, errors.New("application_id is empty")
	}
	o, err := parseEnum(commonv1.Outcome(0).Descriptor(), cell("outcome"))
	if err != nil {
		return nil, fmt.Errorf("outcome: %w", err)
	}
	d.Outcome = commonv1.Outcome(o)
	if s := cell("score"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("score %q is not a whole number", s)
		}
		score := int32(n)
		d.Score = &score
	}
	if s := cell("expected_version"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("expected_version %q is not a version (a whole number from 1)", s)
		}
		d.ExpectedVersion = n
	}
	return d, nil
}

func columnIndex(cols []string) map[string]int {
	m := make(map[string]int, len(cols))
	for i, c := range cols {
		m[c] = i
	}
	return m
}

func newSiftQueueCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		pg       paging
	)
	cmd := &cobra.Command{
		Use:     "queue",
		Short:   "List a region's cases awaiting a sift decision, oldest first",
		Example: `  pipelinectl sift queue --region london`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.sifting.ListSiftQueue(cmd.Context(), &siftingv1.ListSiftQueueRequest{
				Region: string(reg), CampaignId: campaign, PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := queueView(resp.GetEntries())
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region's queue"))
	f.StringVar(&campaign, "campaign", "", "only this campaign's cases")
	addPaging(f, &pg)
	required(cmd, "region")
	return cmd
}

func newSiftGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get APPLICATION_ID",
		Short:   "Show an application's sift and interview case, with its history",
		Example: `  pipelinectl sift get 0192f3a4-5b6c-7d8e-9f00-112233445566`,
		Args:    oneID("application id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := a.sifting.GetCase(cmd.Context(), &siftingv1.GetCaseRequest{ApplicationId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, siftCaseRecord(resp.GetCase()))
		},
	}
}

func newInterviewScheduleCmd(a *app) *cobra.Command {
	var at timeValue
	cmd := siftChange(a, "schedule", "Book or move the interview of a case that passed the sift (SPOC)",
		`  pipelinectl interviews schedule 0192f3a4-5b6c-7d8e-9f00-112233445566 --at 2027-01-15T10:00:00Z`,
		func(ctx context.Context, id string, ch *change) (*siftingv1.ScheduleInterviewResponse, error) {
			return a.sifting.ScheduleInterview(ctx, &siftingv1.ScheduleInterviewRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version, ScheduledFor: at.t,
			})
		})
	cmd.Flags().Var(&at, "at", "when the interview is, in the future (RFC 3339)")
	required(cmd, "at")
	return cmd
}

func newInterviewOutcomeCmd(a *app) *cobra.Command {
	var (
		outcome = newEnum(commonv1.Outcome(0))
		why     string
	)
	cmd := siftChange(a, "outcome", "Pass or fail the candidate at interview (SPOC)",
		`  pipelinectl interviews outcome 0192f3a4-5b6c-7d8e-9f00-112233445566 --outcome pass
  pipelinectl interviews outcome 0192f3a4-5b6c-7d8e-9f00-112233445566 --outcome fail --reason below_interview_standard`,
		func(ctx context.Context, id string, ch *change) (*siftingv1.RecordInterviewOutcomeResponse, error) {
			return a.sifting.RecordInterviewOutcome(ctx, &siftingv1.RecordInterviewOutcomeRequest{
				RequestId: ch.requestID, ApplicationId: id, ExpectedVersion: ch.version,
				Outcome: commonv1.Outcome(outcome.number()), ReasonCode: why,
			})
		})
	f := cmd.Flags()
	f.Var(outcome, "outcome", oneOf(commonv1.Outcome(0)))
	f.StringVar(&why, "reason", "", "required for a fail: "+reason.InterviewFail.Accepted())
	required(cmd, "outcome")
	return cmd
}

func newInterviewQueueCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		pg       paging
	)
	cmd := &cobra.Command{
		Use:     "queue",
		Short:   "List a region's cases awaiting an interview outcome, oldest first",
		Example: `  pipelinectl interviews queue --region london -o csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.sifting.ListInterviewQueue(cmd.Context(), &siftingv1.ListInterviewQueueRequest{
				Region: string(reg), CampaignId: campaign, PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			v := queueView(resp.GetEntries())
			v.notes = pageNote(resp.GetNextPageToken())
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region's queue"))
	f.StringVar(&campaign, "campaign", "", "only this campaign's cases")
	addPaging(f, &pg)
	required(cmd, "region")
	return cmd
}

func (a *app) siftVersion(ctx context.Context, id string) (int64, error) {
	r, err := a.sifting.GetCase(ctx, &siftingv1.GetCaseRequest{ApplicationId: id})
	return r.GetCase().GetVersion(), err
}

var siftCaseColumns = []string{
	"application_id", "campaign_id", "region", "role", "state", "submitted_at", "state_entered_at",
	"interview_at", "sift_score", "reason_code", "version", "assignee",
}

func siftCaseRow(c *siftingv1.SiftCase) []string {
	score := ""
	if c.SiftScore != nil {
		score = fmtInt(c.GetSiftScore())
	}
	return []string{
		c.GetApplicationId(), c.GetCampaignId(), c.GetRegion(), friendly(c.GetRole()), friendly(c.GetState()),
		fmtTime(c.GetSubmittedAt()), fmtTime(c.GetStateEnteredAt()), fmtTime(c.GetInterviewAt()), score,
		c.GetReasonCode(), fmtInt(c.GetVersion()), c.GetAssignee(),
	}
}

func siftCaseRecord(c *siftingv1.SiftCase) view {
	return withHistory(view{columns: siftCaseColumns, rows: [][]string{siftCaseRow(c)}}, c.GetHistory())
}

func queueView(es []*siftingv1.QueueEntry) view {
	v := view{columns: append([]string{"days_waiting"}, siftCaseColumns...)}
	for _, e := range es {
		v.rows = append(v.rows, append([]string{fmtInt(e.GetDaysWaiting())}, siftCaseRow(e.GetCase())...))
	}
	return v
}

func siftBatchView(r *siftingv1.BatchRecordSiftDecisionsResponse) view {
	v := view{columns: []string{"index", "application_id", "code", "field", "message", "state", "version"}}
	for _, x := range r.GetResults() {
		v.rows = append(v.rows, []string{
			fmtInt(x.GetIndex()), x.GetApplicationId(), x.GetStatus().GetCode(), x.GetStatus().GetField(),
			x.GetStatus().GetMessage(), friendly(x.GetCase().GetState()), versionIfOK(x.GetCase().GetVersion()),
		})
	}
	v.notes = []string{batchNote(r.GetSucceeded(), r.GetFailed(), r.GetDryRun())}
	return v
}

func versionIfOK(v int64) string {
	if v == 0 {
		return ""
	}
	return fmtInt(v)
}

func batchNote(ok, failed int32, dryRun bool) string {
	s := fmt.Sprintf("%d succeeded, %d failed", ok, failed)
	if dryRun {
		s += " (dry run: nothing was changed)"
	}
	return s
}
