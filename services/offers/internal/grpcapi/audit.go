package grpcapi

import (
	"github.com/probation-recruitment/pipeline/pkg/audit"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

// Audit says which calls read or change personal data — an offer is one
// candidate's terms, conditions and start, pseudonymous here but personal
// data all the same — recorded in this service's audit trail (pkg/audit),
// and where their application ids are.
var Audit = audit.Policy{
	Service: pb.OffersService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{
		"MakeConditionalOffer":       audit.Change(audit.Request("application_id")),
		"BatchMakeConditionalOffers": audit.Change(audit.Request("items.application_id")),
		"AcceptOffer":                audit.Change(audit.Request("application_id")),
		"DeclineOffer":               audit.Change(audit.Request("application_id")),
		"WithdrawOffer":              audit.Change(audit.Request("application_id")),
		"SetStartDate":               audit.Change(audit.Request("application_id")),
		"ConfirmStart":               audit.Change(audit.Request("application_id")),
		"ListOffers":                 audit.Read(audit.Response("offers.application_id")),
		"GetOffer":                   audit.Read(audit.Request("application_id")),
		"AssignCase":                 audit.Change(audit.Request("application_id")),
		"UnassignCase":               audit.Change(audit.Request("application_id")),
		"BatchAssign":                audit.Change(audit.Request("items.application_id")),
		"ListMyCases":                audit.Read(audit.Response("cases.offer.application_id")),
		"RecordCheck":                audit.Change(audit.Request("application_id")),
		"ApproveEarlyStart":          audit.Change(audit.Request("application_id")),
		"SetEarlyStartPolicy":        audit.NotPersonal("a region's early start policy; no candidate data"),
		"GetEarlyStartPolicy":        audit.NotPersonal("a region's early start policy and a count; no candidate data"),
	},
}
