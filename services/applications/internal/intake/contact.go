package intake

import (
	"context"
	"fmt"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/record"
)

// ErrNoOpenVettingCase refuses a vetting contact point the contact of a
// candidate whose application has no vetting case in progress.
var ErrNoOpenVettingCase = fmt.Errorf("%w: a vetting contact point reads a candidate's contact only while the application's vetting case is open",
	auth.ErrPermissionDenied)

// CandidateContact returns the application whose candidate the caller may
// contact (the transport turns it into the candidate's name, email and
// phone, and the application's ids, region and role only):
//   - a SPOC: any application of its regions;
//   - a vetting contact point: an application of its regions while its
//     vetting case is open (VettingCaseOpen), ErrNoOpenVettingCase
//     otherwise, erased or not;
//   - the notifier, which is not regional, and an admin: any application.
//
// An application in another region is record.ErrNotFound, as a missing
// one is. Any other role is auth.ErrPermissionDenied (the transport
// refuses it first, before the request is validated).
func (s *Service) CandidateContact(ctx context.Context, caller auth.Claims, id string) (*Application, error) {
	var scope []string // every region
	switch caller.Role {
	case auth.RoleAdmin, auth.RoleNotifier:
	case auth.RoleSPOC, auth.RoleVetting:
		scope = record.Scope(caller)
	default:
		return nil, fmt.Errorf("%w: role %q may not read a candidate's contact", auth.ErrPermissionDenied, caller.Role)
	}
	a, err := s.store.Application(ctx, id, scope)
	if err != nil {
		return nil, err
	}
	if caller.Role == auth.RoleVetting && !a.VettingCaseOpen() {
		return nil, ErrNoOpenVettingCase
	}
	return a, nil
}
