package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/region"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// checksPageSize is the length of a page of outstanding checks.
const checksPageSize = 50

// checksView is a region's offers with pre-employment checks outstanding.
type checksView struct {
	chrome
	Region, RegionName string
	Rows               []checkRow
	// Later: this is not the first page. NextURL: the next page, if any.
	Later   bool
	NextURL string
}

// checkRow is one offer with checks outstanding.
type checkRow struct {
	ApplicationID, Role, Stage string
	OfferMade, OfferMadeISO    string
	Days                       int32
	Checks, Assignee           string
}

// checks serves a region's outstanding pre-employment checks, oldest offer
// first.
func (s *Server) checks(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	code := r.PathValue("region")
	if !region.Valid(code) {
		s.fail(w, r, errNotFound)
		return
	}
	token := r.URL.Query().Get("page_token")
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := s.reports.ListOutstandingChecks(ctx, &pb.ListOutstandingChecksRequest{Region: code, PageSize: checksPageSize, PageToken: token})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "checks", checksToView(code, resp, token != ""))
}

func checksToView(code string, resp *pb.ListOutstandingChecksResponse, later bool) *checksView {
	name := regionName(code)
	v := &checksView{chrome: chrome{Title: "Outstanding checks: " + name}, Region: code, RegionName: name, Later: later}
	if t := resp.GetNextPageToken(); t != "" {
		v.NextURL = "/regions/" + code + "/checks?" + url.Values{"page_token": {t}}.Encode()
	}
	for _, a := range resp.GetApplications() {
		made := a.GetOfferMadeAt().AsTime().In(london)
		names := make([]string, len(a.GetChecks()))
		for i, c := range a.GetChecks() {
			names[i] = checkName(c.String())
		}
		v.Rows = append(v.Rows, checkRow{ApplicationID: a.GetApplicationId(), Role: roleName(a.GetRole()), Stage: stageName(a.GetStage()),
			OfferMade: made.Format("2 Jan 2006"), OfferMadeISO: made.Format(time.RFC3339), Days: a.GetDaysOutstanding(),
			Checks: strings.Join(names, ", "), Assignee: a.GetAssignee()})
	}
	return v
}

// checkName is a check as a person reads it: "Right to work".
func checkName(condition string) string {
	switch condition {
	case "OFFER_CONDITION_REFERENCES":
		return "References"
	case "OFFER_CONDITION_MEDICAL":
		return "Medical"
	case "OFFER_CONDITION_RIGHT_TO_WORK":
		return "Right to work"
	}
	return "Unknown"
}
