package web

import (
	"cmp"
	"fmt"
	"net/url"
	"time"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// myCasesView is a person's own open cases.
type myCasesView struct {
	chrome
	Assignee string
	Rows     []myCaseRow
	// Later: this is not the first page. NextURL: the next page, if any.
	Later   bool
	NextURL string
}

// myCaseRow is one open case.
type myCaseRow struct {
	ApplicationID, Region, Role, Stage string
	// Campaign is the campaign's title, or its id while reporting has no
	// title for it.
	Campaign               string
	Record, RecordCode     string
	Since, SinceISO        string
	Severity, SeverityCode string
	// Due says what is due: the next threshold and when, or how many days
	// past the threshold passed.
	Due string
}

func myCasesToView(resp *pb.ListMyCasesResponse, later bool) *myCasesView {
	v := &myCasesView{chrome: chrome{Title: "My cases"}, Assignee: resp.GetAssignee(), Later: later}
	if t := resp.GetNextPageToken(); t != "" {
		v.NextURL = "/my?" + url.Values{"page_token": {t}}.Encode()
	}
	for _, c := range resp.GetCases() {
		since := c.GetSince().AsTime().In(london)
		row := myCaseRow{ApplicationID: c.GetApplicationId(), Campaign: cmp.Or(c.GetCampaignTitle(), c.GetCampaignId()),
			Region: regionName(c.GetRegion()), Role: roleName(c.GetRole()),
			Stage: stageName(c.GetStage()), Record: recordName(c.GetRecord()), RecordCode: enumCode(c.GetRecord(), "CASE_RECORD_"),
			Since: since.Format("2 Jan 2006"), SinceISO: since.Format(time.RFC3339), Due: dueText(c)}
		if c.GetSeverity() != pb.Severity_SEVERITY_UNSPECIFIED {
			row.Severity, row.SeverityCode = severityName(c.GetSeverity()), severityCode(c.GetSeverity())
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// dueText is what is due on a case, as a person reads it.
func dueText(c *pb.MyCase) string {
	plural := func(n int32) string {
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	at := func() string { return c.GetNextThresholdAt().AsTime().In(london).Format("2 Jan 2006 15:04") }
	switch {
	case c.GetKind() == pb.StuckKind_STUCK_KIND_UNSPECIFIED:
		return "Nothing due (another role must act)"
	case c.GetSeverity() == pb.Severity_SEVERITY_BREACH:
		return kindName(c.GetKind()) + ": breach, overdue by " + plural(c.GetDaysOverdue())
	case c.GetSeverity() == pb.Severity_SEVERITY_WARNING:
		return kindName(c.GetKind()) + ": warning, " + plural(c.GetDaysOverdue()) + " past; breach on " + at()
	}
	return kindName(c.GetKind()) + ": warning on " + at()
}

func recordName(r pb.CaseRecord) string {
	switch r {
	case pb.CaseRecord_CASE_RECORD_SIFT:
		return "Sift and interview"
	case pb.CaseRecord_CASE_RECORD_OFFER:
		return "Offer"
	case pb.CaseRecord_CASE_RECORD_VETTING:
		return "Vetting"
	}
	return "Unknown"
}

// workloadView is a region's open cases per assignee.
type workloadView struct {
	RegionName string
	Rows       []workloadRow
}

// workloadRow is one person's (or nobody's) open cases of one role's work.
type workloadRow struct {
	Assignee, Actor, ActorCode string
	Open, Warning, Breach      int
	Oldest, OldestISO          string
}

func workloadToView(region string, resp *pb.GetWorkloadResponse) workloadView {
	v := workloadView{RegionName: regionName(region)}
	for _, w := range resp.GetRows() {
		oldest := w.GetOldestSince().AsTime().In(london)
		v.Rows = append(v.Rows, workloadRow{Assignee: w.GetAssignee(), Actor: nextActorName(w.GetActor()),
			ActorCode: enumCode(w.GetActor(), "NEXT_ACTOR_"), Open: int(w.GetOpen()), Warning: int(w.GetWarning()),
			Breach: int(w.GetBreach()), Oldest: oldest.Format("2 Jan 2006"), OldestISO: oldest.Format(time.RFC3339)})
	}
	return v
}
