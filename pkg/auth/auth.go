// Package auth authenticates callers by a signed bearer JWT and decides what
// they may touch (docs/design.md §6): a role, and the regions the caller may see.
//
// Services verify tokens once, in the gRPC interceptors of pkg/grpcauth (this
// package knows nothing of gRPC, so domain packages can use it), and each
// handler then calls Require with the roles and region the operation needs.
// The sentinel errors are mapped to gRPC codes by each service's own error
// mapping, so a handler can return Require's error unchanged.
package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// Role is what a caller does in the pipeline; it decides which operations the
// caller may perform.
type Role string

// The roles of docs/design.md §6, and the notifier service's.
const (
	RoleSPOC      Role = "spoc"
	RoleVetting   Role = "vetting"
	RoleDashboard Role = "dashboard"
	RoleAdmin     Role = "admin"
	// RoleNotifier is the notifier service's identity, not a person's: it
	// may call only applications' GetCandidateContact, to address a message
	// by the candidate's name, and it is not regional (a token of this role
	// names no regions; docs/security.md).
	RoleNotifier Role = "notifier"
	// RoleEquality reads the equality monitoring reports (issue 17) of the
	// regions its token lists — all twelve for a national report — and
	// nothing else: no candidate, no other report.
	RoleEquality Role = "equality"
	// RoleApprover approves a start before vetting clears
	// (ApproveEarlyStart in offers) in its regions; a SPOC, who asks for
	// the start, cannot approve it.
	RoleApprover Role = "approver"
)

// Valid reports whether r is one of the roles; a token with any other
// role is rejected rather than treated as having no rights, so a typo in an
// issuer shows up at once.
func (r Role) Valid() bool {
	switch r {
	case RoleSPOC, RoleVetting, RoleDashboard, RoleAdmin, RoleNotifier, RoleEquality, RoleApprover:
		return true
	}
	return false
}

// Regional reports whether a caller of role r sees only the regions its
// token lists: every role but admin (which sees all) and the notifier
// (which names none and is granted one call whatever the region).
func (r Role) Regional() bool { return r != RoleAdmin && r != RoleNotifier }

// Claims is the verified identity of a caller.
type Claims struct {
	Subject   string
	Role      Role
	Regions   []string
	ExpiresAt time.Time
}

// CanAccessRegion reports whether the caller may see region. An admin sees
// every region whatever its token lists.
func (c Claims) CanAccessRegion(region string) bool {
	if c.Role == RoleAdmin {
		return true
	}
	return slices.Contains(c.Regions, region)
}

// ErrUnauthenticated means the caller could not be identified: no token, or a
// token that failed verification. Errors wrap it with the reason.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrPermissionDenied means the caller is known but its role or regions do not
// allow the operation. Errors wrap it with the reason.
var ErrPermissionDenied = errors.New("permission denied")

type claimsKey struct{}

// WithClaims returns a context carrying c, as the server interceptors do after
// verifying a token; tests use it to call handlers directly.
func WithClaims(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims put in ctx by WithClaims, and whether there
// were any.
func FromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// Require is the access check handlers call before doing anything: the caller
// must hold one of roles (an admin always passes) and, when region is not
// empty, be allowed to see region. It returns the caller's claims so the
// handler can record who made a change.
//
// Calling Require with no roles admits only admins: forgetting to list roles
// fails closed.
func Require(ctx context.Context, region string, roles ...Role) (Claims, error) {
	c, ok := FromContext(ctx)
	if !ok {
		return Claims{}, fmt.Errorf("%w: no caller identity in request", ErrUnauthenticated)
	}
	if c.Role != RoleAdmin && !slices.Contains(roles, c.Role) {
		return Claims{}, fmt.Errorf("%w: role %q may not perform this operation", ErrPermissionDenied, c.Role)
	}
	if region != "" {
		if err := c.RequireRegion(region); err != nil {
			return Claims{}, err
		}
	}
	return c, nil
}

// RequireRegion is ErrPermissionDenied, naming the region, unless the
// caller may see region: the one region check every service makes.
func (c Claims) RequireRegion(region string) error {
	if !c.CanAccessRegion(region) {
		return fmt.Errorf("%w: caller may not access region %q", ErrPermissionDenied, region)
	}
	return nil
}

// VisibleRegions returns the regions a list call covers: the requested
// region, if the caller may see it, or else every region the caller may see.
func VisibleRegions(c Claims, requested string) ([]string, error) {
	if requested != "" {
		if err := validate.Region("region", requested); err != nil {
			return nil, err
		}
		if err := c.RequireRegion(requested); err != nil {
			return nil, err
		}
		return []string{requested}, nil
	}
	if c.Role == RoleAdmin {
		return region.All, nil
	}
	return c.Regions, nil
}
