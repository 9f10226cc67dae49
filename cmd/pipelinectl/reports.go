package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	"github.com/probation-recruitment/pipeline/pkg/weekly"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func init() { register(newReportsCmd) }

func newReportsCmd(a *app) *cobra.Command {
	thresholds := group("thresholds", "Read or change a region's stuck thresholds",
		`Thresholds are the days in a stage (or blocked in vetting) after which a
candidate is a warning, and then a breach, in the stuck list.`,
		newThresholdsGetCmd(a), newThresholdsSetCmd(a))
	return group("reports", "Stuck candidates, time to hire, funnel, stage durations, summaries (reporting service)",
		`Reports answer from the reporting service's projections of every event, so
they trail a change by moments. Dashboards, SPOCs, vetting contact points and
admins read the reports of their regions. Every report takes --as-of: a past
time answers as the pipeline stood then (stage counts, stuck list, funnel,
time to hire, durations); a future one runs today's stuck clocks on.`,
		newStuckCmd(a), newTimeToHireCmd(a), newFunnelCmd(a), newDurationsCmd(a), newVettingDurationsCmd(a), newBreakdownCmd(a),
		newSummaryCmd(a), newSummariesCmd(a), newWatchCmd(a), newWorkloadCmd(a), newEarlyStartsCmd(a), thresholds, newChecksReportCmd(a))
}

func newStuckCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		stage    = newEnum(commonv1.Stage(0))
		severity = newEnum(reportingv1.Severity(0))
		role     = newEnum(commonv1.JobRole(0))
		rule     = newEnum(reportingv1.StuckKind(0))
		reason   = newEnum(commonv1.BlockReason(0))
		campaign string
		assignee string
		asOf     timeValue
		pg       paging
		pp       people
	)
	cmd := &cobra.Command{
		Use:   "stuck",
		Short: "List a region's stuck candidates, most overdue first",
		Long: `List the applications past their stage's warning or breach threshold, blocked
in vetting past the blocked thresholds, or started subject to vetting past
the vetting due date, with who must act next. Most overdue first: breaches
before warnings, then by days overdue (most first), then the longest running.
The filters combine; the warning and breach counts are of what they keep.`,
		Example: `  pipelinectl reports stuck --region london
  pipelinectl reports stuck --region london --severity breach -o csv
  pipelinectl reports stuck --region london --rule vetting-blocked --blocked-reason missing-documents
  pipelinectl reports stuck --region london --assignee -     # nobody's
  pipelinectl reports stuck --region wales --role probation-officer --campaign 0190d6a0-5b1e-7c3a-9f00-2d4e6b8a1c33`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.ListStuckCandidates(cmd.Context(), &reportingv1.ListStuckCandidatesRequest{
				Region: string(reg), Stage: commonv1.Stage(stage.number()), Severity: reportingv1.Severity(severity.number()),
				Role: commonv1.JobRole(role.number()), CampaignId: campaign, Kind: reportingv1.StuckKind(rule.number()),
				BlockedReason: commonv1.BlockReason(reason.number()), Assignee: assignee, AsOf: asOf.t, PageSize: pg.size, PageToken: pg.token,
			})
			if err != nil {
				return err
			}
			ids := make([]string, len(resp.GetCandidates()))
			for i, c := range resp.GetCandidates() {
				ids[i] = c.GetApplicationId()
			}
			names, err := pp.names(cmd.Context(), a, ids)
			if err != nil {
				return err
			}
			v := view{columns: []string{
				"application_id", "campaign_id", "role", "stage", "kind", "since", "days", "days_overdue",
				"severity", "blocked_reason", "next_actor", "campaign_title", "candidate", "assignee",
			}}
			for _, c := range resp.GetCandidates() {
				v.rows = append(v.rows, []string{
					c.GetApplicationId(), c.GetCampaignId(), friendly(c.GetRole()), friendly(c.GetStage()), friendly(c.GetKind()),
					fmtTime(c.GetSince()), fmtInt(c.GetDays()), fmtInt(c.GetDaysOverdue()), friendly(c.GetSeverity()),
					friendly(c.GetBlockedReason()), friendly(c.GetNextActor()), c.GetCampaignTitle(), names[c.GetApplicationId()], c.GetAssignee(),
				})
			}
			v.notes = append([]string{fmt.Sprintf("warnings: %d, breaches: %d", resp.GetWarningCount(), resp.GetBreachCount())},
				pageNote(resp.GetNextPageToken())...)
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region"))
	f.Var(stage, "stage", "only this stage; "+oneOf(commonv1.Stage(0)))
	f.Var(severity, "severity", "only warnings or only breaches; "+oneOf(reportingv1.Severity(0)))
	f.Var(role, "role", "only this job role; "+oneOf(commonv1.JobRole(0)))
	f.StringVar(&campaign, "campaign", "", "only this campaign (id)")
	f.Var(rule, "rule", "only this stuck rule; "+oneOf(reportingv1.StuckKind(0)))
	f.Var(reason, "blocked-reason", "only vetting cases blocked for this reason; "+oneOf(commonv1.BlockReason(0)))
	f.StringVar(&assignee, "assignee", "", `only this assignee's (a subject id), or "-" for those nobody is assigned`)
	f.Var(&asOf, "as-of", "report as of this time (default now)")
	addPaging(f, &pg)
	pp.addFlags(f)
	required(cmd, "region")
	return cmd
}

