package history

import (
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func TestSinceAndProto(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	spoc := &commonv1.Actor{Subject: "spoc-1", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
	all := []Entry{
		{Event: "vetting.opened", Actor: spoc, OccurredAt: at, Version: 1},
		{Event: "vetting.blocked", Actor: spoc, OccurredAt: at.Add(time.Hour), Version: 2, ReasonCode: "missing_documents"},
		{Event: "vetting.unblocked", Actor: spoc, OccurredAt: at.Add(2 * time.Hour), Version: 3},
	}
	if got := Since(all, 1); len(got) != 2 || got[0].Version != 2 {
		t.Errorf("Since(1) = %+v, want versions 2 and 3", got)
	}
	if Since(all, 3) != nil || len(Since(all, 0)) != 3 {
		t.Error("Since(latest) must be empty and Since(0) everything")
	}
	p := Proto(all, auth.RoleAdmin)
	if len(p) != 3 || p[1].GetVersion() != 2 || p[1].GetReasonCode() != "missing_documents" ||
		p[1].GetActor().GetSubject() != "spoc-1" || !p[2].GetOccurredAt().AsTime().Equal(at.Add(2*time.Hour)) {
		t.Errorf("Proto = %v", p)
	}
}

// TestProtoShowsSubjectsToAdminsOnly: every other role sees who acted by
// role alone.
func TestProtoShowsSubjectsToAdminsOnly(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	all := []Entry{
		{Event: "vetting.opened", Actor: &commonv1.Actor{Subject: "system:vetting", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM}, OccurredAt: at, Version: 1},
		{Event: "vetting.blocked", Actor: &commonv1.Actor{Subject: "vet-7", Role: commonv1.CallerRole_CALLER_ROLE_VETTING}, OccurredAt: at, Version: 2},
	}
	for _, viewer := range []auth.Role{auth.RoleSPOC, auth.RoleVetting, auth.RoleDashboard, auth.RoleAdmin} {
		p := Proto(all, viewer)
		for i, e := range p {
			wantSubject := ""
			if viewer == auth.RoleAdmin {
				wantSubject = all[i].Actor.GetSubject()
			}
			if e.GetActor().GetSubject() != wantSubject || e.GetActor().GetRole() != all[i].Actor.GetRole() {
				t.Errorf("%s sees actor %v of entry %d, want subject %q and role %v", viewer, e.GetActor(), i, wantSubject, all[i].Actor.GetRole())
			}
		}
	}
	if all[1].Actor.GetSubject() != "vet-7" {
		t.Error("Proto changed the entries it was given")
	}
}
