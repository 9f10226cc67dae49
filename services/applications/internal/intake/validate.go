package intake

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// Limits on input, so nothing unbounded reaches the database.
const (
	MaxNameLen   = 200
	MaxEmailLen  = 254
	MaxTitleLen  = 200
	MaxPosts     = 10000
	minPhoneDigs = 7
	maxPhoneDigs = 20
)

var phoneChars = regexp.MustCompile(`^\+?[0-9 ()\-]+$`)

// ValidateCandidate checks a candidate's details; fields are named as in the
// request ("candidate.email").
func ValidateCandidate(c Candidate) error {
	if err := validate.Text("candidate.name", c.Name, MaxNameLen); err != nil {
		return err
	}
	if err := validate.Text("candidate.email", c.Email, MaxEmailLen); err != nil {
		return err
	}
	addr, err := mail.ParseAddress(c.Email)
	if err != nil || addr.Address != c.Email || !strings.Contains(addr.Address[strings.LastIndexByte(addr.Address, '@')+1:], ".") {
		return validate.Field("candidate.email", "must be a single email address like name@example.org")
	}
	if c.Phone != "" {
		digits := 0
		for _, r := range c.Phone {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if !phoneChars.MatchString(c.Phone) || digits < minPhoneDigs || digits > maxPhoneDigs {
			return validate.Field("candidate.phone", "must be 7-20 digits, optionally with spaces, +, -, ( and )")
		}
	}
	return nil
}

// CampaignDetails are the parts of a campaign an admin may set.
type CampaignDetails struct {
	Title string
	// Regions with their posts, the lead region first. An update may
	// leave it nil and give Posts alone, for a campaign in one region.
	Regions  []RegionPosts
	Posts    int
	OpensOn  time.Time
	ClosesOn *time.Time
}

func (d CampaignDetails) validate() error {
	if err := validate.Text("title", d.Title, MaxTitleLen); err != nil {
		return err
	}
	if d.Regions != nil {
		if err := validateRegions(d.Regions); err != nil {
			return err
		}
	} else if d.Posts < 1 || d.Posts > MaxPosts {
		return validate.Field("posts", "must be between 1 and "+strconv.Itoa(MaxPosts))
	}
	if d.OpensOn.IsZero() {
		return validate.Field("opens_on", "is required")
	}
	if d.ClosesOn != nil && d.ClosesOn.Before(d.OpensOn) {
		return validate.Field("closes_on", "must not be before opens_on")
	}
	return nil
}
