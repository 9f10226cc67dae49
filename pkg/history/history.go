// Package history is who changed a stage record, what they did and when,
// for GetCase/GetOffer-style calls. pkg/recordstore writes entries in the
// same transaction as the change.
package history

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Entry is one change to a record.
type Entry struct {
	// Event is the event name, e.g. "vetting.blocked".
	Event      string
	Actor      *commonv1.Actor
	OccurredAt time.Time
	// Version of the record after the change.
	Version    int64
	ReasonCode string
}

// Since returns the entries of all that are newer than version.
func Since(all []Entry, version int64) []Entry {
	for i, e := range all {
		if e.Version > version {
			return all[i:]
		}
	}
	return nil
}

// Proto converts entries for a response to viewer. Admins see who made
// each change (the actor's subject); everyone else sees the actor's role
// only, so a SPOC or vetting contact point learns that "a vetting contact
// point blocked the case", not which person did (least disclosure, see
// docs/security.md).
func Proto(entries []Entry, viewer auth.Role) []*commonv1.HistoryEntry {
	out := make([]*commonv1.HistoryEntry, len(entries))
	for i, e := range entries {
		actor := e.Actor
		if viewer != auth.RoleAdmin {
			actor = &commonv1.Actor{Role: e.Actor.GetRole()}
		}
		out[i] = &commonv1.HistoryEntry{
			Event: e.Event, Actor: actor, OccurredAt: timestamppb.New(e.OccurredAt), Version: e.Version, ReasonCode: e.ReasonCode,
		}
	}
	return out
}
