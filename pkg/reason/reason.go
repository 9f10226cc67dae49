// Package reason holds the fixed lists of reason codes a person records
// when an application leaves the pipeline (a candidate's withdrawal, an
// offer declined, a sift or interview failed), and the fixed list of the
// sources an application comes from, so that every service checks them
// alike and reports can count them (docs/design.md, "Reasons and
// sources").
//
// Each list ends with "other": a reason the list lacks is recorded as
// "other:<code>" (e.g. "other:moved_abroad"), a lower-case code of the
// caller's choosing, so it can still be counted apart. Codes recorded
// before the lists existed were free-form; Normalize reads such a code as
// "other:<code>", so old records and events keep reading and counting.
package reason

import (
	"regexp"
	"strings"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// Other is the code of the "other" entry of every list; "other:<code>"
// adds the caller's own short code.
const Other = "other"

// List is one fixed list of codes.
type List struct {
	// Name says what the codes are, in errors: e.g. "withdrawal reason".
	Name  string
	codes []string
	known map[string]bool
}

func newList(name string, codes ...string) *List {
	l := &List{Name: name, codes: append(codes, Other), known: map[string]bool{}}
	for _, c := range l.codes {
		l.known[c] = true
	}
	return l
}

// The lists. Changing a list is a change of docs/design.md ("Reasons and
// sources") too; removing a code turns its old records into
// "other:<code>" in reports.
var (
	// Withdrawal: why a candidate withdrew their application
	// (WithdrawApplication, import withdraw_reason).
	Withdrawal = newList("withdrawal reason",
		"accepted_other_job",     // took another job
		"candidate_request",      // asked to withdraw, no reason given
		"personal_circumstances", // health, family, caring
		"relocation",             // moving away from the region
		"salary",                 // pay too low
		"working_pattern",        // hours, shifts, part time
		"location",               // the office or travel
		"role_not_suitable",      // the job is not what they want
		"process_too_long",       // gave up waiting
		"no_response",            // stopped answering
		"duplicate_application",  // applied twice
	)
	// Decline: why a candidate declined a conditional offer (DeclineOffer,
	// import decline_reason).
	Decline = newList("decline reason",
		"accepted_other_offer",
		"salary",
		"working_pattern",
		"location",
		"start_date",
		"personal_circumstances",
		"role_not_suitable",
		"process_too_long",
		"no_reason_given",
	)
	// SiftFail: why an application failed the sift (RecordSiftDecision and
	// its batch, import sift_reason).
	SiftFail = newList("sift fail reason",
		"insufficient_evidence", // the answers do not show the criteria
		"criteria_not_met",      // essential criteria (experience, qualification) missing
		"not_eligible",          // nationality, right to work, residency
		"incomplete_application",
		"late_application",
		"duplicate_application",
	)
	// InterviewFail: why a candidate failed the interview
	// (RecordInterviewOutcome, import interview_reason).
	InterviewFail = newList("interview fail reason",
		"below_interview_standard", // scored below the bar overall
		"behaviours_not_demonstrated",
		"values_not_demonstrated",
		"skills_not_demonstrated",
		"failed_assessment", // a written or practical exercise
		"did_not_attend",
	)
	// Source: where an application came from (SubmitApplication, import
	// source). Unlike the reasons, a source may be left out: it is then
	// "unknown" in reports.
	Source = newList("application source",
		"jobs_site",    // a jobs board or the service's own vacancies site
		"social_media", // e.g. a post or advert on a social network
		"referral",     // an employee referred them
		"job_centre",
		"university", // a careers service or fair
		"agency",     // a recruitment agency
		"internal",   // already works for the service
	)
)

// Unknown is what reports call an application with no source recorded.
const Unknown = "unknown"

// own is the caller's code after "other:"; the same shape as every
// free-form reason code had before the lists (validate.ReasonCode).
var own = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// Codes are the list's codes, "other" last.
func (l *List) Codes() []string { return append([]string(nil), l.codes...) }

// Valid reports whether code is on the list, or "other:<code>".
func (l *List) Valid(code string) bool {
	if l.known[code] {
		return true
	}
	rest, ok := strings.CutPrefix(code, Other+":")
	return ok && own.MatchString(rest)
}

// Check is Valid as a field error naming the field and listing the
// accepted codes; an empty code is "is required".
func (l *List) Check(field, code string) error {
	switch {
	case code == "":
		return validate.Field(field, "is required: one of "+l.accepted())
	case !l.Valid(code):
		return validate.Field(field, "must be one of "+l.accepted())
	}
	return nil
}

// Accepted lists the accepted codes, for an error message.
func (l *List) Accepted() string { return l.accepted() }

func (l *List) accepted() string {
	return strings.Join(l.codes[:len(l.codes)-1], ", ") + ", or other:<code> (a lower-case code of 2-63 letters, digits and _, e.g. other:moved_abroad)"
}

// Normalize reads a recorded code for counting: a code on the list, or
// "other:<code>", as it is; a bare "other" as it is; a code recorded
// before the list existed (or removed from it since) as "other:<code>";
// an empty code as empty.
func (l *List) Normalize(code string) string {
	if code == "" || l.Valid(code) {
		return code
	}
	return Other + ":" + code
}
