package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/probation-recruitment/pipeline/pkg/importcsv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func init() {
	register(newImportCmd)
	register(newDemoDataCmd)
}

// maxImportBatch is the most rows ImportApplications takes in one call.
const maxImportBatch = 500

// defaultInFlight is how many import calls are sent at once: while the
// service commits one batch the next is on its way and being checked.
// maxInFlight bounds it, the service's connections being shared.
const (
	defaultInFlight = 2
	maxInFlight     = 4
)

// inOrder makes calls 0..n-1 with up to inFlight of them at once, and
// hands each result to handle in call order; a call starts only while
// fewer than inFlight results are waiting to be handled. The first error
// handle returns stops it: no further call starts, and that error is
// returned.
func inOrder[R any](ctx context.Context, n, inFlight int, call func(ctx context.Context, k int) (R, error),
	handle func(k int, resp R, err error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		resp R
		err  error
	}
	results := make([]chan result, n)
	for k := range results {
		results[k] = make(chan result, 1)
	}
	slots := make(chan struct{}, inFlight)
	go func() {
		for k := range n {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				results[k] <- result{err: ctx.Err()}
				continue
			}
			go func() {
				resp, err := call(ctx, k)
				results[k] <- result{resp, err}
			}()
		}
	}()
	for k := range n {
		r := <-results[k]
		if err := handle(k, r.resp, r.err); err != nil {
			return err
		}
		select {
		case <-slots: // call k's (none if it never started: cancelled)
		default:
		}
	}
	return nil
}

// importLine is a row of the file and the line it came from.
type importLine struct {
	line int
	row  *applicationsv1.ImportRow
}

