// Package assign is what every stage record's named owner shares
// (docs/design.md, "Named owners"): the check of an assignee (a staff
// subject id, never an email address), the default owners of each region
// (<SERVICE>_DEFAULT_ASSIGNEES) spread over new records by application id,
// the change that names or removes a record's owner, and a caller's own
// work list, a page at a time.
//
// A stage record keeps its owner next to its record.Header; the service
// says which of its states are open (only an open record takes an owner)
// and sets the payload of the event the change returns, which is its own.
package assign

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Check refuses an assignee that is not a staff subject id as tokens
// carry it: an email address, a name or free text would put personal data
// in events, and a service's reserved subject owns no work. field names
// the assignee in the error.
func Check(field, assignee string) error {
	switch {
	case assignee == "":
		return validate.Field(field, "is required: a staff subject id as the sign-in token carries it")
	case strings.Contains(assignee, "@"):
		return validate.Field(field, "must be a staff subject id, not an email address")
	case strings.HasPrefix(strings.ToLower(assignee), auth.SystemPrefix):
		return validate.Field(field, "must be a staff subject id, not a service's")
	case !auth.WellFormedSubject(assignee):
		return validate.Field(field, "must be a staff subject id (letters, digits and ._+=:/|- only, at most 255)")
	}
	return nil
}

// Assign names the owner of the record h, whose owner is *owner: the
// assignee must be a staff subject id, the caller must have read the
// record's version, the record must be in one of the open states, and
// naming its current owner again is refused (nothing would change). It
// returns the envelope of the event named name (the caller sets the
// payload) and the previous owner ("" for none).
func Assign[S record.State](h *record.Header[S], owner *string, producer string, ch record.Change, assignee, name string, open ...S) (*eventsv1.Event, string, error) {
	if err := Check("assignee", assignee); err != nil {
		return nil, "", err
	}
	if err := h.Begin(ch, "assign", open...); err != nil {
		return nil, "", err
	}
	if *owner == assignee {
		return nil, "", record.Refused(h.State, "assign").Because("it is already assigned to " + assignee)
	}
	previous := *owner
	*owner = assignee
	return h.Move(producer, ch, h.State, name, ""), previous, nil
}

// Unassign removes the owner of the record h: it must be open and have
// one. It returns the envelope of the event named name and the owner
// removed.
func Unassign[S record.State](h *record.Header[S], owner *string, producer string, ch record.Change, name string, open ...S) (*eventsv1.Event, string, error) {
	if err := h.Begin(ch, "unassign", open...); err != nil {
		return nil, "", err
	}
	if *owner == "" {
		return nil, "", record.Refused(h.State, "unassign").Because("it has no assignee")
	}
	previous := *owner
	*owner = ""
	return h.Move(producer, ch, h.State, name, ""), previous, nil
}

// Defaults names, per region, the staff a new record is assigned to; a
// region with none leaves new records unassigned, owned by the region's
// role for the stage.
type Defaults struct {
	byRegion map[string][]string
}

// ParseDefaults reads "london=a,b;wales=c": for each region, the subject
// ids of its default owners. Empty is no defaults. An unknown region, a
// repeated one, or a subject that is not a staff subject id (an email
// address, say) is an error naming it.
func ParseDefaults(s string) (*Defaults, error) {
	d := &Defaults{byRegion: map[string][]string{}}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, list, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("%q: want region=subject,subject", part)
		}
		if !region.Valid(name) {
			return nil, fmt.Errorf("%q: unknown region", name)
		}
		if _, seen := d.byRegion[name]; seen {
			return nil, fmt.Errorf("%q: region given twice", name)
		}
		var subjects []string
		for subject := range strings.SplitSeq(list, ",") {
			subject = strings.TrimSpace(subject)
			if err := Check(name, subject); err != nil {
				return nil, fmt.Errorf("region %w", err)
			}
			subjects = append(subjects, subject)
		}
		d.byRegion[name] = subjects
	}
	return d, nil
}

// For returns who a new record of application in region is assigned to,
// or "" for none. The choice spreads a region's records evenly over its
// default owners by application id rather than by a counter: every
// replica, and a redelivered event, make the same choice with no shared
// state.
func (d *Defaults) For(region, applicationID string) string {
	if d == nil {
		return ""
	}
	subjects := d.byRegion[region]
	if len(subjects) == 0 {
		return ""
	}
	h := fnv.New32a()
	h.Write([]byte(applicationID))
	return subjects[h.Sum32()%uint32(len(subjects))]
}

// Filter selects a page of one assignee's open records, oldest in their
// stage first.
type Filter struct {
	Assignee string
	// Regions limits the list (nil: every region).
	Regions []string
	After   pagetoken.Key
	Limit   int
}

// Page reads one page of caller's own work list with list: the records
// assigned to the caller's subject in the caller's current regions (a
// record assigned while the caller covered a region they no longer do is
// not theirs to read), ordered by key (the time the record entered its
// stage, then its id). The page token is bound to the caller: another
// caller's token is refused as invalid.
func Page[R any](ctx context.Context, caller auth.Claims, size int32, token string,
	list func(context.Context, Filter) ([]R, error), key func(R) pagetoken.Key) ([]R, string, error) {
	limit, after, err := pagetoken.PageByKey(size, token, "mine", caller.Subject)
	if err != nil {
		return nil, "", err
	}
	rows, err := list(ctx, Filter{Assignee: caller.Subject, Regions: record.Scope(caller), After: after, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	rows, next := pagetoken.Next(rows, limit, func(r R) string { return key(r).String() }, "mine", caller.Subject)
	return rows, next, nil
}
