package vetting

import (
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/auth"
)

func TestMayReadNote(t *testing.T) {
	t.Parallel()
	for role, want := range map[auth.Role]bool{
		auth.RoleVetting: true, auth.RoleAdmin: true, auth.RoleSPOC: false, auth.RoleDashboard: false, "": false,
	} {
		if got := MayReadNote(role); got != want {
			t.Errorf("MayReadNote(%q) = %v, want %v", role, got, want)
		}
	}
}
