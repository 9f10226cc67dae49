package grpcapi

import (
	"github.com/probation-recruitment/pipeline/pkg/audit"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// Audit says which calls read or change personal data — a vetting case
// holds the block note and the outcome, which can be criminal-offence
// data — recorded in this service's audit trail (pkg/audit), and where
// their application ids are.
var Audit = audit.Policy{
	Service: pb.VettingService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{
		"RecordFormsReceived": audit.Change(audit.Request("application_id")),
		"BlockCase":           audit.Change(audit.Request("application_id")),
		"UnblockCase":         audit.Change(audit.Request("application_id")),
		"ClearCase":           audit.Change(audit.Request("application_id")),
		"FailCase":            audit.Change(audit.Request("application_id")),
		"BatchUnblock":        audit.Change(audit.Request("items.application_id")),
		"BatchClear":          audit.Change(audit.Request("items.application_id")),
		"ListBlockedCases":    audit.Read(audit.Response("cases.case.application_id")),
		"ListCases":           audit.Read(audit.Response("cases.application_id")),
		"GetCase":             audit.Read(audit.Request("application_id")),
		"AssignCase":          audit.Change(audit.Request("application_id")),
		"UnassignCase":        audit.Change(audit.Request("application_id")),
		"BatchAssign":         audit.Change(audit.Request("items.application_id")),
		"ListMyCases":         audit.Read(audit.Response("cases.case.application_id")),
	},
}
