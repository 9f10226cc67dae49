// Package importcsv reads and writes the CSV format of pipeline history
// imports (docs/import.md): one application per line, its campaign and its
// history in named columns, for ApplicationsService.ImportApplications.
package importcsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
)

// London is where times without an offset are read, and where they are written.
var London = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// LocalTime is the layout of a time without an offset (London time).
const LocalTime = "2006-01-02 15:04"

// column is one CSV column: its name, the request field it fills (as the
// service names it in errors), and how to read and write it.
type column struct {
	name, field string
	required    bool
	get         func(*applicationsv1.ImportRow) string
	set         func(*applicationsv1.ImportRow, string) error
}

func text(name, field string, required bool, ptr func(*applicationsv1.ImportRow) *string) column {
	return column{name: name, field: field, required: required,
		get: func(r *applicationsv1.ImportRow) string { return *ptr(r) },
		set: func(r *applicationsv1.ImportRow, v string) error { *ptr(r) = v; return nil }}
}

func stamp(name, field string, ptr func(*applicationsv1.ImportRow) **timestamppb.Timestamp) column {
	return column{name: name, field: field,
		get: func(r *applicationsv1.ImportRow) string {
			if ts := *ptr(r); ts != nil {
				return formatTime(ts.AsTime())
			}
			return ""
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			t, err := ParseTime(v)
			*ptr(r) = timestamppb.New(t)
			return err
		}}
}

func date(name, field string, ptr func(*applicationsv1.ImportRow) **commonv1.Date) column {
	return column{name: name, field: field,
		get: func(r *applicationsv1.ImportRow) string {
			if d := *ptr(r); d != nil {
				return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
			}
			return ""
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return errors.New("must be a date like 2026-01-31")
			}
			*ptr(r) = &commonv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
			return nil
		}}
}

// outcome reads pass/fail into a passed flag.
func outcome(name, field string, ptr func(*applicationsv1.ImportRow) *bool) column {
	return column{name: name, field: field,
		get: func(r *applicationsv1.ImportRow) string {
			if *ptr(r) {
				return "pass"
			}
			return "fail"
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			switch strings.ToLower(v) {
			case "pass":
				*ptr(r) = true
			case "fail":
				*ptr(r) = false
			default:
				return errors.New("must be pass or fail")
			}
			return nil
		}}
}

// enum reads a lower-case name of an enum value ("missing_documents" for
// BLOCK_REASON_MISSING_DOCUMENTS); names lists the values by number. The
// zero value (unset) is an empty cell, as the reader reads it: the reader
// refuses "unspecified".
func enumName(prefix string, names map[int32]string, n int32) string {
	if n == 0 {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(names[n], prefix))
}