func newWorkloadCmd(a *app) *cobra.Command {
	var (
		reg  regionValue
		asOf timeValue
	)
	cmd := &cobra.Command{
		Use:   "workload",
		Short: "A region's open cases per person: open, in warning, in breach, the oldest",
		Long: `A region's open cases per assignee, by whose work they are — the SPOCs' sift
cases and offers, the vetting contact points' vetting cases — with a row
for the cases nobody is assigned: how many, how many are in warning and in
breach (by the stuck rules), and since when the oldest has been in its stage.`,
		Example: `  pipelinectl reports workload --region london
  pipelinectl reports workload --region wales -o csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetWorkload(cmd.Context(), &reportingv1.GetWorkloadRequest{Region: string(reg), AsOf: asOf.t})
			if err != nil {
				return err
			}
			v := view{columns: []string{"assignee", "work", "open", "warning", "breach", "oldest_since"}}
			for _, w := range resp.GetRows() {
				who := w.GetAssignee()
				if who == "" {
					who = "(unassigned)"
				}
				v.rows = append(v.rows, []string{who, friendly(w.GetActor()), fmtInt(w.GetOpen()), fmtInt(w.GetWarning()),
					fmtInt(w.GetBreach()), fmtTime(w.GetOldestSince())})
			}
			return a.emit(resp, v)
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("the region"))
	cmd.Flags().Var(&asOf, "as-of", "count warnings and breaches as of this time (default now)")
	required(cmd, "region")
	return cmd
}

func newTimeToHireCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		role     = newEnum(commonv1.JobRole(0))
		from, to timeValue
		asOf     timeValue
		byWeek   bool
		source   string
	)
	cmd := &cobra.Command{
		Use:   "time-to-hire",
		Short: "Hiring time measures: count, mean, median and p90, in calendar and working days",
		Long: `The hiring time measures, in calendar days and in working days (England and
Wales bank holidays excluded):

  time-to-hire          campaign closing date → conditional offer made
  time-to-fill          campaign closing date → start
  application-to-start  submitted → start
  offer-to-clearance    offer accepted → vetting cleared

A rolling campaign measures from each application's submission; an offer or
start before the campaign closed counts as 0 days. --from and
--to filter on the measure's end; --weekly shows the trend by ISO week.
--as-of reports the measures as they stood then: those completed by then.`,
		Example: `  pipelinectl reports time-to-hire --region london --role administrator
  pipelinectl reports time-to-hire --from 2026-01-01T00:00:00Z --weekly -o csv
  pipelinectl reports time-to-hire --region london --as-of 2026-09-30T23:59:59+01:00`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetTimeToHire(cmd.Context(), &reportingv1.GetTimeToHireRequest{
				Region: string(reg), CampaignId: campaign, Role: commonv1.JobRole(role.number()), From: from.t, To: to.t,
				Source: source, AsOf: asOf.t,
			})
			if err != nil {
				return err
			}
			v, err := timeToHireView(resp, byWeek)
			if err != nil {
				return err
			}
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("only this region (default: every region of the token)"))
	f.StringVar(&campaign, "campaign", "", "only this campaign")
	f.Var(role, "role", "only this job role; "+oneOf(commonv1.JobRole(0)))
	f.Var(&from, "from", "only measures ending at or after this time")
	f.Var(&to, "to", "only measures ending before this time")
	f.BoolVar(&byWeek, "weekly", false, "show each measure per ISO week (calendar days) instead of the totals")
	f.StringVar(&source, "source", "", sourceHelp)
	f.Var(&asOf, "as-of", "as the measures stood at this time (default now)")
	return cmd
}

func timeToHireView(r *reportingv1.GetTimeToHireResponse, byWeek bool) (view, error) {
	if byWeek {
		v := view{columns: []string{"measure", "week_starting", "count", "mean_days", "median_days", "p90_days"}}
		for _, m := range r.GetMeasures() {
			weeks, err := weekly.Points(m.GetWeeklyTrend())
			if err != nil {
				return view{}, err
			}
			for _, w := range weeks {
				v.rows = append(v.rows, []string{friendly(m.GetMeasure()), w.Week.Format(time.DateOnly),
					strconv.Itoa(w.Count), fmtFloat(w.Mean), fmtFloat(w.Median), fmtFloat(w.P90)})
			}
		}
		return v, nil
	}
	v := view{columns: []string{"measure", "days", "count", "mean", "median", "p90"}}
	for _, m := range r.GetMeasures() {
		v.rows = append(v.rows,
			append([]string{friendly(m.GetMeasure()), "calendar"}, statCells(m.GetCalendarDays())...),
			append([]string{friendly(m.GetMeasure()), "working"}, statCells(m.GetWorkingDays())...))
	}
	v.notes = []string{fmt.Sprintf("started before vetting cleared: %d", r.GetStartedBeforeVettingCleared())}
	return v, nil
}

func statCells(s *reportingv1.Statistics) []string {
	return []string{fmtInt(s.GetCount()), fmtFloat(s.GetMean()), fmtFloat(s.GetMedian()), fmtFloat(s.GetP90())}
}

func newFunnelCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		source   string
		asOf     timeValue
	)
	cmd := &cobra.Command{
		Use:   "funnel",
		Short: "How many applications reached each stage, and the conversion between stages",
		Example: `  pipelinectl reports funnel --region london --campaign 0192f3a4-5b6c-7d8e-9f00-112233445566
  pipelinectl reports funnel    # every region of the token (an admin's: national)
  pipelinectl reports funnel --region london --as-of 2026-06-30T23:59:59+01:00`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetFunnel(cmd.Context(), &reportingv1.GetFunnelRequest{Region: string(reg), CampaignId: campaign, AsOf: asOf.t, Source: source})
			if err != nil {
				return err
			}
			v := view{columns: []string{"stage", "reached", "conversion_from_previous", "rejected", "withdrawn"}}
			for _, s := range resp.GetStages() {
				v.rows = append(v.rows, []string{
					friendly(s.GetStage()), fmtInt(s.GetReached()), fmtFloat(s.GetConversionFromPrevious()),
					fmtInt(s.GetRejected()), fmtInt(s.GetWithdrawn()),
				})
			}
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("only this region (default: every region of the token)"))
	f.StringVar(&campaign, "campaign", "", "only this campaign")
	f.StringVar(&source, "source", "", sourceHelp)
	f.Var(&asOf, "as-of", "the funnel as it stood at this time (default now)")
	return cmd
}

func newDurationsCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		role     = newEnum(commonv1.JobRole(0))
		from, to timeValue
		asOf     timeValue
	)
	cmd := &cobra.Command{
		Use:   "durations",
		Short: "Days spent in each stage (median, p90) and how many are in it now",
		Example: `  pipelinectl reports durations --region london --from 2026-10-01T00:00:00Z
  pipelinectl reports durations --role administrator    # every region of the token
  pipelinectl reports durations --region london --as-of 2026-06-30T23:59:59+01:00`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetStageDurations(cmd.Context(), &reportingv1.GetStageDurationsRequest{
				Region: string(reg), From: from.t, To: to.t, CampaignId: campaign, Role: commonv1.JobRole(role.number()), AsOf: asOf.t,
			})
			if err != nil {
				return err
			}
			v := view{columns: []string{"stage", "count", "mean", "median", "p90", "current"}}
			for _, s := range resp.GetStages() {
				v.rows = append(v.rows, append(append([]string{friendly(s.GetStage())}, statCells(s.GetDays())...), fmtInt(s.GetCurrent())))
			}
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("only this region (default: every region of the token)"))
	f.StringVar(&campaign, "campaign", "", "only this campaign")
	f.Var(role, "role", "only this job role; "+oneOf(commonv1.JobRole(0)))
	f.Var(&from, "from", "only applications that left a stage at or after this time")
	f.Var(&to, "to", "only applications that left a stage before this time")
	f.Var(&asOf, "as-of", "the durations, and how many were in each stage, as they stood at this time (default now)")
	return cmd
}

func newVettingDurationsCmd(a *app) *cobra.Command {
	var (
		reg      regionValue
		campaign string
		role     = newEnum(commonv1.JobRole(0))
		from, to timeValue
	)
	cmd := &cobra.Command{
		Use:   "vetting-durations",
		Short: "Where vetting waits: days from opened to forms received to cleared, and days blocked by reason",
		Long: `Days (count, mean, median, p90) over the vetting cases that finished each
step in the window: opened → forms received, forms received → cleared,
opened → cleared; and over the blocks that ended in the window, by block
reason. Without --region, every region of the token (an admin's: national).`,
		Example: `  pipelinectl reports vetting-durations --region london --from 2026-10-01T00:00:00Z`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetVettingDurations(cmd.Context(), &reportingv1.GetVettingDurationsRequest{
				Region: string(reg), From: from.t, To: to.t, CampaignId: campaign, Role: commonv1.JobRole(role.number()),
			})
			if err != nil {
				return err
			}
			v := view{columns: []string{"span", "count", "mean", "median", "p90"}}
			for _, s := range resp.GetSteps() {
				v.rows = append(v.rows, append([]string{friendly(s.GetStep())}, statCells(s.GetDays())...))
			}
			for _, b := range resp.GetBlocked() {
				v.rows = append(v.rows, append([]string{"blocked: " + friendly(b.GetReason())}, statCells(b.GetDays())...))
			}
			return a.emit(resp, v)
		},
	}
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("only this region (default: every region of the token)"))
	f.StringVar(&campaign, "campaign", "", "only this campaign")
	f.Var(role, "role", "only this job role; "+oneOf(commonv1.JobRole(0)))
	f.Var(&from, "from", "only steps and blocks that ended at or after this time")
	f.Var(&to, "to", "only steps and blocks that ended before this time")
	return cmd
}

