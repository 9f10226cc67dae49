package web

import (
	"strconv"
	"strings"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// regionNames are the regions as people write them; the codes are docs/design.md §2's.
var regionNames = map[string]string{
	"north-east":         "North East",
	"north-west":         "North West",
	"yorkshire-humber":   "Yorkshire and the Humber",
	"greater-manchester": "Greater Manchester",
	"east-midlands":      "East Midlands",
	"west-midlands":      "West Midlands",
	"east-of-england":    "East of England",
	"london":             "London",
	"kent-surrey-sussex": "Kent, Surrey and Sussex",
	"south-central":      "South Central",
	"south-west":         "South West",
	"wales":              "Wales",
}

func regionName(code string) string {
	if n, ok := regionNames[code]; ok {
		return n
	}
	return code
}

// pipelineStages are the stages a candidate moves through, in order; the
// overview and the funnel show these.
var pipelineStages = []commonv1.Stage{
	commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER,
	commonv1.Stage_STAGE_PRE_EMPLOYMENT, commonv1.Stage_STAGE_HIRED,
}

// allStages adds the two ends a candidate can leave the pipeline by.
var allStages = append(append([]commonv1.Stage{}, pipelineStages...),
	commonv1.Stage_STAGE_REJECTED, commonv1.Stage_STAGE_WITHDRAWN)

var stageNames = map[commonv1.Stage]string{
	commonv1.Stage_STAGE_SIFT:           "Sift",
	commonv1.Stage_STAGE_INTERVIEW:      "Interview",
	commonv1.Stage_STAGE_OFFER:          "Offer",
	commonv1.Stage_STAGE_PRE_EMPLOYMENT: "Pre-employment checks",
	commonv1.Stage_STAGE_HIRED:          "Hired",
	commonv1.Stage_STAGE_REJECTED:       "Rejected",
	commonv1.Stage_STAGE_WITHDRAWN:      "Withdrawn",
}

func stageName(s commonv1.Stage) string {
	if n, ok := stageNames[s]; ok {
		return n
	}
	return "Unknown"
}

// stageCode is the stage as it appears in links: "sift", "pre-employment".
func stageCode(s commonv1.Stage) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.String(), "STAGE_")), "_", "-")
}

// stuckStages are the stages the stuck list can be filtered by.
var stuckStages = pipelineStages

// parseStage reads a stage code from a link; ok is false for anything but
// a stage the stuck list can be filtered by ("" is no filter).
func parseStage(code string) (commonv1.Stage, bool) {
	if code == "" {
		return commonv1.Stage_STAGE_UNSPECIFIED, true
	}
	for _, s := range stuckStages {
		if stageCode(s) == code {
			return s, true
		}
	}
	return 0, false
}

var severities = []pb.Severity{pb.Severity_SEVERITY_WARNING, pb.Severity_SEVERITY_BREACH}

// severityOnly labels the severity filter's choices (a plural is not the
// name and an "s": "Breaches", not "Breachs").
var severityOnly = map[pb.Severity]string{
	pb.Severity_SEVERITY_WARNING: "Warnings only",
	pb.Severity_SEVERITY_BREACH:  "Breaches only",
}

func severityName(s pb.Severity) string {
	switch s {
	case pb.Severity_SEVERITY_WARNING:
		return "Warning"
	case pb.Severity_SEVERITY_BREACH:
		return "Breach"
	}
	return "Unknown"
}

func severityCode(s pb.Severity) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SEVERITY_"))
}

func parseSeverity(code string) (pb.Severity, bool) {
	if code == "" {
		return pb.Severity_SEVERITY_UNSPECIFIED, true
	}
	for _, s := range severities {
		if severityCode(s) == code {
			return s, true
		}
	}
	return 0, false
}

var roleNames = map[commonv1.JobRole]string{
	commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER:          "Probation officer",
	commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER: "Probation services officer",
	commonv1.JobRole_JOB_ROLE_ADMINISTRATOR:              "Administrator",
	commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR:             "Unpaid work supervisor",
	commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER:     "Victim liaison officer",
	commonv1.JobRole_JOB_ROLE_OTHER:                      "Other",
}

