package equalitytable_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/equalitytable"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
)

// A suppressed figure reads [c], never 0; a transition sits on the row of
// the stage it leaves; the last rows are the stage totals.
func TestRows(t *testing.T) {
	t.Parallel()
	stages := []commonv1.Stage{commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW}
	r := &equalityv1.GetEqualityFunnelResponse{
		Stages: stages, Shown: true,
		Rows: []*equalityv1.CategoryRow{
			{Category: "black", Reached: []*equalityv1.Count{{Value: 60}, {Value: 15}},
				Transitions:       []*equalityv1.Transition{{Conversion: &equalityv1.Measure{Value: 0.25}, ImpactRatio: &equalityv1.Measure{Value: 0.5}, Flagged: true}},
				MedianDaysInStage: []*equalityv1.Measure{{Value: 4}, {Suppressed: true}}, MedianDaysVettingBlocked: &equalityv1.Measure{Suppressed: true}},
			{Category: "mixed", Reached: []*equalityv1.Count{{Suppressed: true}, {Suppressed: true}},
				Transitions:       []*equalityv1.Transition{{Conversion: &equalityv1.Measure{Suppressed: true}, ImpactRatio: &equalityv1.Measure{Suppressed: true}}},
				MedianDaysInStage: []*equalityv1.Measure{{Suppressed: true}, {Suppressed: true}}},
		},
		StageTotals: []*equalityv1.Count{{Value: 265}, {Value: 115}},
		Policy:      &equalityv1.DisclosurePolicy{Threshold: 10, RoundBase: 5, MinDeclarationRate: 0.6},
	}
	want := [][]string{
		{"black", "sift", "60", "0.25", "0.50", "yes", "4.00", ""},
		{"black", "interview", "15", "", "", "", "[c]", ""},
		{"mixed", "sift", "[c]", "[c]", "[c]", "no", "[c]", ""},
		{"mixed", "interview", "[c]", "", "", "", "[c]", ""},
		{"all", "sift", "265", "", "", "", "", ""},
		{"all", "interview", "115", "", "", "", "", ""},
	}
	if got := equalitytable.Rows(r); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows\n%v\nwant\n%v", got, want)
	}
	notes := strings.Join(equalitytable.Notes(r), "\n")
	if !strings.Contains(notes, "below 10") || !strings.Contains(notes, "nearest 5") || !strings.Contains(notes, "60%") {
		t.Errorf("notes %q do not state the policy", notes)
	}
}
