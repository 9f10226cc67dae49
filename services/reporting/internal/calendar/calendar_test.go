package calendar

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestHolidaysMatchGOVUK pins whole years against the dates published at
// https://www.gov.uk/bank-holidays (England and Wales), written out by hand.
func TestHolidaysMatchGOVUK(t *testing.T) {
	t.Parallel()
	want := map[int][]string{
		2018: {"2018-01-01", "2018-03-30", "2018-04-02", "2018-05-07", "2018-05-28", "2018-08-27", "2018-12-25", "2018-12-26"},
		2019: {"2019-01-01", "2019-04-19", "2019-04-22", "2019-05-06", "2019-05-27", "2019-08-26", "2019-12-25", "2019-12-26"},
		2020: {
			"2020-01-01", // New Year's Day
			"2020-04-10", // Good Friday
			"2020-04-13", // Easter Monday
			"2020-05-08", // Early May bank holiday (VE day), moved from Monday 4 May
			"2020-05-25", // Spring bank holiday
			"2020-08-31", // Summer bank holiday
			"2020-12-25", // Christmas Day
			"2020-12-28", // Boxing Day (substitute)
		},
		2021: {"2021-01-01", "2021-04-02", "2021-04-05", "2021-05-03", "2021-05-31", "2021-08-30", "2021-12-27", "2021-12-28"},
		2022: {
			"2022-01-03", // New Year's Day (substitute)
			"2022-04-15", // Good Friday
			"2022-04-18", // Easter Monday
			"2022-05-02", // Early May bank holiday
			"2022-06-02", // Spring bank holiday, moved from Monday 30 May
			"2022-06-03", // Platinum Jubilee bank holiday
			"2022-08-29", // Summer bank holiday
			"2022-09-19", // State funeral of Queen Elizabeth II
			"2022-12-26", // Boxing Day
			"2022-12-27", // Christmas Day (substitute)
		},
		2023: {
			"2023-01-02", // New Year's Day (substitute)
			"2023-04-07", // Good Friday
			"2023-04-10", // Easter Monday
			"2023-05-01", // Early May bank holiday
			"2023-05-08", // Coronation of King Charles III
			"2023-05-29", // Spring bank holiday
			"2023-08-28", // Summer bank holiday
			"2023-12-25", // Christmas Day
			"2023-12-26", // Boxing Day
		},
		2024: {"2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-08-26", "2024-12-25", "2024-12-26"},
		2025: {"2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25", "2025-12-25", "2025-12-26"},
		2026: {"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"},
	}
	for year, dates := range want {
		got := Holidays(year)
		if len(got) != len(dates) {
			t.Errorf("%d: got %d holidays %v, want %d %v", year, len(got), got, len(dates), dates)
			continue
		}
		for i, s := range dates {
			if !got[i].Equal(day(s)) {
				t.Errorf("%d: holiday %d is %s, want %s", year, i, got[i].Format(time.DateOnly), s)
			}
			if !IsBankHoliday(day(s)) || IsWorkingDay(day(s)) {
				t.Errorf("%s: IsBankHoliday=%v IsWorkingDay=%v", s, IsBankHoliday(day(s)), IsWorkingDay(day(s)))
			}
		}
	}
}

// TestHolidayTableShape guards the assumption WorkingDays relies on: every
// entry is a weekday, so none is subtracted twice.
func TestHolidayTableShape(t *testing.T) {
	t.Parallel()
	wantCount := map[int]int{2022: 10, 2023: 9}
	for y := FirstYear; y <= LastYear; y++ {
		hs := Holidays(y)
		want := 8
		if n, ok := wantCount[y]; ok {
			want = n
		}
		if len(hs) != want {
			t.Errorf("%d: %d holidays, want %d", y, len(hs), want)
		}
		for i, h := range hs {
			if wd := h.Weekday(); wd == time.Saturday || wd == time.Sunday {
				t.Errorf("%s is a %s", h.Format(time.DateOnly), wd)
			}
			if i > 0 && !hs[i-1].Before(h) {
				t.Errorf("%d: not strictly increasing at %s", y, h.Format(time.DateOnly))
			}
		}
	}
	if Holidays(FirstYear-1) != nil || Holidays(LastYear+1) != nil {
		t.Error("Holidays outside the table should be nil")
	}
}