// summaryStages are the stages a summary counts, in pipeline order.
var summaryStages = []commonv1.Stage{
	commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER,
	commonv1.Stage_STAGE_PRE_EMPLOYMENT, commonv1.Stage_STAGE_HIRED, commonv1.Stage_STAGE_REJECTED,
	commonv1.Stage_STAGE_WITHDRAWN,
}

func summaryColumns() []string {
	cols := []string{"region", "as_of"}
	for _, s := range summaryStages {
		cols = append(cols, strings.ReplaceAll(friendly(s), "-", "_"))
	}
	return append(cols, "stuck", "median_time_to_hire_days", "offers_90_days")
}

func summaryRow(s *reportingv1.RegionSummary) []string {
	counts := map[commonv1.Stage]int32{}
	for _, c := range s.GetStageCounts() {
		counts[c.GetStage()] = c.GetCount()
	}
	row := []string{s.GetRegion(), fmtTime(s.GetAsOf())}
	for _, st := range summaryStages {
		row = append(row, fmtInt(counts[st]))
	}
	median := "-" // no offers in the window: no median
	if s.GetTimeToHireCount() > 0 {
		median = fmtFloat(s.GetMedianTimeToHireDays())
	}
	return append(row, fmtInt(s.GetStuckCount()), median, fmtInt(s.GetTimeToHireCount()))
}

