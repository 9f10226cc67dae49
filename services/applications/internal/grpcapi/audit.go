package grpcapi

import (
	"github.com/probation-recruitment/pipeline/pkg/audit"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

// Audit says which calls read or change candidates' personal data (name,
// email, phone, and the application about them), recorded in this
// service's audit trail (pkg/audit), and where their application ids are.
var Audit = audit.Policy{
	Service: pb.ApplicationsService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{
		"CreateCampaign":    audit.NotPersonal("campaigns hold a region, role, posts and dates; no candidate"),
		"UpdateCampaign":    audit.NotPersonal("campaigns hold a region, role, posts and dates; no candidate"),
		"GetCampaign":       audit.NotPersonal("campaigns hold a region, role, posts and dates; no candidate"),
		"ListCampaigns":     audit.NotPersonal("campaigns hold a region, role, posts and dates; no candidate"),
		"SetCampaignStatus": audit.NotPersonal("campaigns hold a region, role, posts and dates; no candidate"),

		"SubmitApplication":         audit.Change(audit.Response("application.id")),
		"GetApplication":            audit.Read(audit.Request("application_id")),
		"GetCandidateContact":       audit.Read(audit.Request("application_id")),
		"ListApplications":          audit.Read(audit.Response("applications.id")),
		"WithdrawApplication":       audit.Change(audit.Request("application_id")),
		"BatchWithdrawApplications": audit.Change(audit.Request("items.application_id")),
		"ImportApplications":        audit.Change(audit.Response("results.application_id")),
		"EraseCandidate":            audit.Change(audit.Request("application_id")),
	},
}
