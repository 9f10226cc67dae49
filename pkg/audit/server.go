package audit

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	auditv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/audit/v1"
)

// ServicePolicy is the AuditService's own policy: reading the trail is
// itself recorded, naming the application asked about.
var ServicePolicy = Policy{
	Service: auditv1.AuditService_ServiceDesc.ServiceName,
	Methods: map[string]Rule{
		"ListAuditEvents": Read(Request("application_id")),
	},
}

// Register serves r's trail as recruitment.audit.v1.AuditService on s and
// declares policies, those of the services holding the personal data,
// with the AuditService's own.
func Register(s *grpc.Server, r *Recorder, policies ...Policy) {
	for _, p := range policies {
		r.Declare(p)
	}
	r.Declare(ServicePolicy)
	auditv1.RegisterAuditServiceServer(s, &server{r: r})
}

type server struct {
	auditv1.UnimplementedAuditServiceServer
	r *Recorder
}

// maxSubjectLen bounds actor_subject as tokens' subjects are bounded.
const maxSubjectLen = 200

// ListAuditEvents implements auditv1.AuditServiceServer. Admin only.
func (s *server) ListAuditEvents(ctx context.Context, req *auditv1.ListAuditEventsRequest) (*auditv1.ListAuditEventsResponse, error) {
	f, filters, err := filterFromProto(ctx, req)
	if err != nil {
		return nil, apistatus.Error(ctx, s.r.log, err)
	}
	limit, tok, err := pagetoken.Page(req.GetPageSize(), req.GetPageToken(), filters...)
	if err != nil {
		return nil, apistatus.Error(ctx, s.r.log, err)
	}
	// A listing shows the trail as it stood at its first page: every call
	// adds an event (this one too), so without a bound, paging through an
	// actor's or an application's events would never reach the end.
	asOf := s.r.now()
	if tok != "" {
		if f.After, asOf, err = parsePosition(tok); err != nil {
			return nil, apistatus.Error(ctx, s.r.log, err)
		}
	} else if f.After, err = pagetoken.ParseKey(""); err != nil {
		return nil, apistatus.Error(ctx, s.r.log, err)
	}
	if f.Until.IsZero() || asOf.Before(f.Until) {
		f.Until = asOf
	}
	f.Limit = limit + 1
	events, err := s.r.list(ctx, f)
	if err != nil {
		return nil, apistatus.Error(ctx, s.r.log, err)
	}
	events, next := pagetoken.Next(events, limit, func(e entry) string { return position(e, asOf) }, filters...)
	resp := &auditv1.ListAuditEventsResponse{NextPageToken: next}
	for _, e := range events {
		resp.Events = append(resp.Events, toProto(e))
	}
	return resp, nil
}

// filterFromProto checks the caller (admins only) and the request, and
// returns the filter and the strings a page token is bound to.
func filterFromProto(ctx context.Context, req *auditv1.ListAuditEventsRequest) (filter, []string, error) {
	if _, err := auth.Require(ctx, ""); err != nil {
		return filter{}, nil, err
	}
	f := filter{RecordID: req.GetApplicationId(), Subject: req.GetActorSubject()}
	if f.RecordID != "" {
		if err := validate.UUID("application_id", f.RecordID); err != nil {
			return filter{}, nil, err
		}
	}
	if len(f.Subject) > maxSubjectLen {
		return filter{}, nil, validate.Field("actor_subject", "must be at most 200 characters")
	}
	for _, t := range []struct {
		field string
		ts    *timestamppb.Timestamp
		into  *time.Time
	}{{"since", req.GetSince(), &f.Since}, {"until", req.GetUntil(), &f.Until}} {
		if t.ts == nil {
			continue
		}
		if err := t.ts.CheckValid(); err != nil {
			return filter{}, nil, validate.Field(t.field, "must be a valid timestamp")
		}
		*t.into = t.ts.AsTime()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return filter{}, nil, validate.Field("until", "must be after since")
	}
	filters := []string{f.RecordID, f.Subject, stamp(f.Since), stamp(f.Until)}
	return f, filters, nil
}

// position is where a page ends: the last event's key, and the time the
// listing shows the trail as of.
func position(e entry, asOf time.Time) string {
	return pagetoken.Key{At: e.At, ID: e.ID}.String() + " " + stamp(asOf)
}

// parsePosition reads a position from a page token's payload, which a
// client can forge.
func parsePosition(s string) (pagetoken.Key, time.Time, error) {
	key, at, ok := strings.Cut(s, " ")
	id, asOf, ok2 := strings.Cut(at, " ")
	if !ok || !ok2 {
		return pagetoken.Key{}, time.Time{}, pagetoken.ErrInvalid
	}
	after, err := pagetoken.ParseKey(key + " " + id)
	if err != nil {
		return pagetoken.Key{}, time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, asOf)
	if err != nil {
		return pagetoken.Key{}, time.Time{}, pagetoken.ErrInvalid
	}
	return after, t, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

var kinds = map[string]auditv1.AccessKind{
	"read":   auditv1.AccessKind_ACCESS_KIND_READ,
	"change": auditv1.AccessKind_ACCESS_KIND_CHANGE,
}

func toProto(e entry) *auditv1.AuditEvent {
	return &auditv1.AuditEvent{
		Id: e.ID, OccurredAt: timestamppb.New(e.At),
		Actor:        event.Actor(auth.Claims{Subject: e.Subject, Role: auth.Role(e.Role)}),
		ActorRegions: e.Regions, Method: e.Method, Kind: kinds[e.Kind], RecordIds: e.RecordIDs, Outcome: e.Outcome,
	}
}
