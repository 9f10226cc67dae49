package grpcapi

import (
	"github.com/probation-recruitment/pipeline/pkg/audit"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
)

// Audit says which calls read or change personal data — a sift case is
// the sift score, interview and outcome of one candidate, pseudonymous
// here but personal data all the same — recorded in this service's audit
// trail (pkg/audit), and where their application ids are.
var Audit = audit.Policy{
	Service: pb.SiftingService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{
		"RecordSiftDecision":           audit.Change(audit.Request("application_id")),
		"BatchRecordSiftDecisions":     audit.Change(audit.Request("decisions.application_id")),
		"BatchRecordInterviewOutcomes": audit.Change(audit.Request("outcomes.application_id")),
		"ScheduleInterview":            audit.Change(audit.Request("application_id")),
		"RecordInterviewOutcome":       audit.Change(audit.Request("application_id")),
		"ListSiftQueue":                audit.Read(audit.Response("entries.case.application_id")),
		"ListInterviewQueue":           audit.Read(audit.Response("entries.case.application_id")),
		"GetCase":                      audit.Read(audit.Request("application_id")),
		"AssignCase":                   audit.Change(audit.Request("application_id")),
		"UnassignCase":                 audit.Change(audit.Request("application_id")),
		"BatchAssign":                  audit.Change(audit.Request("items.application_id")),
		"ListMyCases":                  audit.Read(audit.Response("cases.case.application_id")),
	},
}