// The stuck list's other filters, in the order the page offers them.
var (
	filterRoles = []commonv1.JobRole{
		commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER,
		commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR,
		commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER, commonv1.JobRole_JOB_ROLE_OTHER,
	}
	filterKinds = []pb.StuckKind{
		pb.StuckKind_STUCK_KIND_STAGE, pb.StuckKind_STUCK_KIND_VETTING_BLOCKED, pb.StuckKind_STUCK_KIND_VETTING_OVERDUE,
		pb.StuckKind_STUCK_KIND_CHECK_OUTSTANDING,
	}
	filterReasons = []commonv1.BlockReason{
		commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS, commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH,
		commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE, commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY,
		commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS, commonv1.BlockReason_BLOCK_REASON_OTHER,
	}
)

// enumCode is an enum value as it appears in links: its name without the
// enum's prefix, lower case, with hyphens ("missing-documents").
func enumCode[E interface{ String() string }](e E, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(e.String(), prefix)), "_", "-")
}

// parseCode finds the value of values whose code is code; "" is the zero
// value (no filter), anything else not found is not ok.
func parseCode[E interface{ String() string }](code, prefix string, values []E) (E, bool) {
	var zero E
	if code == "" {
		return zero, true
	}
	for _, v := range values {
		if enumCode(v, prefix) == code {
			return v, true
		}
	}
	return zero, false
}

func roleName(r commonv1.JobRole) string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "Unknown"
}

var blockReasonNames = map[commonv1.BlockReason]string{
	commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS:    "Missing documents",
	commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH:    "Identity mismatch",
	commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE: "Referee not responding",
	commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY: "Awaiting a third party",
	commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS:      "Overseas checks",
	commonv1.BlockReason_BLOCK_REASON_OTHER:                "Other",
}

func blockReasonName(r commonv1.BlockReason) string {
	return blockReasonNames[r] // "" when not blocked
}

func kindName(k pb.StuckKind) string {
	switch k {
	case pb.StuckKind_STUCK_KIND_STAGE:
		return "Too long in stage"
	case pb.StuckKind_STUCK_KIND_VETTING_BLOCKED:
		return "Vetting blocked"
	case pb.StuckKind_STUCK_KIND_VETTING_OVERDUE:
		return "Vetting overdue after start"
	case pb.StuckKind_STUCK_KIND_CHECK_OUTSTANDING:
		return "Pre-employment check outstanding"
	}
	return "Unknown"
}

func nextActorName(a pb.NextActor) string {
	switch a {
	case pb.NextActor_NEXT_ACTOR_SPOC:
		return "Resourcing SPOC"
	case pb.NextActor_NEXT_ACTOR_VETTING:
		return "Vetting contact point"
	}
	return "Unknown"
}

var measureNames = map[pb.Measure]string{
	pb.Measure_MEASURE_TIME_TO_HIRE:         "Time to hire (closing date to offer)",
	pb.Measure_MEASURE_TIME_TO_FILL:         "Time to fill (closing date to start)",
	pb.Measure_MEASURE_APPLICATION_TO_START: "Application to start",
	pb.Measure_MEASURE_OFFER_TO_CLEARANCE:   "Offer accepted to vetting cleared",
}

func measureName(m pb.Measure) string {
	if n, ok := measureNames[m]; ok {
		return n
	}
	return "Unknown measure"
}

// days prints a number of days with at most one decimal: "12", "12.5".
func days(v float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
}

// percent prints a ratio as a whole percentage: 0.456 → "46%".
func percent(r float64) string {
	return strconv.FormatFloat(r*100, 'f', 0, 64) + "%"
}

// sourceName is how the dashboard shows an application source code.
func sourceName(code string) string {
	if code == "unknown" {
		return "Not recorded"
	}
	return reasonName(code)
}

// reasonName is how the dashboard shows a reason code: "accepted_other_job"
// as "Accepted other job", "other:moved_abroad" as "Other: moved abroad".
func reasonName(code string) string {
	if code == "" {
		return "None recorded"
	}
	if own, ok := strings.CutPrefix(code, "other:"); ok {
		return "Other: " + strings.ReplaceAll(own, "_", " ")
	}
	s := strings.ReplaceAll(code, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// exitName is how the dashboard shows how an application left.
func exitName(k pb.ExitKind) string {
	switch k {
	case pb.ExitKind_EXIT_KIND_SIFT_FAILED:
		return "Failed the sift"
	case pb.ExitKind_EXIT_KIND_INTERVIEW_FAILED:
		return "Failed the interview"
	case pb.ExitKind_EXIT_KIND_WITHDRAWN:
		return "Withdrew"
	case pb.ExitKind_EXIT_KIND_OFFER_DECLINED:
		return "Declined the offer"
	case pb.ExitKind_EXIT_KIND_OFFER_WITHDRAWN:
		return "Offer withdrawn"
	}
	return "Unknown"
}
