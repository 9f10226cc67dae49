package projection

import (
	"testing"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// TestAdvance: which stuck events a clock's change announces, and its next
// crossing.
func TestAdvance(t *testing.T) {
	t.Parallel()
	day := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(24*time.Hour))) }
	sift := func(since float64) *Clock {
		return &Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_SIFT, Since: day(since), WarningAt: day(since + 10), BreachAt: day(since + 14)}
	}
	interview := &Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_INTERVIEW, Since: day(12), WarningAt: day(26), BreachAt: day(33)}
	running := func(level Level) Alert {
		return Alert{Generation: 1, Running: true, Stage: commonv1.Stage_STAGE_SIFT, Since: day(0), Level: level}
	}
	type ann struct {
		level    Level
		resolved bool
		at       time.Time
	}
	tests := []struct {
		name      string
		prev      Alert
		prevClock *Clock
		clk       *Clock
		now       float64
		want      []ann
		wantNext  Alert
		wantDue   *time.Time
	}{
		{"a new clock, before its warning: nothing, warning pending", Alert{}, nil, sift(0), 1,
			nil, running(LevelNone), &sift(0).WarningAt},
		{"its warning passes", running(LevelNone), sift(0), sift(0), 10,
			[]ann{{LevelWarning, false, day(10)}}, running(LevelWarning), &sift(0).BreachAt},
		{"announced already: nothing again", running(LevelWarning), sift(0), sift(0), 12,
			nil, running(LevelWarning), &sift(0).BreachAt},
		{"both passed at once: the breach alone", running(LevelNone), sift(0), sift(0), 20,
			[]ann{{LevelBreach, false, day(14)}}, running(LevelBreach), nil},
		{"stopped after its warning: resolved when it stopped", running(LevelWarning), sift(0), nil, 12,
			[]ann{{LevelWarning, true, day(11)}}, Alert{Generation: 1}, nil},
		{"stopped before its warning: nothing", running(LevelNone), sift(0), nil, 12,
			nil, Alert{Generation: 1}, nil},
		{"replaced by the next stage's clock: resolved, and a new generation", running(LevelBreach), sift(0), interview, 15,
			[]ann{{LevelBreach, true, day(11)}},
			Alert{Generation: 2, Running: true, Stage: commonv1.Stage_STAGE_INTERVIEW, Since: day(12)}, &interview.WarningAt},
		{"started again after stopping: a new generation", Alert{Generation: 1}, nil, sift(5), 6,
			nil, Alert{Generation: 2, Running: true, Stage: commonv1.Stage_STAGE_SIFT, Since: day(5)}, &sift(5).WarningAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, anns, due := Advance(tt.prev, tt.prevClock, tt.clk, day(tt.now), day(11), time.Time{})
			var got []ann
			for _, a := range anns {
				got = append(got, ann{a.Level, a.Resolved, a.At})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("announced %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].level != tt.want[i].level || got[i].resolved != tt.want[i].resolved || !got[i].at.Equal(tt.want[i].at) {
					t.Errorf("announcement %d: %v, want %v", i, got[i], tt.want[i])
				}
			}
			if next != tt.wantNext {
				t.Errorf("next %+v, want %+v", next, tt.wantNext)
			}
			if (due == nil) != (tt.wantDue == nil) || due != nil && !due.Equal(*tt.wantDue) {
				t.Errorf("due %v, want %v", due, tt.wantDue)
			}
		})
	}
}

// TestAdvanceSettles: a crossing found while an imported history arrives
// is held until the history has settled, then announced if the clock is
// still past its threshold; a clock stopped meanwhile announces nothing,
// not even its resolution.
func TestAdvanceSettles(t *testing.T) {
	t.Parallel()
	day := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(24*time.Hour))) }
	sift := &Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_SIFT, Since: day(0), WarningAt: day(10), BreachAt: day(14)}
	interview := &Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_INTERVIEW, Since: day(30), WarningAt: day(44), BreachAt: day(51)}
	settled, later := day(60), day(61)
	held := func(at time.Time) Alert {
		return Alert{Generation: 1, Running: true, Stage: commonv1.Stage_STAGE_SIFT, Since: day(0), SettlesAt: &at}
	}
	tests := []struct {
		name      string
		prev      Alert
		clk       *Clock
		now       time.Time
		settle    time.Time
		wantLevel []Level
		wantNext  Alert
		wantDue   *time.Time
	}{
		{"a past breach learned from an import: held until it settles", Alert{}, sift, day(59), settled,
			nil, held(settled), &settled},
		{"learned again before it settles: held for longer", held(settled), sift, day(59.5), later,
			nil, held(later), &later},
		{"judged again before it settles, with no hold of its own: still held", held(settled), sift, day(59.5), time.Time{},
			nil, held(settled), &settled},
		{"settled and still stuck: the breach, once", held(settled), sift, settled, time.Time{},
			[]Level{LevelBreach}, Alert{Generation: 1, Running: true, Stage: commonv1.Stage_STAGE_SIFT, Since: day(0), Level: LevelBreach}, nil},
		{"stopped before it settled: nothing, not even resolved", held(settled), nil, day(59.5), later,
			nil, Alert{Generation: 1}, nil},
		{"replaced before it settled: the next clock's crossing held in turn", held(settled), interview, day(59.5), later,
			nil, Alert{Generation: 2, Running: true, Stage: commonv1.Stage_STAGE_INTERVIEW, Since: day(30), SettlesAt: &later}, &later},
		{"nothing crossed: no hold", Alert{}, &Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_SIFT, Since: day(55), WarningAt: day(65), BreachAt: day(69)}, day(59), settled,
			nil, Alert{Generation: 1, Running: true, Stage: commonv1.Stage_STAGE_SIFT, Since: day(55)}, ptr(day(65))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, anns, due := Advance(tt.prev, sift, tt.clk, tt.now, tt.now, tt.settle)
			var got []Level
			for _, a := range anns {
				if a.Resolved {
					t.Errorf("resolved %v: nothing was announced", a.Level)
				}
				got = append(got, a.Level)
			}
			if len(got) != len(tt.wantLevel) || len(got) == 1 && got[0] != tt.wantLevel[0] {
				t.Errorf("announced %v, want %v", got, tt.wantLevel)
			}
			if (next.SettlesAt == nil) != (tt.wantNext.SettlesAt == nil) || next.SettlesAt != nil && !next.SettlesAt.Equal(*tt.wantNext.SettlesAt) {
				t.Errorf("settles at %v, want %v", next.SettlesAt, tt.wantNext.SettlesAt)
			}
			next.SettlesAt, tt.wantNext.SettlesAt = nil, nil
			if next != tt.wantNext {
				t.Errorf("next %+v, want %+v", next, tt.wantNext)
			}
			if (due == nil) != (tt.wantDue == nil) || due != nil && !due.Equal(*tt.wantDue) {
				t.Errorf("due %v, want %v", due, tt.wantDue)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
