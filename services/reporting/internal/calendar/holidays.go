package calendar

import (
	"slices"
	"time"
)

// holidays is the sorted table of bank holidays, as day numbers, for
// FirstYear to LastYear.
var holidays = buildTable(FirstYear, LastYear)

type date struct {
	y int
	m time.Month
	d int
}

func (d date) day() int { return daysFromCivil(d.y, d.m, d.d) }

// moved lists regular bank holidays proclaimed onto another date in the
// covered years; added lists the one-off extra bank holidays.
var (
	moved = []struct{ from, to date }{
		{date{2020, time.May, 4}, date{2020, time.May, 8}},   // early May, moved to VE day's 75th anniversary
		{date{2022, time.May, 30}, date{2022, time.June, 2}}, // spring, moved for the platinum jubilee
	}
	added = []date{
		{2022, time.June, 3},       // platinum jubilee
		{2022, time.September, 19}, // state funeral of Queen Elizabeth II
		{2023, time.May, 8},        // coronation of King Charles III
	}
)

func buildTable(first, last int) []int {
	var out []int
	for y := first; y <= last; y++ {
		for _, d := range regularHolidays(y) {
			out = append(out, d.day())
		}
	}
	for _, mv := range moved {
		i := slices.Index(out, mv.from.day())
		if i < 0 {
			panic("calendar: moved holiday not in regular table")
		}
		out[i] = mv.to.day()
	}
	for _, d := range added {
		out = append(out, d.day())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// regularHolidays are year's bank holidays under the regular rules, with
// weekend New Year's, Christmas and Boxing Days moved to substitute days.
func regularHolidays(y int) []date {
	easter := easterSunday(y)
	out := []date{
		substitute(date{y, time.January, 1}),
		addDays(easter, -2), // Good Friday
		addDays(easter, 1),  // Easter Monday
		nthMonday(y, time.May, 1),
		lastMonday(y, time.May),
		lastMonday(y, time.August),
	}
	switch weekday(date{y, time.December, 25}) {
	case time.Friday: // Boxing Day on Saturday
		out = append(out, date{y, time.December, 25}, date{y, time.December, 28})
	case time.Saturday:
		out = append(out, date{y, time.December, 27}, date{y, time.December, 28})
	case time.Sunday: // Boxing Day on Monday, Christmas moves to Tuesday
		out = append(out, date{y, time.December, 26}, date{y, time.December, 27})
	default:
		out = append(out, date{y, time.December, 25}, date{y, time.December, 26})
	}
	return out
}

// easterSunday is the date of Easter Sunday in the Gregorian calendar, by
// the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
func easterSunday(y int) date {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return date{y, time.Month(month), day}
}

// substitute moves a Saturday or Sunday holiday to the following Monday.
func substitute(d date) date {
	switch weekday(d) {
	case time.Saturday:
		return addDays(d, 2)
	case time.Sunday:
		return addDays(d, 1)
	}
	return d
}

func nthMonday(y int, m time.Month, n int) date {
	first := date{y, m, 1}
	offset := (int(time.Monday) - int(weekday(first)) + 7) % 7
	return addDays(first, offset+7*(n-1))
}

func lastMonday(y int, m time.Month) date {
	last := addDays(date{y, m + 1, 1}, -1)
	offset := (int(weekday(last)) - int(time.Monday) + 7) % 7
	return addDays(last, -offset)
}

func weekday(d date) time.Weekday {
	return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Weekday()
}

func addDays(d date, n int) date {
	y, m, day := time.Date(d.y, d.m, d.d+n, 0, 0, 0, 0, time.UTC).Date()
	return date{y, m, day}
}
