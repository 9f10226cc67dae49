package intake

import (
	"testing"
	"time"
)

func TestRetentionDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cut := DefaultRetention.Cutoff(now)
	day := 24 * time.Hour
	erasedAt := now.Add(-day)
	tests := []struct {
		name  string
		stage Stage
		ago   time.Duration
		erase bool
		want  bool
	}{
		{"rejected 183 days ago", StageRejected, 183 * day, false, true},
		{"rejected 183 days less a second ago", StageRejected, 183*day - time.Second, false, false},
		{"withdrawn 200 days ago", StageWithdrawn, 200 * day, false, true},
		{"withdrawn yesterday", StageWithdrawn, day, false, false},
		{"hired 730 days ago", StageHired, 730 * day, false, true},
		{"hired 729 days ago", StageHired, 729 * day, false, false},
		{"hired 300 days ago: the end's period does not apply", StageHired, 300 * day, false, false},
		{"in the sift for years", StageSift, 2000 * day, false, false},
		{"waiting to start for years", StagePreEmployment, 2000 * day, false, false},
		{"rejected long ago, erased already", StageRejected, 2000 * day, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &Application{Stage: tt.stage, StageEnteredAt: now.Add(-tt.ago)}
			if tt.erase {
				a.ErasedAt = &erasedAt
			}
			if got := cut.Due(a); got != tt.want {
				t.Errorf("Due = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEraseKeepsWhatReportsNeed(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	withdrawn := at.Add(-time.Hour)
	a := &Application{
		ID: "0190a000-0000-7000-8000-000000000001", CampaignID: "0190a000-0000-7000-8000-000000000002", Region: "wales",
		Role: RoleAdministrator, Candidate: Candidate{Name: "Ada", Email: "ada@example.org", Phone: "07700 900123"},
		Stage: StageWithdrawn, StageEnteredAt: withdrawn, Version: 3, SubmittedBy: "spoc-1", WithdrawnAt: &withdrawn,
		WithdrawReason: "candidate_request", ImportReference: "LEGACY-1",
	}
	before := *a
	ev := a.erase(nil, at, ErasureRequested)
	if a.Candidate != (Candidate{}) || !a.Erased() || *a.ErasedAt != at || a.ErasureReason != ErasureRequested || a.Version != 4 {
		t.Errorf("after erase: %+v", a)
	}
	a.Candidate, a.ErasedAt, a.ErasureReason, a.Version = before.Candidate, nil, "", before.Version
	if a.Stage != before.Stage || a.StageEnteredAt != before.StageEnteredAt || a.WithdrawnAt != before.WithdrawnAt ||
		a.WithdrawReason != before.WithdrawReason || a.ImportReference != before.ImportReference || a.SubmittedBy != before.SubmittedBy {
		t.Errorf("erase changed more than the candidate: %+v, was %+v", a, before)
	}
	if ev.GetApplicationErased().GetReasonCode() != ErasureRequested || ev.GetAggregateVersion() != 4 || ev.GetRegion() != "wales" ||
		ev.GetApplicationId() != before.ID {
		t.Errorf("event = %v", ev)
	}
}
