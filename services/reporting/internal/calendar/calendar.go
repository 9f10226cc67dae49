// Package calendar counts calendar days and England and Wales working days
// between dates, for the time-to-hire reports.
//
// Dates are time.Time values holding a calendar date; only the year, month
// and day in the value's own location are used, so the convention is
// midnight UTC, and the time of day and zone are ignored.
//
// A working day is Monday to Friday and not an England and Wales bank
// holiday. Bank holidays are the days off published on GOV.UK: when
// Christmas Day falls on a Saturday the bank holiday is the substitute
// Monday, and the Saturday itself is not one. The table covers FirstYear to
// LastYear inclusive; it is built from the regular rules plus the one-off
// changes proclaimed in those years. Outside the table no date is a bank
// holiday, so callers check CheckCovered before trusting a count.
package calendar

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// FirstYear and LastYear bound the years the bank holiday table covers.
const (
	FirstYear = 2018
	LastYear  = 2030
)

// ErrNotCovered reports a date outside the bank holiday table.
var ErrNotCovered = errors.New("date outside the bank holiday table")

// Covers reports whether the bank holiday table covers year.
func Covers(year int) bool {
	return year >= FirstYear && year <= LastYear
}

// CheckCovered returns an error wrapping ErrNotCovered for the first date
// whose year the table does not cover, and nil otherwise. Checking both ends
// of a span covers every date in between.
func CheckCovered(dates ...time.Time) error {
	for _, d := range dates {
		if y := d.Year(); !Covers(y) {
			return fmt.Errorf("%w: %s (covered %d-%d)", ErrNotCovered, d.Format(time.DateOnly), FirstYear, LastYear)
		}
	}
	return nil
}

// IsBankHoliday reports whether d's calendar date is an England and Wales
// bank holiday.
func IsBankHoliday(d time.Time) bool {
	n := dayNumber(d)
	i := sort.Search(len(holidays), func(i int) bool { return holidays[i] >= n })
	return i < len(holidays) && holidays[i] == n
}

// IsWorkingDay reports whether d's calendar date is Monday to Friday and not
// a bank holiday.
func IsWorkingDay(d time.Time) bool {
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday && !IsBankHoliday(d)
}

// CalendarDays is the number of days from start to end (end - start, whole
// dates; negative if end is before start).
func CalendarDays(start, end time.Time) int {
	return dayNumber(end) - dayNumber(start)
}

// WorkingDays counts the working days d with start < d <= end: the day work
// starts counts, the start date does not. It is 0 when the dates are equal
// and negative, mirrored, when end is before start:
// WorkingDays(a, b) == -WorkingDays(b, a).
//
// It runs in constant time plus two binary searches of the holiday table.
func WorkingDays(start, end time.Time) int {
	s, e := dayNumber(start), dayNumber(end)
	return weekdaysUpTo(e) - weekdaysUpTo(s) - (holidaysUpTo(e) - holidaysUpTo(s))
}

// Holidays returns the bank holidays of year in date order, at midnight UTC;
// nil if the table does not cover year.
func Holidays(year int) []time.Time {
	var out []time.Time
	for _, n := range holidays {
		if y, m, d := civil(n); y == year {
			out = append(out, time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
		}
	}
	return out
}

// weekdaysUpTo counts the Mondays to Fridays on or before day n, from an
// arbitrary origin; only differences between two calls mean anything.
func weekdaysUpTo(n int) int {
	// Day 4 (1970-01-05) is a Monday; r is 0 for Monday to 6 for Sunday.
	m := n - 4
	q, r := m/7, m%7
	if r < 0 {
		q, r = q-1, r+7
	}
	return 5*q + min(r+1, 5)
}

// holidaysUpTo counts the table's bank holidays on or before day n. Every
// entry is a weekday (substitutes included), so subtracting these from a
// weekday count never subtracts a day twice.
func holidaysUpTo(n int) int {
	return sort.Search(len(holidays), func(i int) bool { return holidays[i] > n })
}

// dayNumber is d's calendar date as days since 1970-01-01.
func dayNumber(d time.Time) int {
	y, m, day := d.Date()
	return daysFromCivil(y, m, day)
}

// daysFromCivil is the proleptic Gregorian date y-m-d as days since
// 1970-01-01 (H. Hinnant's days_from_civil), avoiding time.Date's
// normalisation on the hot path.
func daysFromCivil(y int, m time.Month, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (int(m) + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civil is the inverse of daysFromCivil.
func civil(n int) (int, time.Month, int) {
	t := time.Unix(int64(n)*86400, 0).UTC()
	return t.Date()
}
