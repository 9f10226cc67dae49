package disclosure

import (
	"time"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// Windows. An equality table counts the applications submitted in one whole
// quarter (January–March, April–June, July–September, October–December;
// also the quarters of the financial year), [from, to) in UTC. Quarters never
// overlap and none contains another, so no allowed window is the difference
// of others: a year is not offered (it would be a quarter plus the other
// three), nor a quarter to date (it would be the difference of two dates).
// A longer view is the quarters side by side, each protected on its own.

// Quarter returns the quarter containing t: [from, to) in UTC.
func Quarter(t time.Time) (from, to time.Time) {
	t = t.UTC()
	from = time.Date(t.Year(), time.Month((int(t.Month())-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 3, 0)
}

// ValidateWindow accepts exactly one whole quarter, [from, to) starting at
// midnight UTC on 1 January, April, July or October. A refusal is a
// validate.FieldError on "from" or "to".
func ValidateWindow(from, to time.Time) error {
	if from.IsZero() {
		return validate.Field("from", "required: the first day of a quarter")
	}
	qf, qt := Quarter(from)
	if !from.Equal(qf) {
		return validate.Field("from", "must be the start of a quarter (1 January, April, July or October, 00:00 UTC)")
	}
	if !to.Equal(qt) {
		return validate.Field("to", "must be the start of the next quarter: a window is exactly one quarter")
	}
	return nil
}
