package report

import (
	"bytes"
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// oneRegion is a Store holding one region's stuck clocks (and no
// thresholds: the stuck list does not read them).
type oneRegion struct {
	Store
	stuck []StuckRow
}

func (oneRegion) Versions(context.Context) (Versions, error) {
	return Versions{Epoch: "e", Of: map[string]int64{"london": 1}}, nil
}

func (o oneRegion) LoadRegion(context.Context, string, int64) (RegionRows, error) {
	return RegionRows{Epoch: "e", Version: 1, Full: true, Stuck: o.stuck}, nil
}

// scanStuck is the list by definition: every clock past its warning at
// asOf that the filters keep, a breach once its breach time has passed
// too, sorted breaches first, then days overdue (descending), then since,
// application and kind; the page is what follows the cursor.
func scanStuck(clocks []StuckRow, f StuckFilter) (rows []StuckRow, warnings, breaches int) {
	var all []StuckRow
	for _, c := range clocks {
		if c.WarningAt.After(f.AsOf) || (f.Stage != 0 && c.Stage != f.Stage) || (f.Role != 0 && c.Role != f.Role) ||
			(f.CampaignID != "" && c.CampaignID != f.CampaignID) || (f.Kind != 0 && c.Kind != f.Kind) ||
			(f.BlockedReason != 0 && c.BlockedReason != f.BlockedReason) {
			continue
		}
		breach := !c.BreachAt.After(f.AsOf)
		if breach {
			breaches++
		} else {
			warnings++
		}
		if f.Breach == nil || breach == *f.Breach {
			all = append(all, c)
		}
	}
	overdue := func(c StuckRow) (int, time.Duration) {
		if !c.BreachAt.After(f.AsOf) {
			return 0, f.AsOf.Sub(c.BreachAt)
		}
		return 1, f.AsOf.Sub(c.WarningAt)
	}
	slices.SortFunc(all, func(a, b StuckRow) int {
		sa, da := overdue(a)
		sb, db := overdue(b)
		if c := cmp.Compare(sa, sb); c != 0 {
			return c
		}
		if c := cmp.Compare(db/(24*time.Hour), da/(24*time.Hour)); c != 0 {
			return c
		}
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		ia, ib := uuid.MustParse(a.ApplicationID), uuid.MustParse(b.ApplicationID)
		if c := bytes.Compare(ia[:], ib[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	from := 0
	if f.After != nil {
		from = len(all)
		for i, c := range all {
			if c.Position(f.AsOf).compare(*f.After) > 0 {
				from = i
				break
			}
		}
	}
	return all[from:min(len(all), from+f.Limit)], warnings, breaches
}

// TestStuckMatchesAScan pages through random clocks with every filter and
// compares each page and its counts with a scan of all the clocks.
func TestStuckMatchesAScan(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clocks := randomClocks(2000, base)
	s := NewService(oneRegion{stuck: clocks})
	yes, no := true, false
	stages := []commonv1.Stage{commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER, commonv1.Stage_STAGE_PRE_EMPLOYMENT}
	for _, asOf := range []time.Time{base.Add(-time.Hour), base.Add(30 * 24 * time.Hour), base.Add(100*24*time.Hour + time.Microsecond), base.Add(400 * 24 * time.Hour)} {
		for _, stage := range append([]commonv1.Stage{0}, stages...) {
			for _, breach := range []*bool{nil, &yes, &no} {
				f := StuckFilter{Region: "london", Stage: stage, Breach: breach, AsOf: asOf, Limit: 37}
				pages, seen := 0, 0
				for {
					rows, warnings, breaches, err := s.Stuck(context.Background(), f)
					if err != nil {
						t.Fatal(err)
					}
					wantRows, wantWarnings, wantBreaches := scanStuck(clocks, f)
					if warnings != wantWarnings || breaches != wantBreaches {
						t.Fatalf("as of %s, stage %v, breach %v: %d warnings, %d breaches; want %d, %d",
							asOf, stage, breach, warnings, breaches, wantWarnings, wantBreaches)
					}
					if !slices.EqualFunc(rows, wantRows, func(a, b StuckRow) bool { return a == b }) {
						t.Fatalf("as of %s, stage %v, breach %v, page %d: rows differ from the scan's", asOf, stage, breach, pages)
					}
					seen += len(rows)
					if len(rows) < f.Limit {
						break
					}
					if err := f.Resume(rows[len(rows)-1].Cursor(f.AsOf)); err != nil {
						t.Fatal(err)
					}
					pages++
				}
				if breach == nil && seen != func() int {
					_, w, b := scanStuck(clocks, StuckFilter{Stage: stage, AsOf: asOf, Limit: 0})
					return w + b
				}() {
					t.Fatalf("as of %s, stage %v: paged through %d clocks", asOf, stage, seen)
				}
			}
		}
	}
}

// randomClocks returns the clocks of apps random applications, in the
// list's order.
func randomClocks(apps int, base time.Time) []StuckRow {
	rng := rand.New(rand.NewPCG(1, 2))
	stages := []commonv1.Stage{commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER, commonv1.Stage_STAGE_PRE_EMPLOYMENT}
	var clocks []StuckRow
	for range apps {
		id := uuid.New().String()
		// A few applications have two clocks; some share a warning time.
		for k := range 1 + rng.IntN(2) {
			warning := base.Add(time.Duration(rng.IntN(200)) * 24 * time.Hour)
			if rng.IntN(10) == 0 {
				warning = warning.Add(time.Duration(rng.IntN(1000)) * time.Microsecond)
			}
			// Breach usually after the warning, sometimes at or before it.
			breach := warning.Add(time.Duration(rng.IntN(40)-5) * 24 * time.Hour)
			// Since before the warning, often on the same day as another's.
			since := warning.Add(-time.Duration(rng.IntN(15)) * 24 * time.Hour).Add(-time.Duration(rng.IntN(3)) * time.Hour)
			clocks = append(clocks, StuckRow{ApplicationID: id, Clock: projection.Clock{
				Kind: projection.StuckKind(k + 1), Stage: stages[rng.IntN(len(stages))], Since: since, WarningAt: warning, BreachAt: breach}})
		}
	}
	slices.SortFunc(clocks, func(a, b StuckRow) int {
		if c := a.WarningAt.Compare(b.WarningAt); c != 0 {
			return c
		}
		ia, ib := uuid.MustParse(a.ApplicationID), uuid.MustParse(b.ApplicationID)
		if c := bytes.Compare(ia[:], ib[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	return clocks
}

// BenchmarkStuck asks for the first page of 50 of a region with 40,000
// stuck applications (about a region's share of 1.4M applications).
func BenchmarkStuck(b *testing.B) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewService(oneRegion{stuck: randomClocks(40_000, base)})
	s.Listening(true) // as when the watch hub is up: versions read once
	yes := true
	for _, bench := range []struct {
		name string
		f    StuckFilter
	}{
		{"page of 50", StuckFilter{Region: "london", AsOf: base.Add(150 * 24 * time.Hour), Limit: 51}},
		{"breaches in SIFT", StuckFilter{Region: "london", Stage: commonv1.Stage_STAGE_SIFT, Breach: &yes, AsOf: base.Add(150 * 24 * time.Hour), Limit: 51}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := s.Stuck(context.Background(), bench.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
