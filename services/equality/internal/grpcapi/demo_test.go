package grpcapi_test

import (
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/importcsv"
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
)

// The demo data `make run` imports shows London's built-in disparity: in
// the last whole quarter, its equality report flags the sift of
// importcsv.DisparityGroup. The milestones are what the equality service
// keeps from the events the import produces.
func TestDemoShowsAFlaggedStage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var rows []funnel.Row
	for _, r := range importcsv.Demo(now, 1) {
		at := r.GetSubmittedAt().AsTime()
		row := funnel.Row{Milestones: funnel.Milestones{ApplicationID: r.GetReference(), Region: r.GetRegion(), CampaignID: r.GetCampaignReference()},
			Answer: r.GetMonitoring().GetEthnicGroup()}
		row.Reached[0] = &at
		h := r.GetHistory()
		if h.GetSift().GetPassed() {
			t1 := h.GetSift().GetDecidedAt().AsTime()
			row.Reached[1] = &t1
		}
		if h.GetInterview().GetPassed() {
			t2 := h.GetInterview().GetDecidedAt().AsTime()
			row.Reached[2] = &t2
		}
		if h.GetOffer().GetAcceptedAt() != nil {
			t3 := h.GetOffer().GetAcceptedAt().AsTime()
			row.Reached[3] = &t3
		}
		if h.GetOffer().GetStartedAt() != nil {
			t4 := h.GetOffer().GetStartedAt().AsTime()
			row.Reached[4] = &t4
		}
		rows = append(rows, row)
	}
	from := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	var window []funnel.Row
	for _, r := range rows {
		if !r.Reached[0].Before(from) && r.Reached[0].Before(from.AddDate(0, 3, 0)) {
			window = append(window, r)
		}
	}
	f, err := funnel.Report(disclosure.Config{}, funnel.Query{Region: importcsv.DisparityRegion, From: from, To: from.AddDate(0, 3, 0),
		Characteristic: monitoring.EthnicGroup}, window)
	if err != nil {
		t.Fatal(err)
	}
	for r, name := range f.Published.Rows {
		t.Log(name, f.Published.Cells[r], f.Transitions[r][0])
		if name == importcsv.DisparityGroup && f.Transitions[r][0].Flagged {
			return
		}
	}
	t.Errorf("the demo's %s report of %s flags no sift", importcsv.DisparityRegion, importcsv.DisparityGroup)
}
