package projection

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Level is how far a stuck clock has gone: past its warning, past its
// breach.
type Level int

// Levels, in order.
const (
	LevelNone    Level = 0
	LevelWarning Level = 1
	LevelBreach  Level = 2
)

// Alert is what has been announced of one application's clock of one rule:
// the clock it follows (Generation counts its starts, so a clock stopped
// and started again is a new one), and the highest level announced.
type Alert struct {
	Generation int64
	// Running is false once the clock has stopped (or before it started).
	Running bool
	Stage   commonv1.Stage
	Since   time.Time
	Level   Level
	// SettlesAt is set while a crossing reached is held back (an
	// imported history still arriving): until then the crossing is not
	// announced, and Level stays what was announced.
	SettlesAt *time.Time
}

// Announcement is a stuck event to publish: a clock crossed a level, or
// stopped after crossing its warning (Resolved).
type Announcement struct {
	Level    Level
	Resolved bool
	// At is when it happened: the threshold's moment for a crossing, the
	// moment the clock stopped for a resolution.
	At         time.Time
	Clock      Clock
	Generation int64
}

// ThresholdDays is the threshold of level on c, in days from its start.
func (c Clock) ThresholdDays(l Level) int {
	at := c.WarningAt
	if l == LevelBreach {
		at = c.BreachAt
	}
	return int(at.Sub(c.Since) / (24 * time.Hour))
}

// LevelAt is the level c has reached at now.
func (c Clock) LevelAt(now time.Time) Level {
	switch {
	case !now.Before(c.BreachAt):
		return LevelBreach
	case !now.Before(c.WarningAt):
		return LevelWarning
	}
	return LevelNone
}

// same reports whether clk is the clock prev follows: the same start and,
// for time in stage, the same stage (a blocked case's clock runs on when
// the candidate starts subject to vetting).
func (prev Alert) same(clk Clock) bool {
	return prev.Running && prev.Since.Equal(clk.Since) && (clk.Kind != StuckStage || prev.Stage == clk.Stage)
}

// Advance moves an alert to the clock's state at now. prevClock is the
// clock prev followed as the record last derived it (nil if unknown); clk
// is the clock running now (nil if none). A clock that stopped, or was
// replaced by another (a new stage, a rebooked interview, a new block),
// is resolved if it had crossed its warning, at stoppedAt. A running clock
// announces the highest level it has reached beyond what was announced:
// one event, even when a late event or a lowered threshold passes both
// levels at once (a warning already overtaken by a breach tells nobody
// anything). Levels announced stay announced: a raised threshold retracts
// nothing. Due is the next crossing's moment, nil when none is pending.
//
// A crossing reached when settle is after now, or while the alert already
// settles, is held instead of announced: the alert keeps its level, and is
// due when the hold ends (the later of the two), when the clock is judged
// again — announced if it is still past the threshold, forgotten if it
// stopped meanwhile (a stopped clock resolves only what was announced).
// The zero settle holds nothing new.
func Advance(prev Alert, prevClock, clk *Clock, now, stoppedAt, settle time.Time) (next Alert, out []Announcement, due *time.Time) {
	next = prev
	if prev.Running && (clk == nil || !prev.same(*clk)) {
		if prev.Level > LevelNone {
			// The caller knows the rule; the record no longer has the clock.
			c := Clock{Stage: prev.Stage, Since: prev.Since}
			if prevClock != nil {
				c = *prevClock
			}
			out = append(out, Announcement{Level: prev.Level, Resolved: true, At: stoppedAt, Clock: c, Generation: prev.Generation})
		}
		next = Alert{Generation: prev.Generation}
	}
	if clk == nil {
		return next, out, nil
	}
	if !next.Running {
		next = Alert{Generation: next.Generation + 1, Running: true, Stage: clk.Stage, Since: clk.Since}
	}
	next.Stage = clk.Stage // a blocked case's clock runs on into HIRED
	if reached := clk.LevelAt(now); reached > next.Level {
		hold := next.SettlesAt
		if settle.After(now) && (hold == nil || settle.After(*hold)) {
			hold = &settle
		}
		if hold != nil && now.Before(*hold) {
			next.SettlesAt = hold
			return next, out, hold
		}
		at := clk.WarningAt
		if reached == LevelBreach {
			at = clk.BreachAt
		}
		out = append(out, Announcement{Level: reached, At: at, Clock: *clk, Generation: next.Generation})
		next.Level = reached
	}
	next.SettlesAt = nil
	switch next.Level {
	case LevelNone:
		due = &clk.WarningAt
	case LevelWarning:
		due = &clk.BreachAt
	}
	return next, out, due
}