func TestEasterSunday(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"1818-03-22", "1943-04-25", "2018-04-01", "2019-04-21", "2020-04-12", "2021-04-04",
		"2022-04-17", "2023-04-09", "2024-03-31", "2025-04-20", "2026-04-05", "2027-03-28",
		"2028-04-16", "2029-04-01", "2030-04-21", "2038-04-25", "2285-03-22",
	} {
		want := day(s)
		got := easterSunday(want.Year())
		if got != (date{want.Year(), want.Month(), want.Day()}) {
			t.Errorf("Easter %d = %v, want %s", want.Year(), got, s)
		}
	}
}

func TestIsWorkingDay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		date          string
		holiday, work bool
	}{
		{"2024-06-03", false, true},  // Monday
		{"2024-06-07", false, true},  // Friday
		{"2024-06-08", false, false}, // Saturday
		{"2024-06-09", false, false}, // Sunday
		{"2024-12-25", true, false},
		{"2021-12-25", false, false}, // Christmas on a Saturday: the holiday is the 27th
		{"2021-12-27", true, false},
		{"2022-01-01", false, false}, // Saturday; substitute is 3 January
		{"2022-01-03", true, false},
		{"2020-05-04", false, true}, // first Monday of May 2020 was worked; VE day moved it
		{"2022-05-30", false, true}, // last Monday of May 2022 was worked; jubilee moved it
		{"2017-12-25", false, true}, // a Monday outside the table: nothing there is a bank holiday
	} {
		d := day(tc.date)
		if got := IsBankHoliday(d); got != tc.holiday {
			t.Errorf("IsBankHoliday(%s) = %v, want %v", tc.date, got, tc.holiday)
		}
		if got := IsWorkingDay(d); got != tc.work {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", tc.date, got, tc.work)
		}
	}
}

func TestDateFieldsOnly(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	// 00:30 BST on a bank holiday is 23:30 UTC the day before; the date in
	// the value's own location is what counts.
	d := time.Date(2024, time.May, 27, 0, 30, 0, 0, london)
	if !IsBankHoliday(d) {
		t.Error("2024-05-27 00:30 BST should be a bank holiday")
	}
	late := time.Date(2024, time.December, 24, 23, 59, 59, 0, time.UTC)
	if IsBankHoliday(late) || !IsWorkingDay(late) {
		t.Error("2024-12-24 23:59:59 is Christmas Eve, a working day")
	}
	if got := CalendarDays(day("2024-05-26"), d); got != 1 {
		t.Errorf("CalendarDays = %d, want 1", got)
	}
	if got := WorkingDays(late, day("2024-12-27")); got != 1 {
		t.Errorf("WorkingDays(24 Dec 23:59, 27 Dec) = %d, want 1", got)
	}
}

func TestCalendarDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		start, end string
		want       int
	}{
		{"2024-01-01", "2024-01-01", 0},
		{"2024-01-01", "2024-01-02", 1},
		{"2024-01-02", "2024-01-01", -1},
		{"2024-02-28", "2024-03-01", 2}, // leap year
		{"2023-02-28", "2023-03-01", 1},
		{"2024-03-30", "2024-03-31", 1}, // clocks change; dates do not
		{"2018-01-01", "2030-12-31", 4747},
		{"1969-12-31", "1970-01-01", 1},
	} {
		if got := CalendarDays(day(tc.start), day(tc.end)); got != tc.want {
			t.Errorf("CalendarDays(%s, %s) = %d, want %d", tc.start, tc.end, got, tc.want)
		}
	}
}

func TestWorkingDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		start, end string
		want       int
	}{
		{"equal", "2024-06-05", "2024-06-05", 0},
		{"equal on a holiday", "2024-12-25", "2024-12-25", 0},
		{"next day", "2024-06-05", "2024-06-06", 1},
		{"reversed next day", "2024-06-06", "2024-06-05", -1},
		{"Friday to Monday", "2024-06-07", "2024-06-10", 1},
		{"Friday to Saturday", "2024-06-07", "2024-06-08", 0},
		{"Friday to Sunday", "2024-06-07", "2024-06-09", 0},
		{"start Saturday", "2024-06-08", "2024-06-10", 1},
		{"start Sunday", "2024-06-09", "2024-06-14", 5},
		{"Saturday to Sunday", "2024-06-08", "2024-06-09", 0},
		{"whole week", "2024-06-03", "2024-06-10", 5},
		{"two weeks", "2024-06-03", "2024-06-17", 10},
		{"reversed two weeks", "2024-06-17", "2024-06-03", -10},
		{"Christmas 2024", "2024-12-20", "2025-01-03", 7},             // 23,24,27,30,31,2,3
		{"Christmas 2021 substitutes", "2021-12-24", "2022-01-04", 4}, // 29,30,31,4
		{"Christmas 2022", "2022-12-23", "2023-01-03", 4},             // 28,29,30,3
		{"start on holiday", "2024-12-25", "2024-12-27", 1},
		{"end on holiday", "2024-12-24", "2024-12-26", 0},
		{"start on Good Friday", "2024-03-29", "2024-04-02", 1},
		{"Easter 2025 reversed", "2025-04-22", "2025-04-17", -1},
		{"jubilee week 2022", "2022-05-27", "2022-06-06", 4}, // 30,31,1,6
		{"coronation 2023", "2023-04-28", "2023-05-12", 8},
		{"VE day 2020", "2020-05-01", "2020-05-11", 5},
		{"state funeral", "2022-09-16", "2022-09-20", 1},
		{"year 2024", "2023-12-31", "2024-12-31", 262 - 8},
		{"year 2022", "2021-12-31", "2022-12-31", 260 - 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := WorkingDays(day(tc.start), day(tc.end)); got != tc.want {
				t.Errorf("WorkingDays(%s, %s) = %d, want %d", tc.start, tc.end, got, tc.want)
			}
		})
	}
}

// naiveWorkingDays walks day by day, using the published dates directly
// rather than the table's binary search or the weekday arithmetic.
func naiveWorkingDays(start, end time.Time, hol map[time.Time]bool) int {
	sign := 1
	if end.Before(start) {
		start, end, sign = end, start, -1
	}
	n := 0
	for d := start.AddDate(0, 0, 1); !d.After(end); d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday && !hol[d] {
			n++
		}
	}
	return sign * n
}

func TestWorkingDaysMatchesNaive(t *testing.T) {
	t.Parallel()
	hol := map[time.Time]bool{}
	for y := FirstYear; y <= LastYear; y++ {
		for _, h := range Holidays(y) {
			hol[h] = true
		}
	}
	first := day("2018-01-01")
	span := CalendarDays(first, day("2030-12-31"))
	rng := rand.New(rand.NewPCG(20240601, 1))
	random := func() time.Time { return first.AddDate(0, 0, rng.IntN(span+1)) }

	for i := range 4000 {
		a := random()
		var b time.Time
		if i%2 == 0 {
			b = random() // long spans, either direction
		} else {
			b = a.AddDate(0, 0, rng.IntN(43)-21) // short spans, where edges matter
			if b.Year() > LastYear || b.Year() < FirstYear {
				continue
			}
		}
		want := naiveWorkingDays(a, b, hol)
		if got := WorkingDays(a, b); got != want {
			t.Fatalf("WorkingDays(%s, %s) = %d, naive %d", a.Format(time.DateOnly), b.Format(time.DateOnly), got, want)
		}
		if got := WorkingDays(b, a); got != -want {
			t.Fatalf("WorkingDays(%s, %s) = %d, want %d", b.Format(time.DateOnly), a.Format(time.DateOnly), got, -want)
		}
		c := random()
		if WorkingDays(a, b)+WorkingDays(b, c) != WorkingDays(a, c) {
			t.Fatalf("not additive over %s, %s, %s", a.Format(time.DateOnly), b.Format(time.DateOnly), c.Format(time.DateOnly))
		}
	}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	for y, want := range map[int]bool{2017: false, 2018: true, 2024: true, 2030: true, 2031: false} {
		if Covers(y) != want {
			t.Errorf("Covers(%d) = %v, want %v", y, !want, want)
		}
	}
	if err := CheckCovered(day("2018-01-01"), day("2030-12-31")); err != nil {
		t.Errorf("CheckCovered in range: %v", err)
	}
	for _, s := range []string{"2017-12-31", "2031-01-01"} {
		if err := CheckCovered(day("2024-01-01"), day(s)); !errors.Is(err, ErrNotCovered) {
			t.Errorf("CheckCovered(%s) = %v, want ErrNotCovered", s, err)
		}
	}
}

func BenchmarkWorkingDays(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	first := day("2018-01-01")
	pairs := make([][2]time.Time, 1024)
	for i := range pairs {
		a := first.AddDate(0, 0, rng.IntN(4700))
		pairs[i] = [2]time.Time{a, a.AddDate(0, 0, rng.IntN(200))}
	}
	sum := 0
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		sum += WorkingDays(p[0], p[1])
	}
	if sum < 0 {
		b.Fatal("negative total over forward spans")
	}
}
