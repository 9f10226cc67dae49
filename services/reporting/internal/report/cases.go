package report

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// Open cases are read from the projection's records as they stand (one
// indexed query), not from the cache: a person's list is a few rows, and
// a region's workload one pass over its open records.

// OpenCases lists the open cases q selects, oldest in their stage first,
// each with its clocks.
func (s *Service) OpenCases(ctx context.Context, q CaseQuery) ([]CaseRow, error) {
	return s.store.OpenCases(ctx, q)
}

// Cursor is the case's position for a page token to resume after.
func (c CaseRow) Cursor() string {
	return c.Since.UTC().Format(time.RFC3339Nano) + "|" + c.ApplicationID + "|" + strconv.Itoa(int(c.Record))
}

// ParseCaseCursor reads a Cursor back; "" is the start (nil). Anything
// else that is not a cursor is pagetoken.ErrInvalid: a client can forge a
// token.
func ParseCaseCursor(cursor string) (*CaseKey, error) {
	if cursor == "" {
		return nil, nil
	}
	parts := strings.Split(cursor, "|")
	if len(parts) != 3 {
		return nil, pagetoken.ErrInvalid
	}
	since, terr := time.Parse(time.RFC3339Nano, parts[0])
	app, aerr := uuid.Parse(parts[1])
	record, rerr := strconv.Atoi(parts[2])
	if terr != nil || aerr != nil || rerr != nil || record < int(projection.RecordSift) || record > int(projection.RecordVetting) {
		return nil, pagetoken.ErrInvalid
	}
	return &CaseKey{Since: since, App: app.String(), Record: projection.Record(record)}, nil
}

// Workload is one person's open cases in a region, of one role's work (an
// empty Assignee: the cases nobody is assigned).
type Workload struct {
	Assignee        string
	Actor           projection.NextActor
	Open            int
	Warning, Breach int
	OldestSince     time.Time
}

// Workload counts the region's open cases per assignee and role's work as
// of asOf, with how many are in warning and in breach (projection.DueOf)
// and the oldest: SPOC work first, then vetting; in each the unassigned
// row, then assignees by subject id.
func (s *Service) Workload(ctx context.Context, region string, asOf time.Time) ([]Workload, error) {
	cases, err := s.store.OpenCases(ctx, CaseQuery{Regions: []string{region}})
	if err != nil {
		return nil, err
	}
	type key struct {
		actor    projection.NextActor
		assignee string
	}
	rows := map[key]*Workload{}
	for _, c := range cases {
		k := key{c.Record.Actor(), c.Assignee}
		w := rows[k]
		if w == nil {
			w = &Workload{Assignee: k.assignee, Actor: k.actor, OldestSince: c.Since}
			rows[k] = w
		}
		w.Open++
		switch due := projection.DueOf(c.Clocks, asOf); {
		case due.Breach:
			w.Breach++
		case due.Warning:
			w.Warning++
		}
		if c.Since.Before(w.OldestSince) {
			w.OldestSince = c.Since
		}
	}
	out := make([]Workload, 0, len(rows))
	for _, w := range rows {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b Workload) int {
		return cmp.Or(cmp.Compare(a.Actor, b.Actor), cmp.Compare(a.Assignee, b.Assignee))
	})
	return out, nil
}
