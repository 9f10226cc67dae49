package vetting

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/probation-recruitment/pipeline/pkg/region"
)

// Defaults names, per region, the vetting contact points a new case is
// assigned to (VETTING_DEFAULT_ASSIGNEES); a region with none leaves new
// cases unassigned, owned by the region's contact points as a role.
type Defaults struct {
	byRegion map[string][]string
}

// ParseDefaults reads "london=a,b;wales=c": for each region, the subject
// ids of its vetting contact points. Empty is no defaults. An unknown
// region, a repeated one, or a subject that is not a staff subject id
// (an email address, say) is an error naming it.
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
			if err := CheckAssignee(name, subject); err != nil {
				return nil, fmt.Errorf("region %w", err)
			}
			subjects = append(subjects, subject)
		}
		d.byRegion[name] = subjects
	}
	return d, nil
}

// For returns who a new case of application in region is assigned to,
// or "" for none. The choice spreads a region's cases evenly over its
// contact points by application id rather than by a counter: every
// replica, and a redelivered offer.accepted, make the same choice with
// no shared state.
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
