package main

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// TestNewCSVOutputsNeutraliseFormulas: the attack is a reporting service
// (or an old record) answering with the OWASP CSV injection payloads as
// reason codes, sources and campaign titles — the API refuses them as
// input today (pkg/reason's codes), so this is what a later change or
// older data would leak. Every cell of the reason and source breakdowns
// and the campaign list, as -o csv writes them, reads as text.
func TestNewCSVOutputsNeutraliseFormulas(t *testing.T) {
	t.Parallel()
	breakdown := &reportingv1.GetReasonBreakdownResponse{}
	var campaigns []*applicationsv1.Campaign
	for _, p := range csvsafe.Payloads {
		breakdown.Reasons = append(breakdown.Reasons, &reportingv1.ReasonCount{ReasonCode: p, Count: 1})
		breakdown.Sources = append(breakdown.Sources, &reportingv1.SourceBreakdown{Source: p})
		campaigns = append(campaigns, &applicationsv1.Campaign{Title: p, Region: "london"})
	}
	for name, v := range map[string]view{
		"reasons": reasonBreakdownView(breakdown), "sources": sourceBreakdownView(breakdown), "campaigns": campaignView(campaigns...),
	} {
		var out bytes.Buffer
		if err := writeCSV(&out, v); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatalf("%s: not csv: %v", name, err)
		}
		if len(rows) != len(csvsafe.Payloads)+1 {
			t.Fatalf("%s: %d rows; want a header and one per payload", name, len(rows))
		}
		risky := 0
		for i, row := range rows {
			for j, cell := range row {
				if csvsafe.Risky(cell) {
					t.Errorf("%s: row %d, column %d: %q would run as a formula", name, i, j, cell)
				}
				if cell != csvsafe.Plain(cell) {
					risky++
				}
			}
		}
		if risky == 0 {
			t.Errorf("%s: no cell was neutralised: the payloads did not reach the file", name)
		}
	}
}
