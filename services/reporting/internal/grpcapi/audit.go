package grpcapi

import (
	"github.com/probation-recruitment/pipeline/pkg/audit"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// notPersonal is why no reporting call is audited: reporting holds no
// personal data (docs/design.md §4, §5) — counts, durations, thresholds,
// and for the stuck list an application id with its stage and clock,
// nothing about the candidate that the stage's owner does not audit.
const notPersonal = "reporting holds no personal data: aggregates, thresholds, and stage clocks by application id"

// Audit declares that no reporting call reads or changes personal data
// (pkg/audit), so the service serves no audit trail.
var Audit = audit.Policy{
	Service: pb.ReportingService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{
		"ListStuckCandidates": audit.NotPersonal(notPersonal),
		"GetTimeToHire":       audit.NotPersonal(notPersonal),
		"GetFunnel":           audit.NotPersonal(notPersonal),
		"GetStageDurations":   audit.NotPersonal(notPersonal),
		"GetVettingDurations": audit.NotPersonal(notPersonal),
		"GetRegionSummary":    audit.NotPersonal(notPersonal),
		"ListRegionSummaries": audit.NotPersonal(notPersonal),
		"WatchRegion":         audit.NotPersonal(notPersonal),
		"GetThresholds":       audit.NotPersonal(notPersonal),
		"SetThresholds":       audit.NotPersonal(notPersonal),
		// Staff subject ids are opaque, as every event's actor is.
		"ListMyCases":           audit.NotPersonal(notPersonal + "; assignees as opaque staff subject ids"),
		"GetWorkload":           audit.NotPersonal(notPersonal + "; assignees as opaque staff subject ids"),
		"ListOutstandingChecks": audit.NotPersonal(notPersonal + "; which checks are outstanding, as codes; assignees as opaque staff subject ids"),
		"GetReasonBreakdown":    audit.NotPersonal(notPersonal + "; counts by source and reason code"),
		"GetCampaignProgress":   audit.NotPersonal(notPersonal),
		"ListCampaignProgress":  audit.NotPersonal(notPersonal),
		"GetEarlyStarts":        audit.NotPersonal(notPersonal),
	},
}
