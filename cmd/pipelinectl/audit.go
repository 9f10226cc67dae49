package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	auditv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/audit/v1"
)

func init() { register(newAuditCmd) }

// auditedServices are the services holding personal data, each serving
// the audit trail of its own (recruitment.audit.v1.AuditService).
var auditedServices = []string{"applications", "sifting", "offers", "vetting", "equality"}

// auditPageSize is the page size pipelinectl asks each service for.
const auditPageSize = 500

const auditLong = `Lists who read or changed candidates' personal data, and who tried: every
call that returned or changed an application, a sift case, an offer or a
vetting case, recorded by the service holding it after the caller signed in
— the caller's subject, role and regions, the method, the application ids,
the time and the outcome (the gRPC status code). Never what was read or
sent. Admin only.

Each of applications, sifting, offers and vetting keeps its own trail;
audit asks every one (or --service) and merges the answers oldest first.
--candidate, --actor, --since and --until narrow what every service returns;
--limit caps the events read from each service (the newest past it are left
out, and a note says so).`

func newAuditCmd(a *app) *cobra.Command {
	var (
		service, candidate, actor string
		since, until              timeValue
		limit                     int
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Who read or changed candidates' personal data (admin)",
		Long:  auditLong,
		Example: `  pipelinectl audit --candidate 0192f3a4-5b6c-7d8e-9f00-112233445566
  pipelinectl audit --actor spoc-london-1 --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z
  pipelinectl audit --service vetting -o csv > vetting-audit.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names := auditedServices
			if service != "" {
				if !slices.Contains(auditedServices, service) {
					return usagef("--service must be one of %s, not %q", strings.Join(auditedServices, ", "), service)
				}
				names = []string{service}
			}
			if limit < 1 {
				return usagef("--limit must be at least 1")
			}
			var events []*auditv1.AuditEvent
			var notes []string
			for _, name := range names {
				req := &auditv1.ListAuditEventsRequest{
					ApplicationId: candidate, ActorSubject: actor, Since: since.t, Until: until.t, PageSize: auditPageSize,
				}
				var got []*auditv1.AuditEvent
				for {
					resp, err := a.audits[name].ListAuditEvents(cmd.Context(), req)
					if err != nil {
						return err
					}
					got = append(got, resp.GetEvents()...)
					if resp.GetNextPageToken() == "" {
						break
					}
					if len(got) >= limit {
						notes = append(notes, fmt.Sprintf("%s: more than %d events; narrow the query or raise --limit", name, limit))
						break
					}
					req.PageToken = resp.GetNextPageToken()
				}
				if len(got) > limit {
					got = got[:limit]
				}
				events = append(events, got...)
			}
			slices.SortStableFunc(events, func(x, y *auditv1.AuditEvent) int {
				return cmp.Or(x.GetOccurredAt().AsTime().Compare(y.GetOccurredAt().AsTime()), cmp.Compare(x.GetId(), y.GetId()))
			})
			v := view{columns: []string{"occurred_at", "service", "method", "kind", "actor", "role", "regions", "record_ids", "outcome"}, notes: notes}
			for _, e := range events {
				svc, method := splitMethod(e.GetMethod())
				v.rows = append(v.rows, []string{
					fmtTime(e.GetOccurredAt()), svc, method, friendly(e.GetKind()), e.GetActor().GetSubject(), friendly(e.GetActor().GetRole()),
					strings.Join(e.GetActorRegions(), " "), strings.Join(e.GetRecordIds(), " "), e.GetOutcome(),
				})
			}
			return a.emit(&auditv1.ListAuditEventsResponse{Events: events}, v)
		},
	}
	f := cmd.Flags()
	f.StringVar(&service, "service", "", "ask only this service: "+strings.Join(auditedServices, ", "))
	f.StringVar(&candidate, "candidate", "", "only events naming this application id")
	f.StringVar(&actor, "actor", "", "only events of this caller (a token subject)")
	f.Var(&since, "since", "only events at or after this time")
	f.Var(&until, "until", "only events before this time")
	f.IntVar(&limit, "limit", 10000, "read at most this many events from each service")
	return cmd
}

// splitMethod turns "/recruitment.vetting.v1.VettingService/GetCase" into
// ("vetting", "GetCase").
func splitMethod(full string) (service, method string) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return "", full
	}
	parts := strings.Split(svc, ".")
	if len(parts) >= 2 {
		return parts[1], method
	}
	return svc, method
}
