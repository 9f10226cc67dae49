package web

import (
	"bytes"
	"context"
	"net/http"
	"strconv"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

const (
	// csvPageSize is the API's largest page.
	csvPageSize = 500
	// csvMaxRows bounds one download; a region's stuck list is far shorter,
	// and an unbounded loop must not hold the reporting service forever.
	csvMaxRows = 50_000
)

// csvHeader names the columns: the campaign by its title (its id while
// reporting has none) and the role by its name, for people; the campaign's
// id last, for the page's campaign filter and for machines.
var csvHeader = []string{
	"application_id", "campaign", "region", "role", "stage", "reason", "since",
	"days", "days_overdue", "severity", "blocked_reason", "next_actor", "campaign_id",
}

// stuckCSV downloads the whole stuck list of a region under the page's
// filter (every page, one consistent as_of: the API's page token keeps the
// first page's). A download can read thousands of rows through the
// reporting service, so each user may start only so many (Config.CSVBurst
// at once, then Config.CSVPerMinute).
func (s *Server) stuckCSV(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	code, f, ok := s.regionRequest(w, r)
	if !ok {
		return
	}
	if ok, wait := s.csv.allow(sess.Subject); !ok {
		s.log.Info("stuck list download refused: too many", "sub", sess.Subject, "retry_after", wait)
		s.fail(w, r, &tooManyDownloads{retryAfter: wait})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 6*callTimeout)
	defer cancel()
	// Collected first, so a failure on a later page is an error status and
	// not a file cut short that looks complete.
	var buf bytes.Buffer
	// The cells come from another service: none may read as a formula.
	cw := csvsafe.NewWriter(&buf)
	_ = cw.Write(csvHeader) // a bytes.Buffer does not fail
	token, rows := "", 0
	for {
		resp, err := s.reports.ListStuckCandidates(ctx, f.request(code, csvPageSize, token))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, c := range resp.GetCandidates() {
			row := stuckToRow(c)
			_ = cw.Write([]string{row.ApplicationID, row.campaign(), code, row.Role, row.Stage, row.Kind, row.SinceISO,
				strconv.Itoa(row.Days), strconv.Itoa(row.DaysOverdue), row.Severity, row.BlockedReason, row.NextActor, row.CampaignID})
		}
		rows += len(resp.GetCandidates())
		token = resp.GetNextPageToken()
		if token == "" {
			break
		}
		if rows >= csvMaxRows {
			s.log.Warn("stuck list download cut short", "region", code, "rows", rows)
			break
		}
	}
	_ = cw.Flush()
	name := "stuck-" + code + "-" + s.now().In(london).Format("2006-01-02") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
