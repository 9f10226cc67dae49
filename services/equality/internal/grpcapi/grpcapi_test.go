package grpcapi_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/monitoring/handoff"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/servicetest"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
	"github.com/probation-recruitment/pipeline/services/equality/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/equality/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var (
	admin            = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	equalityLondon   = auth.Claims{Subject: "equality-london-1", Role: auth.RoleEquality, Regions: []string{"london"}}
	equalityWales    = auth.Claims{Subject: "equality-wales-1", Role: auth.RoleEquality, Regions: []string{"wales"}}
	equalityNational = auth.Claims{Subject: "equality-national-1", Role: auth.RoleEquality, Regions: region.All}
	spocLondon       = auth.Claims{Subject: "spoc-london-1", Role: auth.RoleSPOC, Regions: []string{"london"}}
	vettingLondon    = auth.Claims{Subject: "vetting-london-1", Role: auth.RoleVetting, Regions: []string{"london"}}
	dashboardLondon  = auth.Claims{Subject: "dashboard-london-1", Role: auth.RoleDashboard, Regions: []string{"london"}}
)

type env struct {
	*servicetest.Service
	svc    *funnel.Service
	schema string
}

func setup(t *testing.T) *env {
	t.Helper()
	var e env
	e.Service = servicetest.Start(t, quiet, store.Migrations, func(s *grpc.Server, pool *pgxpool.Pool) {
		svc, err := funnel.NewService(store.New(pool), disclosure.Config{})
		if err != nil {
			t.Fatal(err)
		}
		e.svc = svc
		api := grpcapi.New(svc, quiet)
		pb.RegisterEqualityServiceServer(s, api)
		privacy.Register(s, "equality", api.Export, quiet)
	}, grpcapi.Audit, privacy.Policy)
	if err := e.Pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&e.schema); err != nil {
		t.Fatal(err)
	}
	return &e
}

var q2 = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// apply sends an application's events through the service's consumer
// handler and deposits its answers as the applications service does.
func (e *env) application(t *testing.T, campaign string, answers monitoring.Answers, days int, stages ...func(*eventsv1.Event)) string {
	t.Helper()
	id := event.NewID()
	at := q2.Add(24 * time.Hour)
	for i, set := range append([]func(*eventsv1.Event){func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
	}}, stages...) {
		ev := &eventsv1.Event{EventId: event.NewID(), ApplicationId: id, Region: "london", CampaignId: campaign,
			OccurredAt: timestamppb.New(at.Add(time.Duration(i*days) * 24 * time.Hour))}
		set(ev)
		e.Handle(t, e.svc.HandleEvent, ev)
	}
	ctx := context.Background()
	if err := pg.InTx(ctx, e.Pool, func(tx pgx.Tx) error { return handoff.Deposit(ctx, tx, e.schema, id, answers) }); err != nil {
		t.Fatal(err)
	}
	return id
}

func siftPassed(ev *eventsv1.Event) {
	ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}
}
func siftFailed(ev *eventsv1.Event) {
	ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{}}
}

// london fills London's second quarter of 2026: white candidates pass the
// sift twice as often as black ones; a handful of mixed ones.
func (e *env) london(t *testing.T) []string {
	t.Helper()
	campaign := event.NewID()
	var ids []string
	add := func(group string, n, pass int) {
		for i := range n {
			a := monitoring.Answers{monitoring.EthnicGroup: group, monitoring.Disability: "no"}
			if i < pass {
				ids = append(ids, e.application(t, campaign, a, 4, siftPassed))
			} else {
				ids = append(ids, e.application(t, campaign, a, 6, siftFailed))
			}
		}
	}
	add("white", 100, 50)
	add("black", 60, 15)
	add("asian", 50, 25)
	add("other", 30, 15)
	add("mixed", 3, 1)
	add(monitoring.PreferNotToSay, 20, 10)
	return ids
}

func funnelRequest(regionCode string) *pb.GetEqualityFunnelRequest {
	return &pb.GetEqualityFunnelRequest{Region: regionCode, From: event.Date(q2), To: event.Date(q2.AddDate(0, 3, 0)),
		Characteristic: pb.Characteristic_CHARACTERISTIC_ETHNIC_GROUP}
}

