package event

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Record is the part of the envelope that says which record changed.
type Record struct {
	ApplicationID string
	CampaignID    string
	Region        string
	Role          commonv1.JobRole
	// Version of the record after the change.
	Version int64
}

// New returns an event with a fresh id and its envelope filled in; the
// caller sets Payload.
func New(producer string, actor *commonv1.Actor, at time.Time, r Record) *eventsv1.Event {
	return &eventsv1.Event{
		EventId: NewID(), ApplicationId: r.ApplicationID, Region: r.Region, CampaignId: r.CampaignID, Role: r.Role,
		OccurredAt: timestamppb.New(at), Actor: actor, Producer: producer, AggregateVersion: r.Version,
	}
}

var callerRoles = map[auth.Role]commonv1.CallerRole{
	auth.RoleSPOC:      commonv1.CallerRole_CALLER_ROLE_SPOC,
	auth.RoleVetting:   commonv1.CallerRole_CALLER_ROLE_VETTING,
	auth.RoleDashboard: commonv1.CallerRole_CALLER_ROLE_DASHBOARD,
	auth.RoleAdmin:     commonv1.CallerRole_CALLER_ROLE_ADMIN,
	auth.RoleApprover:  commonv1.CallerRole_CALLER_ROLE_APPROVER,
}

// Actor is the caller as recorded in events: subject and role, no name.
func Actor(c auth.Claims) *commonv1.Actor {
	return &commonv1.Actor{Subject: c.Subject, Role: callerRoles[c.Role]}
}

// SystemActor records a change a service made in reaction to an event.
func SystemActor(service string) *commonv1.Actor {
	return &commonv1.Actor{Subject: "system:" + service, Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM}
}

// Date converts a calendar date (midnight UTC) to the contract's Date.
func Date(t time.Time) *commonv1.Date {
	return &commonv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}

// DateTime converts the contract's Date to midnight UTC; nil is the zero time.
func DateTime(d *commonv1.Date) time.Time {
	if d == nil {
		return time.Time{}
	}
	return time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
}