func newImportCmd(a *app) *cobra.Command {
	var (
		dryRun    bool
		batchSize int
		inFlight  int
		requestID string
	)
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import applications already in flight, with their history (admin)",
		Long: `Import applications and their stage history from a CSV file (the format is in
docs/import.md; docs/import-example.csv is an example). Each line is checked
on its own: a bad line is reported with its line number, column and reason,
and the good ones go in. The stages' owners record each history at its
historical times, so the reports count it as if it had happened here.

Importing the same file again imports nothing twice: lines imported before are
counted as "already imported". Each bad line ("line N: column: reason") and
the progress after each batch go to stderr; the result to stdout: a row for
each line that did not go in (bad, or already imported), then the totals.
The exit code is 8 if any line failed. "-" reads standard input.

Lines go in batches of --batch-size, --in-flight calls at a time (the
progress and results are reported in the file's order). Each batch's request id is a prefix and
its number (<prefix>-1, <prefix>-2, ...); the prefix is --request-id, or a
new import-<UUID> on every run, so an interrupted import is simply run again
(the lines' references keep anything from going in twice). Give
--request-id only to retry exactly the same command: a batch number used
before for different lines fails.`,
		Example: `  pipelinectl import --dry-run candidates.csv
  pipelinectl import candidates.csv
  pipelinectl demo-data | pipelinectl import -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batchSize < 1 || batchSize > maxImportBatch {
				return usagef("--batch-size must be 1-%d", maxImportBatch)
			}
			if inFlight < 1 || inFlight > maxInFlight {
				return usagef("--in-flight must be 1-%d", maxInFlight)
			}
			in, err := openInput(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			lines, bad, err := readImport(in)
			if err != nil {
				return err
			}
			if requestID == "" {
				requestID = "import-" + uuid.NewString()
			}
			total := &applicationsv1.ImportApplicationsResponse{DryRun: dryRun}
			for _, e := range bad {
				a.notef("%s", e)
				total.Failed++
				total.Results = append(total.Results, &applicationsv1.ImportResult{
					Index: int32(e.Line), Status: lineStatus(e.Column, e.Reason)})
			}
			var batches []*applicationsv1.ImportApplicationsRequest
			for from := 0; from < len(lines); from += batchSize {
				req := &applicationsv1.ImportApplicationsRequest{RequestId: fmt.Sprintf("%s-%d", requestID, from/batchSize+1), DryRun: dryRun}
				for _, l := range lines[from:min(from+batchSize, len(lines))] {
					req.Rows = append(req.Rows, l.row)
				}
				batches = append(batches, req)
			}
			call := func(ctx context.Context, k int) (*applicationsv1.ImportApplicationsResponse, error) {
				return a.applications.ImportApplications(ctx, batches[k])
			}
			err = inOrder(cmd.Context(), len(batches), inFlight, call, func(k int, resp *applicationsv1.ImportApplicationsResponse, err error) error {
				from := k * batchSize
				if err != nil {
					a.notef("stopped after %d of %d lines; run the same command again to go on (lines already imported are skipped)", from, len(lines))
					return err
				}
				batch := lines[from:min(from+batchSize, len(lines))]
				for _, r := range resp.GetResults() {
					r.Index = int32(batch[r.GetIndex()].line)
					if r.GetStatus().GetCode() != "OK" && r.GetStatus().GetCode() != "ALREADY_EXISTS" {
						a.notef("line %d: %s", r.GetIndex(), describeItem(r.GetStatus().GetField(), r.GetStatus().GetMessage()))
					}
				}
				total.Results = append(total.Results, resp.GetResults()...)
				total.Imported += resp.GetImported()
				total.AlreadyImported += resp.GetAlreadyImported()
				total.Failed += resp.GetFailed()
				a.notef("%d/%d lines: %d imported, %d already imported, %d failed%s", from+len(batch), len(lines),
					total.GetImported(), total.GetAlreadyImported(), total.GetFailed(), dryRunNote(dryRun))
				return nil
			})
			if err != nil {
				return err
			}
			if err := a.emit(total, importView(total)); err != nil {
				return err
			}
			if total.GetFailed() > 0 {
				return &partialError{failed: total.GetFailed(), total: int32(len(lines) + len(bad)), dryRun: dryRun}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check every line as the import would, and change nothing")
	cmd.Flags().IntVar(&batchSize, "batch-size", maxImportBatch, fmt.Sprintf("lines per call, 1-%d", maxImportBatch))
	cmd.Flags().IntVar(&inFlight, "in-flight", defaultInFlight, fmt.Sprintf("calls sent at once, 1-%d (their results are reported in order)", maxInFlight))
	cmd.Flags().StringVar(&requestID, "request-id", "", "prefix of the batches' request ids, <prefix>-1, <prefix>-2, ... (default: import-<new UUID> on every run)")
	return cmd
}

// readInputFile parses a file, or stdin for "-", with parse; a file that
// cannot be opened or parsed is a usage error naming --file.
func readInputFile[T any](name string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	r, err := openInput(name)
	if err != nil {
		return nil, usagef("--file: %v", err)
	}
	defer r.Close()
	items, err := parse(r)
	if err != nil {
		return nil, usagef("--file %s: %v", name, err)
	}
	return items, nil
}

func openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return f, nil
}

// readImport reads the whole file: the rows that could be read, and the
// lines that could not. A bad header ends it.
func readImport(in io.Reader) ([]importLine, []*importcsv.LineError, error) {
	rd, err := importcsv.NewReader(in)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	var lines []importLine
	var bad []*importcsv.LineError
	for {
		row, line, err := rd.Read()
		var le *importcsv.LineError
		switch {
		case errors.Is(err, io.EOF):
			if len(lines) == 0 && len(bad) == 0 {
				return nil, nil, usagef("the file has a header and no lines")
			}
			return lines, bad, nil
		case errors.As(err, &le):
			bad = append(bad, le)
		case err != nil:
			return nil, nil, fmt.Errorf("read line %d: %w", line, err)
		default:
			lines = append(lines, importLine{line: line, row: row})
		}
	}
}

// describeItem says what is wrong with a line in the file's terms: the
// column rather than the request field.
func describeItem(field, msg string) string {
	if field == "" {
		return importcsv.Describe(msg)
	}
	msg = strings.TrimPrefix(msg, field+": ") // the message repeats the field
	return importcsv.Column(field) + ": " + importcsv.Describe(msg)
}

func lineStatus(column, reason string) *commonv1.ItemStatus {
	return &commonv1.ItemStatus{Code: "INVALID_ARGUMENT", Field: column, Message: column + ": " + reason}
}

func dryRunNote(dryRun bool) string {
	if dryRun {
		return " (dry run: nothing changed)"
	}
	return ""
}

// importView lists the lines that did not go in, then the totals.
func importView(r *applicationsv1.ImportApplicationsResponse) view {
	v := view{columns: []string{"line", "reference", "status", "application_id", "problem"}}
	for _, res := range r.GetResults() {
		if res.GetStatus().GetCode() == "OK" {
			continue
		}
		problem := ""
		if res.GetStatus().GetCode() != "ALREADY_EXISTS" {
			problem = describeItem(res.GetStatus().GetField(), res.GetStatus().GetMessage())
		}
		v.rows = append(v.rows, []string{fmtInt(res.GetIndex()), res.GetReference(), res.GetStatus().GetCode(), res.GetApplicationId(), problem})
	}
	v.notes = append(v.notes, fmt.Sprintf("imported %d, already imported %d, failed %d%s",
		r.GetImported(), r.GetAlreadyImported(), r.GetFailed(), dryRunNote(r.GetDryRun())))
	return v
}

func newDemoDataCmd(a *app) *cobra.Command {
	var (
		seed uint64
		out  string
	)
	cmd := &cobra.Command{
		Use:   "demo-data",
		Short: "Write a realistic import file for the twelve regions (for demos and trials)",
		Long: `Write demo pipeline history in the import format (docs/import.md): about
3,000 applications to several campaigns per region, as they stand today —
a national admin campaign of 300 posts, probation officer, PSO and unpaid
work supervisor campaigns; candidates stuck in the sift, waiting for offers
and blocked in vetting; conditional starts before vetting cleared. The same
seed on the same day writes the same file. make run imports it.`,
		Example: `  pipelinectl demo-data --out .data/demo.csv
  pipelinectl demo-data | pipelinectl import -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := a.stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return usagef("%v", err)
				}
				defer f.Close()
				w = f
			}
			cw := importcsv.NewWriter(w)
			rows := importcsv.Demo(time.Now(), seed)
			for _, r := range rows {
				if err := cw.Write(r); err != nil {
					return err
				}
			}
			if err := cw.Flush(); err != nil {
				return err
			}
			if out != "" && out != "-" {
				a.notef("wrote %d applications to %s", len(rows), out)
			}
			return nil
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	return cmd
}
