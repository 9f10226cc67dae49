package disclosure

import (
	"errors"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestValidateWindow(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	ok := [][2]time.Time{
		{day(2026, 1, 1), day(2026, 4, 1)},
		{day(2026, 4, 1), day(2026, 7, 1)},
		{day(2026, 7, 1), day(2026, 10, 1)},
		{day(2026, 10, 1), day(2027, 1, 1)},
		// the same instants in another zone are the same window
		{day(2026, 10, 1).In(london), day(2027, 1, 1).In(london)},
	}
	for _, w := range ok {
		if err := ValidateWindow(w[0], w[1]); err != nil {
			t.Errorf("%v – %v refused: %v", w[0], w[1], err)
		}
	}
	// Each of these overlaps or contains an allowed window, so the
	// difference of the two would be a third table nobody protected.
	refused := map[string]struct {
		from, to time.Time
		field    string
	}{
		"financial year":          {day(2026, 4, 1), day(2027, 4, 1), "to"},
		"calendar year":           {day(2026, 1, 1), day(2027, 1, 1), "to"},
		"half year":               {day(2026, 4, 1), day(2026, 10, 1), "to"},
		"month":                   {day(2026, 4, 1), day(2026, 5, 1), "to"},
		"quarter to date":         {day(2026, 4, 1), day(2026, 5, 17), "to"},
		"shifted quarter":         {day(2026, 5, 1), day(2026, 8, 1), "from"},
		"quarter a day late":      {day(2026, 4, 2), day(2026, 7, 1), "from"},
		"quarter in London time":  {time.Date(2026, 4, 1, 0, 0, 0, 0, london), time.Date(2026, 7, 1, 0, 0, 0, 0, london), "from"},
		"quarter plus one second": {day(2026, 4, 1), day(2026, 7, 1).Add(time.Second), "to"},
		"empty":                   {day(2026, 4, 1), day(2026, 4, 1), "to"},
		"reversed":                {day(2026, 7, 1), day(2026, 4, 1), "to"},
		"no start":                {time.Time{}, day(2026, 4, 1), "from"},
	}
	for name, w := range refused {
		err := ValidateWindow(w.from, w.to)
		var fe *validate.FieldError
		if !errors.As(err, &fe) || fe.Field != w.field || fe.Rule == "" {
			t.Errorf("%s: err = %v, want a FieldError on %q", name, err, w.field)
		}
	}
}

// Two accepted windows are the same or share no instant: no accepted window
// is the difference of others.
func TestPropertyAcceptedWindowsNeverOverlap(t *testing.T) {
	t.Parallel()
	genTime := func(t *rapid.T, label string) time.Time {
		base := day(2020, 1, 1)
		switch rapid.IntRange(0, 2).Draw(t, label+"Kind") {
		case 0: // a month boundary
			return base.AddDate(0, rapid.IntRange(0, 120).Draw(t, label+"Months"), 0)
		case 1: // a day
			return base.AddDate(0, 0, rapid.IntRange(0, 3650).Draw(t, label+"Days"))
		default:
			return base.Add(time.Duration(rapid.Int64Range(0, 10*365*24*3600).Draw(t, label+"Secs")) * time.Second)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		a0, a1 := genTime(t, "a0"), genTime(t, "a1")
		b0, b1 := genTime(t, "b0"), genTime(t, "b1")
		if ValidateWindow(a0, a1) != nil || ValidateWindow(b0, b1) != nil {
			return
		}
		same := a0.Equal(b0) && a1.Equal(b1)
		disjoint := !a1.After(b0) || !b1.After(a0)
		if !same && !disjoint {
			t.Fatalf("accepted windows [%v, %v) and [%v, %v) overlap", a0, a1, b0, b1)
		}
		if q0, q1 := Quarter(a0); !q0.Equal(a0) || !q1.Equal(a1) {
			t.Fatalf("accepted [%v, %v) is not Quarter(from) = [%v, %v)", a0, a1, q0, q1)
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		at := genTime(t, "at")
		from, to := Quarter(at)
		if at.Before(from) || !at.Before(to) || ValidateWindow(from, to) != nil {
			t.Fatalf("Quarter(%v) = [%v, %v): does not hold it or is refused", at, from, to)
		}
	})
}

// TestTwoWindowsCannotBeDifferenced: two quarters published (each window's
// tables protected together) and the all-candidates totals of their union
// known from the ordinary funnel leave every hidden count safe; had the
// union been a window of its own, protected on its own, the attacker would
// recover counts of a quarter as the union minus the other quarter.
func TestTwoWindowsCannotBeDifferenced(t *testing.T) {
	t.Parallel()
	cfg := Config{RoundBase: 1}
	w := window()
	q1, q2 := w.Children[0], w.Children[1] // two quarters' national trees
	q1.Children, q2.Children = nil, nil
	union := sumNode(q1, q2)
	if err := ValidateWindow(day(2026, 4, 1), day(2026, 10, 1)); err == nil {
		t.Fatal("the union of two quarters is an allowed window")
	}

	protect := func(n Node) PublishedNode {
		p, err := ProtectTree(cfg, n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowed := PublishedNode{
		Published: unpublished(union.Table),
		Children:  []PublishedNode{protect(q1), protect(q2)},
	}
	assertUnrecoverable(t, cfg, union, allowed)

	alsoUnion := protect(union)
	alsoUnion.Children = allowed.Children
	if got := leaks(t, cfg, union, alsoUnion); len(got) == 0 {
		t.Error("publishing the union of two windows leaked nothing: the attack cannot show why windows must not nest")
	} else {
		t.Log(got)
	}
}