func enumValue(prefix string, values map[string]int32, v string) (int32, error) {
	n, ok := values[prefix+strings.ToUpper(strings.ReplaceAll(v, "-", "_"))]
	if !ok || n == 0 {
		var allowed []string
		for name, n := range values {
			if n != 0 {
				allowed = append(allowed, strings.ToLower(strings.TrimPrefix(name, prefix)))
			}
		}
		slices.Sort(allowed)
		return 0, fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
	return n, nil
}

// formatTime writes t as London local time to the minute when that reads
// back as t, and otherwise (seconds, or the hour that happens twice when
// the clocks go back) as RFC 3339 in UTC, so no time changes on its way
// through a file.
func formatTime(t time.Time) string {
	local := t.In(London).Format(LocalTime)
	if back, err := ParseTime(local); err == nil && back.Equal(t) {
		return local
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ParseTime reads a time with an offset (RFC 3339) or without one
// ("2026-01-31 09:30", London time).
func ParseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{LocalTime, "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, London); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("must be a time like 2026-01-31 09:30 (London) or 2026-01-31T09:30:00Z")
}

// The history's parts, made on first use.
func sift(r *applicationsv1.ImportRow) *commonv1.ImportedSift {
	h := history(r)
	if h.Sift == nil {
		h.Sift = &commonv1.ImportedSift{}
	}
	return h.Sift
}

func interview(r *applicationsv1.ImportRow) *commonv1.ImportedInterview {
	h := history(r)
	if h.Interview == nil {
		h.Interview = &commonv1.ImportedInterview{}
	}
	return h.Interview
}

func offer(r *applicationsv1.ImportRow) *commonv1.ImportedOffer {
	h := history(r)
	if h.Offer == nil {
		h.Offer = &commonv1.ImportedOffer{}
	}
	return h.Offer
}

func vetting(r *applicationsv1.ImportRow) *commonv1.ImportedVetting {
	h := history(r)
	if h.Vetting == nil {
		h.Vetting = &commonv1.ImportedVetting{}
	}
	return h.Vetting
}

func history(r *applicationsv1.ImportRow) *commonv1.ImportedHistory {
	if r.History == nil {
		r.History = &commonv1.ImportedHistory{}
	}
	return r.History
}

// columns in file order. Reading a column makes the history part it
// belongs to, so a row only has the parts whose cells are filled.
var columns = []column{
	text("reference", "reference", true, func(r *applicationsv1.ImportRow) *string { return &r.Reference }),
	text("campaign_reference", "campaign_reference", true, func(r *applicationsv1.ImportRow) *string { return &r.CampaignReference }),
	text("region", "region", true, func(r *applicationsv1.ImportRow) *string { return &r.Region }),
	{name: "role", field: "role", required: true,
		get: func(r *applicationsv1.ImportRow) string {
			return enumName("JOB_ROLE_", commonv1.JobRole_name, int32(r.GetRole()))
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			n, err := enumValue("JOB_ROLE_", commonv1.JobRole_value, v)
			r.Role = commonv1.JobRole(n)
			return err
		}},
	text("campaign_title", "campaign_title", true, func(r *applicationsv1.ImportRow) *string { return &r.CampaignTitle }),
	// posts is the campaign's for one region; a campaign in several gives
	// campaign_regions instead.
	{name: "posts", field: "posts",
		get: func(r *applicationsv1.ImportRow) string { return strconv.Itoa(int(r.GetPosts())) },
		set: func(r *applicationsv1.ImportRow, v string) error {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return errors.New("must be a whole number")
			}
			r.Posts = int32(n)
			return nil
		}},
	date("opens_on", "opens_on", func(r *applicationsv1.ImportRow) **commonv1.Date { return &r.OpensOn }),
	date("closes_on", "closes_on", func(r *applicationsv1.ImportRow) **commonv1.Date { return &r.ClosesOn }),
	text("candidate_name", "candidate.name", true, func(r *applicationsv1.ImportRow) *string { return &candidate(r).Name }),
	text("candidate_email", "candidate.email", true, func(r *applicationsv1.ImportRow) *string { return &candidate(r).Email }),
	text("candidate_phone", "candidate.phone", false, func(r *applicationsv1.ImportRow) *string { return &candidate(r).Phone }),
	stamp("submitted_at", "submitted_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &r.SubmittedAt }),
	stamp("sift_decided_at", "history.sift.decided_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &sift(r).DecidedAt }),
	outcome("sift_outcome", "history.sift.passed", func(r *applicationsv1.ImportRow) *bool { return &sift(r).Passed }),
	text("sift_reason", "history.sift.reason_code", false, func(r *applicationsv1.ImportRow) *string { return &sift(r).ReasonCode }),
	stamp("interview_booked_at", "history.interview.booked_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &interview(r).BookedAt }),
	stamp("interview_at", "history.interview.scheduled_for", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &interview(r).ScheduledFor }),
	stamp("interview_decided_at", "history.interview.decided_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &interview(r).DecidedAt }),
	outcome("interview_outcome", "history.interview.passed", func(r *applicationsv1.ImportRow) *bool { return &interview(r).Passed }),
	text("interview_reason", "history.interview.reason_code", false, func(r *applicationsv1.ImportRow) *string { return &interview(r).ReasonCode }),
	stamp("offer_made_at", "history.offer.made_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &offer(r).MadeAt }),
	text("salary_band", "history.offer.salary_band_code", false, func(r *applicationsv1.ImportRow) *string { return &offer(r).SalaryBandCode }),
	{name: "offer_conditions", field: "history.offer.conditions",
		get: func(r *applicationsv1.ImportRow) string {
			var names []string
			for _, c := range r.GetHistory().GetOffer().GetConditions() {
				names = append(names, enumName("OFFER_CONDITION_", commonv1.OfferCondition_name, int32(c)))
			}
			return strings.Join(names, ";")
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			o := offer(r)
			for _, name := range strings.Split(v, ";") {
				n, err := enumValue("OFFER_CONDITION_", commonv1.OfferCondition_value, strings.TrimSpace(name))
				if err != nil {
					return fmt.Errorf("each condition (separated by ;) %w", err)
				}
				o.Conditions = append(o.Conditions, commonv1.OfferCondition(n))
			}
			return nil
		}},
	stamp("offer_accepted_at", "history.offer.accepted_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &offer(r).AcceptedAt }),
	stamp("offer_declined_at", "history.offer.declined_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &offer(r).DeclinedAt }),
	text("decline_reason", "history.offer.decline_reason_code", false, func(r *applicationsv1.ImportRow) *string { return &offer(r).DeclineReasonCode }),
	stamp("start_date_set_at", "history.offer.start_date_set_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &offer(r).StartDateSetAt }),
	date("start_date", "history.offer.start_date", func(r *applicationsv1.ImportRow) **commonv1.Date { return &offer(r).StartDate }),
	text("start_approved_by", "history.offer.approved_by", false, func(r *applicationsv1.ImportRow) *string { return &offer(r).ApprovedBy }),
	date("vetting_due_by", "history.offer.vetting_due_by", func(r *applicationsv1.ImportRow) **commonv1.Date { return &offer(r).VettingDueBy }),
	stamp("started_at", "history.offer.started_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &offer(r).StartedAt }),
	stamp("vetting_forms_received_at", "history.vetting.forms_received_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &vetting(r).FormsReceivedAt }),
	stamp("vetting_blocked_at", "history.vetting.blocked_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &vetting(r).BlockedAt }),
	{name: "vetting_block_reason", field: "history.vetting.block_reason",
		get: func(r *applicationsv1.ImportRow) string {
			return enumName("BLOCK_REASON_", commonv1.BlockReason_name, int32(r.GetHistory().GetVetting().GetBlockReason()))
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			n, err := enumValue("BLOCK_REASON_", commonv1.BlockReason_value, v)
			vetting(r).BlockReason = commonv1.BlockReason(n)
			return err
		}},
	stamp("vetting_unblocked_at", "history.vetting.unblocked_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &vetting(r).UnblockedAt }),
	stamp("vetting_cleared_at", "history.vetting.cleared_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &vetting(r).ClearedAt }),
	stamp("vetting_failed_at", "history.vetting.failed_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &vetting(r).FailedAt }),
	text("vetting_fail_reason", "history.vetting.fail_reason_code", false, func(r *applicationsv1.ImportRow) *string { return &vetting(r).FailReasonCode }),
	stamp("withdrawn_at", "withdrawn_at", func(r *applicationsv1.ImportRow) **timestamppb.Timestamp { return &r.WithdrawnAt }),
	text("withdraw_reason", "withdraw_reason_code", false, func(r *applicationsv1.ImportRow) *string { return &r.WithdrawReasonCode }),
	text("source", "source", false, func(r *applicationsv1.ImportRow) *string { return &r.Source }),
	// The voluntary equality monitoring answers (special category data:
	// the applications service hands them to the equality service's store
	// and keeps none); empty cells are not answered.
	answer("age_band", func(m *equalityv1.MonitoringAnswers) *string { return &m.AgeBand }),
	answer("sex", func(m *equalityv1.MonitoringAnswers) *string { return &m.Sex }),
	answer("gender_identity", func(m *equalityv1.MonitoringAnswers) *string { return &m.GenderIdentity }),
	answer("ethnic_group", func(m *equalityv1.MonitoringAnswers) *string { return &m.EthnicGroup }),
	answer("disability", func(m *equalityv1.MonitoringAnswers) *string { return &m.Disability }),
	answer("religion_or_belief", func(m *equalityv1.MonitoringAnswers) *string { return &m.ReligionOrBelief }),
	answer("sexual_orientation", func(m *equalityv1.MonitoringAnswers) *string { return &m.SexualOrientation }),
	answer("caring_responsibilities", func(m *equalityv1.MonitoringAnswers) *string { return &m.CaringResponsibilities }),
	answer("justice_experience", func(m *equalityv1.MonitoringAnswers) *string { return &m.JusticeExperience }),
	// A campaign in several regions: every region with its posts,
	// "london=120;wales=30", the same on each of its rows (region is then
	// the application's, one of them). Last, so that files written before
	// it read the same.
	{name: "campaign_regions", field: "campaign_regions",
		get: func(r *applicationsv1.ImportRow) string {
			parts := make([]string, len(r.GetCampaignRegions()))
			for i, c := range r.GetCampaignRegions() {
				parts[i] = c.GetRegion() + "=" + strconv.Itoa(int(c.GetPosts()))
			}
			return strings.Join(parts, ";")
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			for part := range strings.SplitSeq(v, ";") {
				name, posts, ok := strings.Cut(strings.TrimSpace(part), "=")
				n, err := strconv.ParseInt(strings.TrimSpace(posts), 10, 32)
				if !ok || err != nil {
					return errors.New("must be regions with their posts separated by ;, like london=120;wales=30")
				}
				r.CampaignRegions = append(r.CampaignRegions, &commonv1.CampaignRegion{Region: strings.TrimSpace(name), Posts: int32(n)})
			}
			return nil
		}},
}

// answer is the column monitoring_<question>: reading a filled cell makes
// the row's answers; writing reads without making them.
func answer(question string, ptr func(*equalityv1.MonitoringAnswers) *string) column {
	return column{name: "monitoring_" + question, field: "monitoring." + question,
		get: func(r *applicationsv1.ImportRow) string {
			if r.GetMonitoring() == nil {
				return ""
			}
			return *ptr(r.GetMonitoring())
		},
		set: func(r *applicationsv1.ImportRow, v string) error {
			if v == "" {
				return nil
			}
			if r.Monitoring == nil {
				r.Monitoring = &equalityv1.MonitoringAnswers{}
			}
			*ptr(r.Monitoring) = v
			return nil
		}}
}

func candidate(r *applicationsv1.ImportRow) *applicationsv1.Candidate {
	if r.Candidate == nil {
		r.Candidate = &applicationsv1.Candidate{}
	}
	return r.Candidate
}

// Header is the file's first line: every column, in order.
func Header() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.name
	}
	return out
}

// Column names the CSV column of a request field as the service names it
// ("rows[3].history.interview.decided_at" → "interview_decided_at"), and
// rewrites the request's field names in text to column names; fields
// without a column are left as they are.
func Column(field string) string {
	if i := strings.Index(field, "]."); strings.HasPrefix(field, "rows[") && i > 0 {
		field = field[i+2:]
	}
	for _, c := range columns {
		if c.field == field {
			return c.name
		}
	}
	return field
}

// Describe rewrites request field names in a message to column names.
func Describe(msg string) string {
	for _, c := range columns {
		if strings.HasPrefix(c.field, "history.") {
			msg = strings.ReplaceAll(msg, c.field, c.name)
		}
	}
	return msg
}

// LineError is a line of the file that cannot be read.
type LineError struct {
	Line   int
	Column string
	Reason string
}

func (e *LineError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Column, e.Reason)
}

// Reader reads rows.
type Reader struct {
	r     *csv.Reader
	index []int // column of each field of the file
	line  int
}

// NewReader reads the header; unknown or missing required columns are a
// *LineError for line 1.
func NewReader(r io.Reader) (*Reader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, &LineError{Line: 1, Reason: "no header line: " + err.Error()}
	}
	rd := &Reader{r: cr, line: 1}
	seen := map[string]bool{}
	for _, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		i := columnIndex(name)
		if i < 0 {
			return nil, &LineError{Line: 1, Column: name, Reason: "is not a column of the import format (see docs/import.md)"}
		}
		if seen[name] {
			return nil, &LineError{Line: 1, Column: name, Reason: "appears twice"}
		}
		seen[name] = true
		rd.index = append(rd.index, i)
	}
	for _, c := range columns {
		if c.required && !seen[c.name] {
			return nil, &LineError{Line: 1, Column: c.name, Reason: "is a required column"}
		}
	}
	for _, name := range []string{"opens_on", "submitted_at"} {
		if !seen[name] {
			return nil, &LineError{Line: 1, Column: name, Reason: "is a required column"}
		}
	}
	return rd, nil
}

func columnIndex(name string) int {
	for i, c := range columns {
		if c.name == name {
			return i
		}
	}
	return -1
}

// Read returns the next row and its line number; io.EOF at the end. A
// line that cannot be read is a *LineError; reading can go on after it.
func (rd *Reader) Read() (*applicationsv1.ImportRow, int, error) {
	rec, err := rd.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			rd.line = pe.Line
			return nil, pe.Line, &LineError{Line: pe.Line, Reason: pe.Err.Error()}
		}
		return nil, rd.line, err
	}
	line, _ := rd.r.FieldPos(0)
	rd.line = line
	if len(rec) != len(rd.index) {
		return nil, line, &LineError{Line: line, Reason: fmt.Sprintf("has %d fields, the header %d", len(rec), len(rd.index))}
	}
	row := &applicationsv1.ImportRow{}
	for i, v := range rec {
		// A quote the Writer put before a cell that would read as a
		// formula is not part of the value.
		v = csvsafe.Plain(strings.TrimSpace(v))
		if v == "" {
			continue
		}
		c := columns[rd.index[i]]
		if err := c.set(row, v); err != nil {
			return nil, line, &LineError{Line: line, Column: c.name, Reason: err.Error()}
		}
	}
	return row, line, nil
}

// Writer writes rows under the header.
type Writer struct {
	w      *csvsafe.Writer
	header bool
}

// NewWriter returns a Writer on w.
// Its cells are made safe to open in a spreadsheet (pkg/csvsafe), which
// the Reader undoes.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csvsafe.NewWriter(w)} }

// Write writes one row (the header first).
func (wr *Writer) Write(r *applicationsv1.ImportRow) error {
	if !wr.header {
		wr.header = true
		if err := wr.w.Write(Header()); err != nil {
			return err
		}
	}
	rec := make([]string, len(columns))
	for i, c := range columns {
		if present(r, c) {
			rec[i] = c.get(r)
		}
	}
	return wr.w.Write(rec)
}

// Flush writes what is buffered.
func (wr *Writer) Flush() error {
	return wr.w.Flush()
}

// present reports whether a row has the column's part at all (an outcome
// or enum of a part that did not happen is left empty).
func present(r *applicationsv1.ImportRow, c column) bool {
	h := r.GetHistory()
	// An outcome is written once decided, or when it is all a part holds
	// (a "fail" read alone makes an empty part, which the service refuses,
	// and the file must still say so after a round trip).
	switch {
	case c.name == "sift_outcome":
		s := h.GetSift()
		return s != nil && (s.GetDecidedAt() != nil || s.GetPassed() || proto.Size(s) == 0)
	case strings.HasPrefix(c.field, "history.sift."):
		return h.GetSift() != nil
	case c.name == "interview_outcome":
		iv := h.GetInterview()
		return iv != nil && (iv.GetDecidedAt() != nil || iv.GetPassed() || proto.Size(iv) == 0)
	case strings.HasPrefix(c.field, "history.interview."):
		return h.GetInterview() != nil
	case strings.HasPrefix(c.field, "history.offer."):
		return h.GetOffer() != nil
	case c.name == "vetting_block_reason":
		return h.GetVetting().GetBlockedAt() != nil || h.GetVetting().GetBlockReason() != 0
	case strings.HasPrefix(c.field, "history.vetting."):
		return h.GetVetting() != nil
	}
	return true
}