func TestEqualityFunnel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.london(t)
	ctx := context.Background()

	resp, err := pb.NewEqualityServiceClient(e.As(t, equalityLondon)).GetEqualityFunnel(ctx, funnelRequest("london"))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetShown() || resp.GetTotal().GetValue() != 265 || resp.GetPolicy().GetThreshold() != 10 {
		t.Fatalf("funnel: shown %v, total %v, policy %v; want shown, 265, threshold 10", resp.GetShown(), resp.GetTotal(), resp.GetPolicy())
	}
	byCategory := map[string]*pb.CategoryRow{}
	for _, r := range resp.GetRows() {
		byCategory[r.GetCategory()] = r
	}
	black := byCategory["black"].GetTransitions()[0]
	if black.GetFromStage() != commonv1.Stage_STAGE_SIFT || black.GetToStage() != commonv1.Stage_STAGE_INTERVIEW || !black.GetFlagged() ||
		black.GetImpactRatio().GetSuppressed() || black.GetImpactRatio().GetValue() > 0.6 {
		t.Errorf("black sift → interview = %v; want flagged, impact ratio about 0.5", black)
	}
	if m := byCategory["mixed"].GetReached()[0]; !m.GetSuppressed() || m.GetValue() != 0 {
		t.Errorf("mixed applied = %v; want suppressed, no value", m)
	}
	if d := byCategory["white"].GetMedianDaysInStage()[0]; d.GetSuppressed() || d.GetValue() != 5 {
		t.Errorf("white median days in sift = %v; want 5 (half 4, half 6)", d)
	}
	// No application id, no answer of anyone, in what the report says.
	text := prototext.Format(resp)
	for _, id := range ids {
		if strings.Contains(text, id) {
			t.Fatalf("the funnel names application %s", id)
		}
	}

	for _, tc := range []struct {
		name   string
		caller auth.Claims
		req    *pb.GetEqualityFunnelRequest
		code   codes.Code
	}{
		{"national for a regional equality role", equalityLondon, funnelRequest(""), codes.PermissionDenied},
		{"another region", equalityWales, funnelRequest("london"), codes.PermissionDenied},
		// The region is checked before anything else is read.
		{"another region, nothing else asked", equalityWales, &pb.GetEqualityFunnelRequest{Region: "london"}, codes.PermissionDenied},
		{"the nation, nothing else asked", equalityLondon, &pb.GetEqualityFunnelRequest{}, codes.PermissionDenied},
		{"national for the national role", equalityNational, funnelRequest(""), codes.OK},
		{"national for an admin", admin, funnelRequest(""), codes.OK},
		{"a month is not a window", equalityLondon, func() *pb.GetEqualityFunnelRequest {
			r := funnelRequest("london")
			r.To = event.Date(q2.AddDate(0, 1, 0))
			return r
		}(), codes.InvalidArgument},
		{"no characteristic", equalityLondon, func() *pb.GetEqualityFunnelRequest {
			r := funnelRequest("london")
			r.Characteristic = 0
			return r
		}(), codes.InvalidArgument},
	} {
		_, err := pb.NewEqualityServiceClient(e.As(t, tc.caller)).GetEqualityFunnel(ctx, tc.req)
		testenv.WantStatus(t, err, tc.code)
	}
}

// SPOCs, vetting contact points and dashboards get nothing from the
// equality service: every method refused for the role, the report and
// the export alike; the equality role may not export a candidate.
func TestOnlyEqualityAndAdminsRead(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ids := e.london(t)[:1]
	services := []protoreflect.ServiceDescriptor{pb.File_recruitment_equality_v1_equality_proto.Services().Get(0),
		privacyv1.File_recruitment_privacy_v1_privacy_proto.Services().Get(0)}
	// The notifier and the early start approver (issue 16) decide or tell
	// about candidates too: refused like the others.
	notifier := auth.Claims{Subject: "notifier", Role: auth.RoleNotifier}
	approverLondon := auth.Claims{Subject: "approver-london", Role: auth.RoleApprover, Regions: []string{"london"}}
	for _, c := range []auth.Claims{spocLondon, vettingLondon, dashboardLondon, notifier, approverLondon} {
		testenv.WantRoleRefused(t, e.As(t, c), services)
		_, err := privacyv1.NewPrivacyServiceClient(e.As(t, c)).ExportCandidate(context.Background(),
			&privacyv1.ExportCandidateRequest{ApplicationId: ids[0]})
		testenv.WantStatus(t, err, codes.PermissionDenied)
	}
	testenv.WantRoleRefused(t, e.As(t, equalityLondon), services, "EqualityService/GetEqualityFunnel")
}

// The export gives the candidate's answers (admin only); after
// application.erased there are none.
func TestExportAndErasure(t *testing.T) {
	t.Parallel()
	e := setup(t)
	campaign := event.NewID()
	id := e.application(t, campaign, monitoring.Answers{monitoring.Sex: "female", monitoring.JusticeExperience: "yes"}, 3)
	client := privacyv1.NewPrivacyServiceClient(e.As(t, admin))
	resp, err := client.ExportCandidate(context.Background(), &privacyv1.ExportCandidateRequest{ApplicationId: id})
	if err != nil || resp.GetService() != "equality" || len(resp.GetRecords()) != 1 {
		t.Fatalf("export: %v, %v; want one record from equality", resp, err)
	}
	var got pb.MonitoringAnswers
	if err := resp.GetRecords()[0].UnmarshalTo(&got); err != nil || got.GetSex() != "female" || got.GetJusticeExperience() != "yes" {
		t.Errorf("exported %v, %v; want the answers", &got, err)
	}
	e.Handle(t, e.svc.HandleEvent, &eventsv1.Event{EventId: event.NewID(), ApplicationId: id, Region: "london", CampaignId: campaign,
		OccurredAt: timestamppb.Now(), Payload: &eventsv1.Event_ApplicationErased{ApplicationErased: &eventsv1.ApplicationErased{}}})
	resp, err = client.ExportCandidate(context.Background(), &privacyv1.ExportCandidateRequest{ApplicationId: id})
	if err != nil || len(resp.GetRecords()) != 0 {
		t.Errorf("export after erasure: %v, %v; want nothing held", resp, err)
	}
}
