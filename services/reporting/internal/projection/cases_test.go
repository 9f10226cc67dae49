package projection

import (
	"testing"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func TestClockRecord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		clock Clock
		want  Record
	}{
		{Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_SIFT, NextActor: ActorSPOC}, RecordSift},
		{Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_INTERVIEW, NextActor: ActorSPOC}, RecordSift},
		{Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_OFFER, NextActor: ActorSPOC}, RecordOffer},
		{Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, NextActor: ActorSPOC}, RecordOffer},
		{Clock{Kind: StuckStage, Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, NextActor: ActorVetting}, RecordVetting},
		{Clock{Kind: StuckVettingBlocked, Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, NextActor: ActorVetting}, RecordVetting},
		{Clock{Kind: StuckVettingBlocked, Stage: commonv1.Stage_STAGE_HIRED, NextActor: ActorVetting}, RecordVetting},
		{Clock{Kind: StuckVettingOverdue, Stage: commonv1.Stage_STAGE_HIRED, NextActor: ActorVetting}, RecordVetting},
	} {
		if got := tc.clock.Record(); got != tc.want {
			t.Errorf("%+v: record %d, want %d", tc.clock, got, tc.want)
		}
		if tc.clock.Record().Actor() != tc.clock.NextActor {
			t.Errorf("%+v: the record's actor is not the clock's next actor", tc.clock)
		}
	}
}

// Every clock Clocks gives names the assignee of the record Record says it is.
func TestClocksNameTheirRecordsAssignee(t *testing.T) {
	t.Parallel()
	at := func(d int) *time.Time { v := time.Date(2026, 5, d, 10, 0, 0, 0, time.UTC); return &v }
	owners := map[Record]string{RecordSift: "sift-owner", RecordOffer: "offer-owner", RecordVetting: "vetting-owner"}
	for name, a := range map[string]App{
		"sift":             {SubmittedAt: at(1)},
		"interview":        {SubmittedAt: at(1), SiftPassedAt: at(2)},
		"offer":            {SubmittedAt: at(1), SiftPassedAt: at(2), InterviewPassedAt: at(3)},
		"pre-employment":   {SubmittedAt: at(1), SiftPassedAt: at(2), InterviewPassedAt: at(3), OfferAcceptedAt: at(4)},
		"forms in":         {SubmittedAt: at(1), SiftPassedAt: at(2), InterviewPassedAt: at(3), OfferAcceptedAt: at(4), VettingFormsReceivedAt: at(5)},
		"blocked":          {SubmittedAt: at(1), SiftPassedAt: at(2), InterviewPassedAt: at(3), OfferAcceptedAt: at(4), VettingBlocked: true, BlockedSince: at(5)},
		"started, overdue": {SubmittedAt: at(1), SiftPassedAt: at(2), InterviewPassedAt: at(3), OfferAcceptedAt: at(4), StartedAt: at(6), SubjectToVetting: true, VettingDueBy: at(7), VettingBlocked: true, BlockedSince: at(5)},
	} {
		a.SiftAssignee, a.OfferAssignee, a.VettingAssignee = owners[RecordSift], owners[RecordOffer], owners[RecordVetting]
		clocks := a.Clocks(DefaultThresholds())
		if len(clocks) == 0 {
			t.Errorf("%s: no clocks", name)
		}
		for _, c := range clocks {
			if c.Assignee != owners[c.Record()] {
				t.Errorf("%s: clock %d in %s names %q, its record's owner is %q", name, c.Kind, c.Stage, c.Assignee, owners[c.Record()])
			}
		}
	}
}

func TestDueOf(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	clock := func(kind StuckKind, sinceDays, warn, breach int) Clock {
		s := start.AddDate(0, 0, sinceDays)
		return Clock{Kind: kind, Since: s, WarningAt: s.Add(days(warn)), BreachAt: s.Add(days(breach))}
	}
	stage, blocked := clock(StuckStage, 0, 10, 14), clock(StuckVettingBlocked, 5, 3, 5)
	asOf := func(d, h int) time.Time { return start.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour) }
	for _, tc := range []struct {
		name            string
		clocks          []Clock
		asOf            time.Time
		kind            StuckKind
		warning, breach bool
		overdue         int
		next            time.Time
	}{
		{"no clock", nil, asOf(3, 0), 0, false, false, 0, time.Time{}},
		{"before its warning", []Clock{stage}, asOf(3, 0), StuckStage, false, false, 0, stage.WarningAt},
		{"at its warning", []Clock{stage}, asOf(10, 0), StuckStage, true, false, 0, stage.BreachAt},
		{"in warning, a day and more over", []Clock{stage}, asOf(11, 5), StuckStage, true, false, 1, stage.BreachAt},
		{"in breach", []Clock{stage}, asOf(16, 23), StuckStage, true, true, 2, time.Time{}},
		{"the next threshold first", []Clock{stage, blocked}, asOf(6, 0), StuckVettingBlocked, false, false, 0, blocked.WarningAt},
		{"a breach before a warning", []Clock{stage, blocked}, asOf(12, 0), StuckVettingBlocked, true, true, 2, time.Time{}},
		{"the most days over", []Clock{stage, blocked}, asOf(20, 0), StuckVettingBlocked, true, true, 10, time.Time{}},
	} {
		d := DueOf(tc.clocks, tc.asOf)
		kind := StuckKind(0)
		if d.Clock != nil {
			kind = d.Clock.Kind
		}
		if kind != tc.kind || d.Warning != tc.warning || d.Breach != tc.breach || d.DaysOverdue != tc.overdue || !d.Next.Equal(tc.next) {
			t.Errorf("%s: kind %d warning %v breach %v overdue %d next %v, want %d %v %v %d %v", tc.name,
				kind, d.Warning, d.Breach, d.DaysOverdue, d.Next, tc.kind, tc.warning, tc.breach, tc.overdue, tc.next)
		}
	}
}
