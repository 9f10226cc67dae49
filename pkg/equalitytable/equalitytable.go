// Package equalitytable lays out an equality funnel
// (recruitment.equality.v1.GetEqualityFunnelResponse) as the one table every
// surface shows — pipelinectl's CSV and table, the dashboard's equality
// page — so they publish the same cells, formatted the same way, and a
// suppressed cell is shown as suppressed, never as 0. It adds no number of
// its own: every cell is a field of the response, which the equality
// service published under disclosure control.
package equalitytable

import (
	"strconv"
	"strings"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
)

// Suppressed is how a suppressed figure reads ("confidential", as the
// Office for National Statistics marks it).
const Suppressed = "[c]"

// All is the category of the rows giving every application's counts (the
// stage totals).
const All = "all"

// Columns are the table's columns.
var Columns = []string{"category", "stage", "reached", "conversion_to_next", "impact_ratio", "flagged",
	"median_days_in_stage", "median_days_vetting_blocked"}

// Count formats a published count.
func Count(c *equalityv1.Count) string {
	if c.GetSuppressed() {
		return Suppressed
	}
	return strconv.FormatInt(c.GetValue(), 10)
}

// Measure formats a published rate, ratio or median to two decimals.
func Measure(m *equalityv1.Measure) string {
	if m == nil || m.GetSuppressed() {
		return Suppressed
	}
	return strconv.FormatFloat(m.GetValue(), 'f', 2, 64)
}

// Stage is a stage's name in the table ("pre-employment").
func Stage(s commonv1.Stage) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.String(), "STAGE_")), "_", "-")
}

// Characteristic is a characteristic's name ("ethnic-group").
func Characteristic(c equalityv1.Characteristic) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(c.String(), "CHARACTERISTIC_")), "_", "-")
}

// Rows are the table's rows: per category (in the response's order) and
// stage, then the "all" rows of the stage totals. A transition's figures
// sit on the row of the stage it leaves; the last stage has none ("").
func Rows(r *equalityv1.GetEqualityFunnelResponse) [][]string {
	var out [][]string
	for _, row := range r.GetRows() {
		blocked := Measure(row.GetMedianDaysVettingBlocked())
		for i, s := range r.GetStages() {
			cells := []string{row.GetCategory(), Stage(s), Count(at(row.GetReached(), i)), "", "", "",
				Measure(atMeasure(row.GetMedianDaysInStage(), i)), ""}
			if i < len(row.GetTransitions()) {
				t := row.GetTransitions()[i]
				cells[3], cells[4] = Measure(t.GetConversion()), Measure(t.GetImpactRatio())
				cells[5] = "no"
				if t.GetFlagged() {
					cells[5] = "yes"
				}
			}
			if s == commonv1.Stage_STAGE_PRE_EMPLOYMENT {
				cells[7] = blocked
			}
			out = append(out, cells)
		}
	}
	for i, s := range r.GetStages() {
		out = append(out, []string{All, Stage(s), Count(at(r.GetStageTotals(), i)), "", "", "", "", ""})
	}
	return out
}

// Notes are the lines that go with the table: the declaration rate, why
// rows are hidden, the disclosure policy.
func Notes(r *equalityv1.GetEqualityFunnelResponse) []string {
	p := r.GetPolicy()
	notes := []string{
		"declaration rate " + Measure(r.GetDeclarationRate()) + " of " + Count(r.GetTotal()) + " applications",
		Suppressed + ": suppressed by disclosure control",
		"counts below " + strconv.Itoa(int(p.GetThreshold())) + " suppressed, with others so none can be recovered; counts rounded to the nearest " +
			strconv.Itoa(int(p.GetRoundBase())) + "; a characteristic is shown where at least " +
			strconv.FormatFloat(p.GetMinDeclarationRate()*100, 'f', 0, 64) + "% declared",
	}
	if !r.GetShown() {
		notes = append(notes, "not shown: "+r.GetHiddenReason())
	}
	return notes
}

func at(cs []*equalityv1.Count, i int) *equalityv1.Count {
	if i < len(cs) {
		return cs[i]
	}
	return &equalityv1.Count{Suppressed: true}
}

func atMeasure(ms []*equalityv1.Measure, i int) *equalityv1.Measure {
	if i < len(ms) {
		return ms[i]
	}
	return nil
}