func newSummaryCmd(a *app) *cobra.Command {
	var (
		reg  regionValue
		asOf timeValue
	)
	cmd := &cobra.Command{
		Use:     "summary",
		Short:   "A region's headline figures: applications per stage, stuck, median time to hire",
		Example: `  pipelinectl reports summary --region london`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetRegionSummary(cmd.Context(), &reportingv1.GetRegionSummaryRequest{Region: string(reg), AsOf: asOf.t})
			if err != nil {
				return err
			}
			return a.emit(resp, recordOf(view{columns: summaryColumns(), rows: [][]string{summaryRow(resp.GetSummary())}}))
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("the region"))
	cmd.Flags().Var(&asOf, "as-of", "as of this time (default now)")
	required(cmd, "region")
	return cmd
}

func newSummariesCmd(a *app) *cobra.Command {
	var asOf timeValue
	cmd := &cobra.Command{
		Use:     "summaries",
		Short:   "The summary of every region the token may see",
		Example: `  pipelinectl reports summaries -o csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.ListRegionSummaries(cmd.Context(), &reportingv1.ListRegionSummariesRequest{AsOf: asOf.t})
			if err != nil {
				return err
			}
			v := view{columns: summaryColumns()}
			for _, s := range resp.GetSummaries() {
				v.rows = append(v.rows, summaryRow(s))
			}
			return a.emit(resp, v)
		},
	}
	cmd.Flags().Var(&asOf, "as-of", "as of this time (default now)")
	return cmd
}

// A watch that ends because its connection was closed (a service restarted,
// or aged out: see GRPC_MAX_CONNECTION_AGE) is opened again, first after
// reopenMin, then waiting twice as long each time up to reopenMax.
const (
	reopenMin = 500 * time.Millisecond
	reopenMax = 10 * time.Second
)

func newWatchCmd(a *app) *cobra.Command {
	var reg regionValue
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow a region's summary live until Ctrl-C",
		Long: `Print the region's summary at once, and again whenever it changes, until
interrupted (Ctrl-C ends it cleanly, exit 0). A table prints one line per
summary; json prints one JSON object per line; csv prints the header once.

When the connection drops (the service restarts, or closes long-lived
connections) the watch opens again by itself, saying so on stderr. When the
token expires it opens again once with a fresh one (a 'pipelinectl login'
sign-in refreshes itself); a --token that has expired ends the watch.`,
		Example: `  pipelinectl reports watch --region london
  pipelinectl reports watch --region london -o json | jq .summary.stuck_count`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w := newSummaryStream(a.output, a.stdout)
			wait := reopenMin
			for {
				delivered, err := a.watchOnce(ctx, string(reg), w)
				if delivered {
					wait = reopenMin
				}
				switch {
				case ctx.Err() != nil, err == nil:
					return nil // interrupted, or the server ended it: the ways a watch ends
				case status.Code(err) == codes.Unavailable:
				case status.Code(err) == codes.Unauthenticated && delivered:
					// The token worked and has expired: a fresh one may
					// work; a second refusal in a row ends the watch.
					wait = 0
				default:
					return err
				}
				fmt.Fprintf(a.stderr, "watch: %s; opening it again\n", status.Convert(err).Message())
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
				wait = min(max(2*wait, reopenMin), reopenMax)
			}
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("the region"))
	required(cmd, "region")
	return cmd
}

// watchOnce prints one watch stream's summaries until it ends, and says
// whether it delivered any.
func (a *app) watchOnce(ctx context.Context, region string, w *summaryStream) (delivered bool, err error) {
	stream, err := a.reporting.WatchRegion(ctx, &reportingv1.WatchRegionRequest{Region: region})
	if err != nil {
		return false, err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return delivered, nil
		}
		if err != nil {
			return delivered, err
		}
		delivered = true
		if err := w.write(resp); err != nil {
			return delivered, err
		}
	}
}

// summaryStream prints summaries as they come, without waiting for the end
// as a table or csv of a whole response would.
type summaryStream struct {
	format string
	out    io.Writer
	csv    *csvsafe.Writer
	widths []int
	n      int
}

func newSummaryStream(format string, out io.Writer) *summaryStream {
	s := &summaryStream{format: format, out: out, csv: csvsafe.NewWriter(out)}
	for _, c := range summaryColumns() {
		s.widths = append(s.widths, len(c))
	}
	s.widths[0], s.widths[1] = len("kent-surrey-sussex"), len("2006-01-02T15:04:05Z")
	return s
}

func (s *summaryStream) write(resp *reportingv1.WatchRegionResponse) error {
	defer func() { s.n++ }()
	switch s.format {
	case outputJSON:
		b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(resp)
		if err != nil {
			return fmt.Errorf("encode summary as json: %w", err)
		}
		_, err = fmt.Fprintf(s.out, "%s\n", b)
		return err
	case outputCSV:
		if s.n == 0 {
			_ = s.csv.Write(summaryColumns())
		}
		_ = s.csv.Write(summaryRow(resp.GetSummary()))
		return s.csv.Flush()
	default:
		if s.n == 0 {
			header := summaryColumns()
			for i, c := range header {
				header[i] = strings.ToUpper(c)
			}
			if err := s.line(header); err != nil {
				return err
			}
		}
		return s.line(summaryRow(resp.GetSummary()))
	}
}

func (s *summaryStream) line(cells []string) error {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%-*s", s.widths[i], dash(c))
	}
	_, err := fmt.Fprintln(s.out, strings.TrimRight(b.String(), " "))
	return err
}

// thresholdRules are the stages with thresholds, by the flag that sets them.
var thresholdRules = []struct {
	flag  string
	stage commonv1.Stage
}{
	{"sift", commonv1.Stage_STAGE_SIFT},
	{"interview", commonv1.Stage_STAGE_INTERVIEW},
	{"offer", commonv1.Stage_STAGE_OFFER},
	{"pre-employment", commonv1.Stage_STAGE_PRE_EMPLOYMENT},
}

// thresholdsView lists the region's thresholds, then each job role's
// overrides (the role column is empty for the region's own).
func thresholdsView(t *reportingv1.Thresholds) view {
	v := view{columns: []string{"region", "rule", "warning_days", "breach_days", "version", "role"}}
	row := func(rule string, warning, breach int32, role string) {
		v.rows = append(v.rows, []string{t.GetRegion(), rule, fmtInt(warning), fmtInt(breach), fmtInt(t.GetVersion()), role})
	}
	for _, s := range t.GetStages() {
		row(friendly(s.GetStage()), s.GetWarningDays(), s.GetBreachDays(), "")
	}
	row("vetting-blocked", t.GetVettingBlockedWarningDays(), t.GetVettingBlockedBreachDays(), "")
	for _, r := range t.GetRoles() {
		for _, s := range r.GetStages() {
			row(friendly(s.GetStage()), s.GetWarningDays(), s.GetBreachDays(), friendly(r.GetRole()))
		}
		if r.GetVettingBlockedWarningDays() != 0 {
			row("vetting-blocked", r.GetVettingBlockedWarningDays(), r.GetVettingBlockedBreachDays(), friendly(r.GetRole()))
		}
	}
	return v
}

// setStages replaces or adds the stage thresholds given by flags.
func setStages(stages []*reportingv1.StageThreshold, given []thresholdValue) []*reportingv1.StageThreshold {
	for i, r := range thresholdRules {
		if !given[i].set {
			continue
		}
		st := &reportingv1.StageThreshold{Stage: r.stage, WarningDays: given[i].warning, BreachDays: given[i].breach}
		replaced := false
		for j, cur := range stages {
			if cur.GetStage() == r.stage {
				stages[j], replaced = st, true
			}
		}
		if !replaced {
			stages = append(stages, st)
		}
	}
	return stages
}

// roleThresholds returns th's overrides for role, added if absent.
func roleThresholds(th *reportingv1.Thresholds, role commonv1.JobRole) *reportingv1.RoleThresholds {
	for _, r := range th.GetRoles() {
		if r.GetRole() == role {
			return r
		}
	}
	r := &reportingv1.RoleThresholds{Role: role}
	th.Roles = append(th.Roles, r)
	return r
}

func newThresholdsGetCmd(a *app) *cobra.Command {
	var reg regionValue
	cmd := &cobra.Command{
		Use:     "get",
		Short:   "Show a region's stuck thresholds",
		Example: `  pipelinectl reports thresholds get --region london`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := a.reporting.GetThresholds(cmd.Context(), &reportingv1.GetThresholdsRequest{Region: string(reg)})
			if err != nil {
				return err
			}
			return a.emit(resp, thresholdsView(resp.GetThresholds()))
		},
	}
	cmd.Flags().Var(&reg, "region", regionHelp("the region"))
	required(cmd, "region")
	return cmd
}

// thresholdValue is a flag holding WARNING/BREACH days, e.g. 10/14.
type thresholdValue struct {
	warning, breach int32
	set             bool
}

func (v *thresholdValue) Set(s string) error {
	w, b, ok := strings.Cut(s, "/")
	wn, err1 := strconv.ParseInt(strings.TrimSpace(w), 10, 32)
	bn, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%q is not WARNING/BREACH days, e.g. 10/14", s)
	}
	v.warning, v.breach, v.set = int32(wn), int32(bn), true
	return nil
}

func (v *thresholdValue) String() string {
	if !v.set {
		return ""
	}
	return fmt.Sprintf("%d/%d", v.warning, v.breach)
}

func (v *thresholdValue) Type() string { return "WARN/BREACH" }

func newThresholdsSetCmd(a *app) *cobra.Command {
	var (
		ch        change
		reg       regionValue
		stages    = make([]thresholdValue, len(thresholdRules))
		blocked   thresholdValue
		role      = newEnum(commonv1.JobRole(0))
		clearRole bool
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Change a region's stuck thresholds (admin)",
		Long: `Change some or all of a region's thresholds, each given as WARNING/BREACH
days (warning < breach, both 1-365); those not given keep their current
values (pipelinectl reads them first). With --role, the thresholds given
override the region's for that job role's applications only (the others
keep the region's); --clear-role removes a role's overrides. Stuck clocks,
and the stuck events still to come, are re-timed at once.`,
		Example: `  pipelinectl reports thresholds set --region london --sift 7/10 --vetting-blocked 2/4
  pipelinectl reports thresholds set --region london --role probation-officer --vetting-blocked 5/8
  pipelinectl reports thresholds set --region london --role probation-officer --clear-role`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clearRole && role.number() == 0 {
				return usagef("--clear-role needs --role, the job role whose overrides to remove")
			}
			ctx := cmd.Context()
			got, err := a.reporting.GetThresholds(ctx, &reportingv1.GetThresholdsRequest{Region: string(reg)})
			if err != nil {
				return err
			}
			th := got.GetThresholds()
			if err := ch.prepare(a, cmd, func() (int64, error) { return th.GetVersion(), nil }); err != nil {
				return err
			}
			switch {
			case clearRole:
				th.Roles = slices.DeleteFunc(th.Roles, func(r *reportingv1.RoleThresholds) bool {
					return r.GetRole() == commonv1.JobRole(role.number())
				})
			case role.number() != 0:
				r := roleThresholds(th, commonv1.JobRole(role.number()))
				r.Stages = setStages(r.Stages, stages)
				if blocked.set {
					r.VettingBlockedWarningDays, r.VettingBlockedBreachDays = blocked.warning, blocked.breach
				}
			default:
				th.Stages = setStages(th.Stages, stages)
				if blocked.set {
					th.VettingBlockedWarningDays, th.VettingBlockedBreachDays = blocked.warning, blocked.breach
				}
			}
			th.Region = string(reg)
			resp, err := a.reporting.SetThresholds(ctx, &reportingv1.SetThresholdsRequest{
				RequestId: ch.requestID, ExpectedVersion: ch.version, Thresholds: th,
			})
			if err != nil {
				return err
			}
			return a.emit(resp, thresholdsView(resp.GetThresholds()))
		},
	}
	addChange(cmd, &ch, true)
	f := cmd.Flags()
	f.Var(&reg, "region", regionHelp("the region"))
	for i, r := range thresholdRules {
		f.Var(&stages[i], r.flag, "days in "+friendly(r.stage)+" to a warning/breach")
	}
	f.Var(&blocked, "vetting-blocked", "days a vetting case is blocked to a warning/breach")
	f.Var(role, "role", "set these thresholds for this job role only; "+oneOf(commonv1.JobRole(0)))
	f.BoolVar(&clearRole, "clear-role", false, "remove the --role's overrides (it keeps the region's thresholds)")
	required(cmd, "region")
	return cmd
}
