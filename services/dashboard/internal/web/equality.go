package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/probation-recruitment/pipeline/pkg/equalitytable"
	"github.com/probation-recruitment/pipeline/pkg/region"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// Equality is the part of the equality client the equality page calls.
type Equality interface {
	GetEqualityFunnel(ctx context.Context, in *equalityv1.GetEqualityFunnelRequest, opts ...grpc.CallOption) (*equalityv1.GetEqualityFunnelResponse, error)
}

// equalityView is a region's equality page: the table every surface shows
// (pkg/equalitytable), as the equality service published it.
type equalityView struct {
	chrome
	Region          string
	RegionName      string
	Quarter         string
	Characteristic  string
	Quarters        []option
	Characteristics []option
	Columns         []string
	Rows            []equalityRow
	Notes           []string
	Shown           bool
	Flagged         int
}

// equalityRow is one row of the table; Flagged marks a transition below
// the four-fifths rule.
type equalityRow struct {
	Cells   []string
	Flagged bool
}

// quarterOf is the calendar quarter holding t, as "2026-Q3", and its first
// day.
func quarterOf(t time.Time) (string, time.Time) {
	t = t.UTC()
	q := (int(t.Month())-1)/3 + 1
	return fmt.Sprintf("%d-Q%d", t.Year(), q), time.Date(t.Year(), time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC)
}

// parseQuarter reads "YYYY-QN" as [from, to).
func parseQuarter(s string) (time.Time, time.Time, bool) {
	y, q, ok := strings.Cut(s, "-Q")
	year, err1 := strconv.Atoi(y)
	n, err2 := strconv.Atoi(q)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > 4 || year < 2000 || year > 2100 {
		return time.Time{}, time.Time{}, false
	}
	from := time.Date(year, time.Month(3*n-2), 1, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 3, 0), true
}

func date(t time.Time) *commonv1.Date {
	return &commonv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}

// equality is a region's equality page, read with the signed-in person's
// token: the equality service answers an equality analyst of the region
// or an admin, and refuses everyone else (the 403 page). By default it
// shows the last whole quarter's ethnic group.
func (s *Server) equality(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	code := r.PathValue("region")
	if !region.Valid(code) || s.equalityReports == nil {
		s.fail(w, r, errNotFound)
		return
	}
	q := r.URL.Query()
	_, thisQuarter := quarterOf(s.now())
	quarter, _ := quarterOf(thisQuarter.AddDate(0, -3, 0))
	if v := q.Get("quarter"); v != "" {
		quarter = v
	}
	from, to, okQuarter := parseQuarter(quarter)
	char := equalityv1.Characteristic_CHARACTERISTIC_ETHNIC_GROUP
	if v := q.Get("characteristic"); v != "" {
		n, ok := equalityv1.Characteristic_value["CHARACTERISTIC_"+strings.ToUpper(strings.ReplaceAll(v, "-", "_"))]
		if !ok || n == 0 {
			okQuarter = false
		}
		char = equalityv1.Characteristic(n)
	}
	if !okQuarter {
		s.fail(w, r, errBadFilter)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := s.equalityReports.GetEqualityFunnel(ctx, &equalityv1.GetEqualityFunnelRequest{
		Region: code, From: date(from), To: date(to), Characteristic: char})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := &equalityView{chrome: chrome{Title: "Equality monitoring — " + regionName(code)}, Region: code, RegionName: regionName(code),
		Quarter: quarter, Characteristic: equalitytable.Characteristic(char), Columns: equalitytable.Columns,
		Notes: equalitytable.Notes(resp), Shown: resp.GetShown()}
	for _, row := range equalitytable.Rows(resp) {
		flagged := row[5] == "yes"
		if flagged {
			v.Flagged++
		}
		v.Rows = append(v.Rows, equalityRow{Cells: row, Flagged: flagged})
	}
	// The last eight quarters, newest first.
	for i := range 8 {
		name, _ := quarterOf(thisQuarter.AddDate(0, -3*(i+1), 0))
		v.Quarters = append(v.Quarters, option{Value: name, Label: name, Selected: name == quarter})
	}
	for n := int32(1); n < int32(len(equalityv1.Characteristic_name)); n++ {
		c := equalitytable.Characteristic(equalityv1.Characteristic(n))
		v.Characteristics = append(v.Characteristics, option{Value: c, Label: strings.ReplaceAll(c, "-", " "), Selected: c == v.Characteristic})
	}
	s.render(w, r, http.StatusOK, "equality", v)
}
