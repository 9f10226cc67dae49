package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Output formats of --output.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputCSV   = "csv"
)

var outputFormats = []string{outputTable, outputJSON, outputCSV}

// view is a response as rows, for table and csv output; json output is the
// response itself.
type view struct {
	columns []string
	rows    [][]string
	// record prints a single row as "column  value" lines in a table.
	record bool
	// sections follow the main rows in table output only (a record's history).
	sections []section
	// notes follow the rows: on stdout in a table, on stderr with csv (so
	// the csv stays one header and its rows).
	notes []string
}

type section struct {
	title string
	view  view
}

// jsonOutput is the protojson form of responses: the .proto field names,
// and every field, so scripts can rely on a key being there.
var jsonOutput = protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true, EmitUnpopulated: true}

// emit prints a response in the chosen format.
// batchResponse is a batch call's answer.
type batchResponse interface {
	proto.Message
	GetFailed() int32
	GetDryRun() bool
}

// emitBatch prints a batch call's answer of total items; failed items make
// it a partialError.
func (a *app) emitBatch(resp batchResponse, total int, v view) error {
	if err := a.emit(resp, v); err != nil {
		return err
	}
	if resp.GetFailed() > 0 {
		return &partialError{failed: resp.GetFailed(), total: int32(total), dryRun: resp.GetDryRun()}
	}
	return nil
}

func (a *app) emit(resp proto.Message, v view) error {
	switch a.output {
	case outputJSON:
		b, err := jsonOutput.Marshal(resp)
		if err != nil {
			return fmt.Errorf("encode response as json: %w", err)
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	case outputCSV:
		if err := writeCSV(a.stdout, v); err != nil {
			return err
		}
		for _, n := range v.notes {
			a.notef("%s", n)
		}
		return nil
	default:
		return writeTable(a.stdout, v)
	}
}

// notef writes a line for the user to stderr, leaving stdout to the result.
func (a *app) notef(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}

// writeCSV writes v with every cell made safe to open in a spreadsheet
// (pkg/csvsafe: no cell reads as a formula).
func writeCSV(w io.Writer, v view) error {
	cw := csvsafe.NewWriter(w)
	if err := cw.Write(v.columns); err != nil {
		return err
	}
	if err := cw.WriteAll(v.rows); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func writeTable(w io.Writer, v view) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	switch {
	case v.record && len(v.rows) == 1:
		for i, c := range v.columns {
			fmt.Fprintf(tw, "%s\t%s\n", c, dash(v.rows[0][i]))
		}
	default:
		header := make([]string, len(v.columns))
		for i, c := range v.columns {
			header[i] = strings.ToUpper(c)
		}
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range v.rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = dash(c)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if len(v.rows) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range v.sections {
		fmt.Fprintf(w, "\n%s:\n", s.title)
		if err := writeTable(w, s.view); err != nil {
			return err
		}
	}
	if len(v.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range v.notes {
			fmt.Fprintln(w, n)
		}
	}
	return nil
}

// dash fills an empty cell so columns stay readable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// pageNote tells the user how to get the next page, if there is one.
func pageNote(next string) []string {
	if next == "" {
		return nil
	}
	return []string{"more results: add --page-token " + next}
}

func fmtTime(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

func fmtDate(d *commonv1.Date) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}

func fmtInt[T ~int32 | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// fmtFloat writes at most two decimals and no trailing zeros: 12.5, 0.33, 7.
func fmtFloat(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

func fmtBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// historyView is a record's history: each change, who made it and when.
func historyView(h []*commonv1.HistoryEntry) view {
	v := view{columns: []string{"version", "event", "actor", "actor_role", "occurred_at", "reason_code"}}
	for _, e := range h {
		v.rows = append(v.rows, []string{
			fmtInt(e.GetVersion()), e.GetEvent(), e.GetActor().GetSubject(), friendly(e.GetActor().GetRole()),
			fmtTime(e.GetOccurredAt()), e.GetReasonCode(),
		})
	}
	return v
}

// withHistory shows a record with its history below it in a table.
func withHistory(v view, h []*commonv1.HistoryEntry) view {
	v.record = true
	v.sections = append(v.sections, section{title: "History", view: historyView(h)})
	return v
}

// recordOf shows a single-row view as one "column  value" line each.
func recordOf(v view) view {
	v.record = true
	return v
}
