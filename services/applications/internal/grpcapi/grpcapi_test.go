package grpcapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Europe/London whatever the host's zoneinfo

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/servicetest"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
	"github.com/probation-recruitment/pipeline/services/applications/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// now is the service's fixed clock: a Monday in November, when London is
// on UTC, so "today" is 2026-11-23 whichever zone judges it.
var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// The callers of these tests.
var (
	admin      = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
	spocLondon = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
	spocWales  = auth.Claims{Subject: "spoc-wales", Role: auth.RoleSPOC, Regions: []string{"wales"}}
	spocTwo    = auth.Claims{Subject: "spoc-london-wales", Role: auth.RoleSPOC, Regions: []string{"london", "wales"}}
	spocKent   = auth.Claims{Subject: "spoc-kent", Role: auth.RoleSPOC, Regions: []string{"kent-surrey-sussex"}}
	dashboard  = auth.Claims{Subject: "dash-london", Role: auth.RoleDashboard, Regions: []string{"london"}}
	vetting    = auth.Claims{Subject: "vetting-london", Role: auth.RoleVetting, Regions: []string{"london"}}
)

// env is one test's service: its own schema, and a real gRPC server on a
// loopback port with the production interceptors.
type env struct {
	*servicetest.Service
	svc *intake.Service
}

func setup(t *testing.T) *env {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{}
	e.Service = servicetest.Start(t, quiet, []pg.Migrations{store.Migrations}, func(s *grpc.Server, pool *pgxpool.Pool) {
		e.svc = intake.NewService(store.New(pool), func() time.Time { return now }, loc)
		api := grpcapi.New(e.svc, pool, quiet)
		pb.RegisterApplicationsServiceServer(s, api)
		privacy.Register(s, "applications", api.Export, quiet)
	}, grpcapi.Audit, privacy.Policy)
	return e
}

// dial returns a client sending token as its bearer token; "" sends none.
func (e *env) dial(t *testing.T, token string) pb.ApplicationsServiceClient {
	return pb.NewApplicationsServiceClient(testenv.Dial(t, e.Addr, token))
}

// as returns a client calling as c.
func (e *env) as(t *testing.T, c auth.Claims) pb.ApplicationsServiceClient {
	return pb.NewApplicationsServiceClient(e.As(t, c))
}

func date(y, m, d int32) *commonv1.Date { return &commonv1.Date{Year: y, Month: m, Day: d} }

func reqID() string { return testenv.Name("req-") }

// campaign creates a campaign as admin; closes may be nil (rolling).
func (e *env) campaign(t *testing.T, region string, opens, closes *commonv1.Date) *pb.Campaign {
	t.Helper()
	resp, err := e.as(t, admin).CreateCampaign(t.Context(), &pb.CreateCampaignRequest{
		RequestId: reqID(), Region: region, Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER,
		Title: "Probation officers " + region, Posts: 25, OpensOn: opens, ClosesOn: closes,
	})
	if err != nil {
		t.Fatalf("create campaign in %s: %v", region, err)
	}
	return resp.GetCampaign()
}

// openCampaign creates a campaign taking applications today.
func (e *env) openCampaign(t *testing.T, region string) *pb.Campaign {
	t.Helper()
	return e.campaign(t, region, date(2026, 11, 1), date(2026, 12, 31))
}

func candidate(name string) *pb.Candidate {
	return &pb.Candidate{Name: name, Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.org", Phone: "020 7946 0000"}
}

func (e *env) submit(t *testing.T, c pb.ApplicationsServiceClient, campaignID string, cand *pb.Candidate) *pb.Application {
	t.Helper()
	resp, err := c.SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: campaignID, Candidate: cand})
	if err != nil {
		t.Fatalf("submit %s: %v", cand.GetEmail(), err)
	}
	return resp.GetApplication()
}

// counts is how many rows each table that a call may write holds.
func (e *env) counts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"applications", "campaigns", "outbox", "request_log"} {
		var n int
		if err := e.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func (e *env) wantCounts(t *testing.T, want map[string]int) {
	t.Helper()
	got := e.counts(t)
	for table, n := range want {
		if got[table] != n {
			t.Errorf("%s holds %d rows, want %d", table, got[table], n)
		}
	}
}

func TestSubmitApplication(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	c := e.openCampaign(t, "london")
	spoc := e.as(t, spocLondon)
	cand := &pb.Candidate{Name: "Ada Lovelace-Byron", Email: "ada.lovelace@example.org", Phone: "+44 20 7946 0958"}

	before := e.counts(t)
	resp, err := spoc.SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: cand})
	if err != nil {
		t.Fatal(err)
	}
	a := resp.GetApplication()
	if a.GetStage() != commonv1.Stage_STAGE_SIFT || a.GetVersion() != 1 || a.GetRegion() != "london" || a.GetCampaignId() != c.GetId() ||
		a.GetRole() != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER || a.GetSubmittedBy() != "spoc-london" ||
		!a.GetSubmittedAt().AsTime().Equal(now) || !a.GetStageEnteredAt().AsTime().Equal(now) || a.GetWithdrawnAt() != nil ||
		!proto.Equal(a.GetCandidate(), cand) {
		t.Errorf("submitted application = %v", a)
	}

	t.Run("one transaction: the row and exactly one event", func(t *testing.T) {
		var name, email, phone, stage string
		var version int64
		if err := e.Pool.QueryRow(ctx, `SELECT candidate_name, candidate_email, candidate_phone, stage, version
			FROM applications WHERE id = $1`, a.GetId()).Scan(&name, &email, &phone, &stage, &version); err != nil {
			t.Fatalf("application row: %v", err)
		}
		if name != cand.GetName() || email != cand.GetEmail() || phone != cand.GetPhone() || stage != "SIFT" || version != 1 {
			t.Errorf("row = %q %q %q %s v%d", name, email, phone, stage, version)
		}
		evs := testenv.OutboxEvents(t, e.Pool, a.GetId())
		if len(evs) != 1 || evs[0].Subject != "london.application.submitted" {
			t.Fatalf("outbox rows for the application = %v, want one london.application.submitted", evs)
		}
		e.wantCounts(t, map[string]int{"applications": before["applications"] + 1, "outbox": before["outbox"] + 1, "request_log": before["request_log"] + 1})
	})

	t.Run("failed submit writes nothing", func(t *testing.T) {
		before := e.counts(t)
		for _, email := range []string{cand.GetEmail(), "Ada.Lovelace@EXAMPLE.org"} {
			dup := proto.Clone(cand).(*pb.Candidate)
			dup.Email = email
			_, err := spoc.SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: dup})
			testenv.WantStatus(t, err, codes.AlreadyExists)
		}
		e.wantCounts(t, before)
	})

	t.Run("relayed to JetStream without personal data", func(t *testing.T) {
		// The relay publishes as applications, under its NATS permissions.
		url := testenv.NATS(t)
		_, js := testenv.Connect(t, url)
		_, asApplications := testenv.ConnectAs(t, url, "applications")
		s, err := stream.Ensure(ctx, js, stream.Config{})
		if err != nil {
			t.Fatal(err)
		}
		relay := outbox.NewRelay(e.Pool, asApplications, outbox.RelayConfig{}, quiet)
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- relay.Run(runCtx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("relay: %v", err)
			}
		}()
		testenv.Eventually(t, "the relay to publish every outbox row", func() (bool, string) {
			var pending int
			err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&pending)
			return err == nil && pending == 0, fmt.Sprintf("%d pending, %v", pending, err)
		})

		const subject = "recruitment.london.application.submitted"
		info, err := s.Info(ctx, jetstream.WithSubjectFilter("recruitment.>"))
		if err != nil {
			t.Fatal(err)
		}
		// The campaign's event and the application's; the refused
		// duplicates left nothing to publish.
		if info.State.Msgs != 2 || info.State.Subjects[subject] != 1 {
			t.Fatalf("stream holds %d messages by subject %v; want 2, one on %s", info.State.Msgs, info.State.Subjects, subject)
		}
		msg, err := s.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Unmarshal(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if id := msg.Header.Get(jetstream.MsgIDHeader); id == "" || id != ev.GetEventId() {
			t.Errorf("Nats-Msg-Id = %q, want the payload's event id %q", id, ev.GetEventId())
		}
		if ev.GetApplicationId() != a.GetId() || ev.GetRegion() != "london" || ev.GetCampaignId() != c.GetId() ||
			ev.GetRole() != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER || ev.GetProducer() != "applications" ||
			ev.GetAggregateVersion() != 1 || ev.GetActor().GetSubject() != "spoc-london" ||
			ev.GetActor().GetRole() != commonv1.CallerRole_CALLER_ROLE_SPOC || !ev.GetOccurredAt().AsTime().Equal(now) ||
			ev.GetApplicationSubmitted() == nil {
			t.Errorf("event = %v", ev)
		}
		for _, pii := range []string{cand.GetName(), "Lovelace", cand.GetEmail(), "ada.lovelace", cand.GetPhone(), "2079460958"} {
			if bytes.Contains(msg.Data, []byte(pii)) {
				t.Errorf("published payload contains personal data %q", pii)
			}
		}
	})
}

func TestAccessDenied(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london := e.openCampaign(t, "london")
	a := e.submit(t, e.as(t, spocLondon), london.GetId(), candidate("Ada Lovelace"))

	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "spoc-london", "role": "spoc", "regions": []string{"london"}, "iss": auth.Issuer,
		"iat": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(-2 * time.Minute).Unix(), // beyond the 30s leeway
	}).SignedString([]byte(servicetest.Key))
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := auth.KeyConfig{HS256Key: strings.Repeat("k", 40)}.Signer()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := otherKey.Mint(admin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	type call func(ctx context.Context, c pb.ApplicationsServiceClient) error
	submit := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: london.GetId(), Candidate: candidate("Grace Hopper")})
		return err
	}
	createCampaign := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.CreateCampaign(ctx, &pb.CreateCampaignRequest{RequestId: reqID(), Region: "london", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR,
			Title: "Admin", Posts: 3, OpensOn: date(2026, 11, 1)})
		return err
	}
	updateCampaign := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: london.GetId(), ExpectedVersion: 1,
			Title: "Renamed", Posts: 3, OpensOn: date(2026, 11, 1)})
		return err
	}
	getApplication := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: a.GetId()})
		return err
	}
	withdraw := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"})
		return err
	}
	listLondonApplications := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.ListApplications(ctx, &pb.ListApplicationsRequest{Region: "london"})
		return err
	}
	listApplications := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.ListApplications(ctx, &pb.ListApplicationsRequest{})
		return err
	}
	getCampaign := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.GetCampaign(ctx, &pb.GetCampaignRequest{CampaignId: london.GetId()})
		return err
	}
	listLondonCampaigns := func(ctx context.Context, c pb.ApplicationsServiceClient) error {
		_, err := c.ListCampaigns(ctx, &pb.ListCampaignsRequest{Region: "london"})
		return err
	}

	tests := []struct {
		name   string
		client pb.ApplicationsServiceClient
		call   call
		want   codes.Code
	}{
		{name: "no token submitting", client: e.dial(t, ""), call: submit, want: codes.Unauthenticated},
		{name: "no token creating a campaign", client: e.dial(t, ""), call: createCampaign, want: codes.Unauthenticated},
		{name: "no token listing campaigns", client: e.dial(t, ""), call: listLondonCampaigns, want: codes.Unauthenticated},
		{name: "expired token submitting", client: e.dial(t, expired), call: submit, want: codes.Unauthenticated},
		{name: "expired token withdrawing", client: e.dial(t, expired), call: withdraw, want: codes.Unauthenticated},
		{name: "admin token signed by another key", client: e.dial(t, forged), call: createCampaign, want: codes.Unauthenticated},
		{name: "token signed by another key submitting", client: e.dial(t, forged), call: submit, want: codes.Unauthenticated},
		{name: "garbage token", client: e.dial(t, "not-a-jwt"), call: submit, want: codes.Unauthenticated},

		{name: "dashboard submitting", client: e.as(t, dashboard), call: submit, want: codes.PermissionDenied},
		{name: "vetting submitting", client: e.as(t, vetting), call: submit, want: codes.PermissionDenied},
		{name: "dashboard reading a candidate", client: e.as(t, dashboard), call: getApplication, want: codes.PermissionDenied},
		{name: "dashboard listing candidates", client: e.as(t, dashboard), call: listApplications, want: codes.PermissionDenied},
		{name: "vetting withdrawing", client: e.as(t, vetting), call: withdraw, want: codes.PermissionDenied},
		// A SPOC may create and change campaigns only in regions it holds
		// (TestMultiRegionCampaigns tries the rest).
		{name: "spoc creating a campaign in another region", client: e.as(t, spocWales), call: createCampaign, want: codes.PermissionDenied},
		{name: "spoc updating another region's campaign", client: e.as(t, spocWales), call: updateCampaign, want: codes.NotFound},
		{name: "vetting updating a campaign", client: e.as(t, vetting), call: updateCampaign, want: codes.PermissionDenied},
		{name: "dashboard creating a campaign", client: e.as(t, dashboard), call: createCampaign, want: codes.PermissionDenied},

		// A record of another region is not found, as if it did not exist
		// (TestAnotherRegionsRecordIsNotFound compares the answers).
		{name: "other region's spoc submitting", client: e.as(t, spocWales), call: submit, want: codes.NotFound},
		{name: "other region's spoc getting", client: e.as(t, spocWales), call: getApplication, want: codes.NotFound},
		{name: "other region's spoc withdrawing", client: e.as(t, spocWales), call: withdraw, want: codes.NotFound},
		{name: "other region's spoc listing applications", client: e.as(t, spocWales), call: listLondonApplications, want: codes.PermissionDenied},
		{name: "other region's spoc getting the campaign", client: e.as(t, spocWales), call: getCampaign, want: codes.NotFound},
		{name: "other region's spoc listing campaigns", client: e.as(t, spocWales), call: listLondonCampaigns, want: codes.PermissionDenied},
		{name: "spoc without regions submitting", client: e.as(t, auth.Claims{Subject: "nobody", Role: auth.RoleSPOC}), call: submit, want: codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.counts(t)
			testenv.WantStatus(t, tt.call(t.Context(), tt.client), tt.want)
			e.wantCounts(t, before)
		})
	}
	// Nothing changed in place either.
	got, err := e.as(t, spocLondon).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetApplication(), a) {
		t.Errorf("application after refused calls = %v, want unchanged %v", got.GetApplication(), a)
	}
	camp, err := e.as(t, admin).GetCampaign(t.Context(), &pb.GetCampaignRequest{CampaignId: london.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(camp.GetCampaign(), london) {
		t.Errorf("campaign after refused calls = %v, want unchanged %v", camp.GetCampaign(), london)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	spoc, adm := e.as(t, spocLondon), e.as(t, admin)
	open := e.openCampaign(t, "london")
	closed := e.campaign(t, "london", date(2026, 10, 1), date(2026, 11, 22))  // closed yesterday
	future := e.campaign(t, "london", date(2026, 11, 24), date(2026, 12, 31)) // opens tomorrow
	a1 := e.submit(t, spoc, open.GetId(), candidate("Ada Lovelace"))
	e.submit(t, spoc, open.GetId(), candidate("Grace Hopper"))
	page, err := spoc.ListApplications(ctx, &pb.ListApplicationsRequest{CampaignId: open.GetId(), PageSize: 1})
	if err != nil || page.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, %v; want a next page token", page, err)
	}
	token := page.GetNextPageToken()
	campaignPage, err := spoc.ListCampaigns(ctx, &pb.ListCampaignsRequest{PageSize: 1})
	if err != nil || campaignPage.GetNextPageToken() == "" {
		t.Fatalf("first campaign page = %v, %v; want a next page token", campaignPage, err)
	}

	submit := func(mod func(*pb.SubmitApplicationRequest)) func() error {
		return func() error {
			r := &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: open.GetId(),
				Candidate: &pb.Candidate{Name: "Mary Somerville", Email: "mary@example.org", Phone: "020 7946 0001"}}
			mod(r)
			_, err := spoc.SubmitApplication(ctx, r)
			return err
		}
	}
	name := func(v string) func() error {
		return submit(func(r *pb.SubmitApplicationRequest) { r.Candidate.Name = v })
	}
	email := func(v string) func() error {
		return submit(func(r *pb.SubmitApplicationRequest) { r.Candidate.Email = v })
	}
	phone := func(v string) func() error {
		return submit(func(r *pb.SubmitApplicationRequest) { r.Candidate.Phone = v })
	}
	create := func(mod func(*pb.CreateCampaignRequest)) func() error {
		return func() error {
			r := &pb.CreateCampaignRequest{RequestId: reqID(), Region: "london", Role: commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR,
				Title: "UPW supervisors", Posts: 10, OpensOn: date(2026, 11, 1), ClosesOn: date(2026, 12, 31)}
			mod(r)
			_, err := adm.CreateCampaign(ctx, r)
			return err
		}
	}
	update := func(mod func(*pb.UpdateCampaignRequest)) func() error {
		return func() error {
			r := &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: open.GetId(), ExpectedVersion: 1,
				Title: "Renamed", Posts: 30, OpensOn: date(2026, 11, 1), ClosesOn: date(2027, 1, 31)}
			mod(r)
			_, err := adm.UpdateCampaign(ctx, r)
			return err
		}
	}
	withdraw := func(mod func(*pb.WithdrawApplicationRequest)) func() error {
		return func() error {
			r := &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a1.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"}
			mod(r)
			_, err := spoc.WithdrawApplication(ctx, r)
			return err
		}
	}
	list := func(r *pb.ListApplicationsRequest) func() error {
		return func() error { _, err := spoc.ListApplications(ctx, r); return err }
	}
	listCampaigns := func(r *pb.ListCampaignsRequest) func() error {
		return func() error { _, err := spoc.ListCampaigns(ctx, r); return err }
	}
	get := func(id string) func() error {
		return func() error {
			_, err := spoc.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: id})
			return err
		}
	}
	getCampaign := func(id string) func() error {
		return func() error { _, err := spoc.GetCampaign(ctx, &pb.GetCampaignRequest{CampaignId: id}); return err }
	}
	long := strings.Repeat

	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"empty name", name(""), "candidate.name"},
		{"whitespace name", name(" \t  "), "candidate.name"},
		{"name over 200 characters", name(long("a", 201)), "candidate.name"},
		{"name over 200 characters, multi-byte", name(long("é", 201)), "candidate.name"},
		{"name with NUL", name("Ada\x00Lovelace"), "candidate.name"},
		{"name with newline", name("Ada\nLovelace"), "candidate.name"},
		{"name with tab", name("Ada\tLovelace"), "candidate.name"},
		{"name with escape sequence", name("Ada \x1b[2J"), "candidate.name"},
		{"name with DEL", name("Ada\x7f"), "candidate.name"},
		{"name with a right-to-left override", name("Ada \u202eecalevoL"), "candidate.name"},
		{"name with a right-to-left isolate", name("Ada \u2067Lovelace\u2069"), "candidate.name"},
		{"name with a zero-width space", name("Ada\u200bLovelace"), "candidate.name"},
		{"name with a zero-width joiner", name("Ada\u200dLovelace"), "candidate.name"},
		{"name with a byte order mark", name("\ufeffAda Lovelace"), "candidate.name"},
		{"email with a zero-width space", email("ada\u200b@example.org"), "candidate.email"},
		{"no candidate", submit(func(r *pb.SubmitApplicationRequest) { r.Candidate = nil }), "candidate.name"},
		{"empty email", email(""), "candidate.email"},
		{"email x", email("x"), "candidate.email"},
		{"email a@b", email("a@b"), "candidate.email"},
		{"email a@@b.org", email("a@@b.org"), "candidate.email"},
		{"email with display name", email("Ada <ada@example.org>"), "candidate.email"},
		{"email with comment", email("ada@example.org (Ada)"), "candidate.email"},
		{"two emails", email("ada@example.org,bob@example.org"), "candidate.email"},
		{"email with space", email("ada lovelace@example.org"), "candidate.email"},
		{"email over 254 characters", email(long("a", 64) + "@" + long("b", 186) + ".org"), "candidate.email"},
		{"phone with letters", phone("020 7946 CALL"), "candidate.phone"},
		{"phone too few digits", phone("123 456"), "candidate.phone"},
		{"phone too many digits", phone("+44 " + long("1", 19)), "candidate.phone"},
		{"phone with extension", phone("020 7946 0958 ext 2"), "candidate.phone"},
		{"campaign closed yesterday", submit(func(r *pb.SubmitApplicationRequest) { r.CampaignId = closed.GetId() }), "campaign_id"},
		{"campaign not yet open", submit(func(r *pb.SubmitApplicationRequest) { r.CampaignId = future.GetId() }), "campaign_id"},
		{"submit without campaign_id", submit(func(r *pb.SubmitApplicationRequest) { r.CampaignId = "" }), "campaign_id"},
		{"submit malformed campaign_id", submit(func(r *pb.SubmitApplicationRequest) { r.CampaignId = "campaign-1" }), "campaign_id"},
		{"submit without request_id", submit(func(r *pb.SubmitApplicationRequest) { r.RequestId = "" }), "request_id"},
		{"submit request_id over 100 bytes", submit(func(r *pb.SubmitApplicationRequest) { r.RequestId = long("r", 101) }), "request_id"},
		{"submit request_id with space", submit(func(r *pb.SubmitApplicationRequest) { r.RequestId = "retry 1" }), "request_id"},
		{"submit request_id not ASCII", submit(func(r *pb.SubmitApplicationRequest) { r.RequestId = "réq-1" }), "request_id"},

		{"unknown region", create(func(r *pb.CreateCampaignRequest) { r.Region = "atlantis" }), "region"},
		{"empty region", create(func(r *pb.CreateCampaignRequest) { r.Region = "" }), "region"},
		{"region in the wrong case", create(func(r *pb.CreateCampaignRequest) { r.Region = "London" }), "region"},
		{"unspecified job role", create(func(r *pb.CreateCampaignRequest) { r.Role = commonv1.JobRole_JOB_ROLE_UNSPECIFIED }), "role"},
		{"unknown job role", create(func(r *pb.CreateCampaignRequest) { r.Role = 99 }), "role"},
		{"empty title", create(func(r *pb.CreateCampaignRequest) { r.Title = "" }), "title"},
		{"whitespace title", create(func(r *pb.CreateCampaignRequest) { r.Title = "   " }), "title"},
		{"title over 200 characters", create(func(r *pb.CreateCampaignRequest) { r.Title = long("t", 201) }), "title"},
		{"title with a left-to-right override", create(func(r *pb.CreateCampaignRequest) { r.Title = "UPW \u202dsupervisors" }), "title"},
		{"posts 0", create(func(r *pb.CreateCampaignRequest) { r.Posts = 0 }), "posts"},
		{"posts 10001", create(func(r *pb.CreateCampaignRequest) { r.Posts = 10001 }), "posts"},
		{"negative posts", create(func(r *pb.CreateCampaignRequest) { r.Posts = -3 }), "posts"},
		{"opens_on 30 February", create(func(r *pb.CreateCampaignRequest) { r.OpensOn = date(2027, 2, 30) }), "opens_on"},
		{"opens_on month 13", create(func(r *pb.CreateCampaignRequest) { r.OpensOn = date(2026, 13, 1) }), "opens_on"},
		{"opens_on day 0", create(func(r *pb.CreateCampaignRequest) { r.OpensOn = date(2026, 11, 0) }), "opens_on"},
		{"opens_on year 0", create(func(r *pb.CreateCampaignRequest) { r.OpensOn = date(0, 11, 1) }), "opens_on"},
		{"opens_on missing", create(func(r *pb.CreateCampaignRequest) { r.OpensOn = nil }), "opens_on"},
		{"closes_on 29 February of a common year", create(func(r *pb.CreateCampaignRequest) { r.ClosesOn = date(2027, 2, 29) }), "closes_on"},
		{"closes_on before opens_on", create(func(r *pb.CreateCampaignRequest) { r.OpensOn, r.ClosesOn = date(2026, 12, 1), date(2026, 11, 30) }), "closes_on"},
		{"create without request_id", create(func(r *pb.CreateCampaignRequest) { r.RequestId = "" }), "request_id"},

		{"update without expected_version", update(func(r *pb.UpdateCampaignRequest) { r.ExpectedVersion = 0 }), "expected_version"},
		{"update malformed campaign_id", update(func(r *pb.UpdateCampaignRequest) { r.CampaignId = "nope" }), "campaign_id"},
		{"update posts 10001", update(func(r *pb.UpdateCampaignRequest) { r.Posts = 10001 }), "posts"},
		{"update empty title", update(func(r *pb.UpdateCampaignRequest) { r.Title = "" }), "title"},
		{"update invalid opens_on", update(func(r *pb.UpdateCampaignRequest) { r.OpensOn = date(2026, 4, 31) }), "opens_on"},
		{"update closes_on before opens_on", update(func(r *pb.UpdateCampaignRequest) { r.ClosesOn = date(2026, 10, 31) }), "closes_on"},
		{"update request_id with space", update(func(r *pb.UpdateCampaignRequest) { r.RequestId = "a b" }), "request_id"},

		// uuid.Parse takes these forms; PostgreSQL does not take all of them.
		{"submit campaign_id as urn", submit(func(r *pb.SubmitApplicationRequest) { r.CampaignId = "urn:uuid:" + open.GetId() }), "campaign_id"},
		{"submit campaign_id in braces", submit(func(r *pb.SubmitApplicationRequest) { r.CampaignId = "{" + open.GetId() + "}" }), "campaign_id"},
		{"get application_id as urn", get("urn:uuid:" + a1.GetId()), "application_id"},
		{"get application_id without hyphens", get(strings.ReplaceAll(a1.GetId(), "-", "")), "application_id"},
		{"withdraw application_id as urn", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ApplicationId = "urn:uuid:" + a1.GetId() }), "application_id"},
		{"list campaign_id filter as urn", list(&pb.ListApplicationsRequest{CampaignId: "urn:uuid:" + open.GetId()}), "campaign_id"},
		{"update campaign_id as urn", update(func(r *pb.UpdateCampaignRequest) { r.CampaignId = "urn:uuid:" + open.GetId() }), "campaign_id"},
		{"get campaign malformed id", getCampaign("not-a-uuid"), "campaign_id"},
		{"get campaign without id", getCampaign(""), "campaign_id"},
		{"list campaigns negative page_size", listCampaigns(&pb.ListCampaignsRequest{PageSize: -1}), "page_size"},
		{"list campaigns bad page_token", listCampaigns(&pb.ListCampaignsRequest{PageToken: "garbage!"}), "page_token"},
		{"list campaigns page token with another region", listCampaigns(&pb.ListCampaignsRequest{Region: "london", PageToken: campaignPage.GetNextPageToken()}), "page_token"},
		{"list campaigns unknown region", listCampaigns(&pb.ListCampaignsRequest{Region: "atlantis"}), "region"},

		{"get malformed application_id", get("12345"), "application_id"},
		{"get without application_id", get(""), "application_id"},
		{"list negative page_size", list(&pb.ListApplicationsRequest{PageSize: -1}), "page_size"},
		{"list bad page_token", list(&pb.ListApplicationsRequest{PageToken: "garbage!"}), "page_token"},
		{"list page_token of base64 junk", list(&pb.ListApplicationsRequest{PageToken: "eyJ4IjoxfQ"}), "page_token"},
		{"page token reused without the campaign filter", list(&pb.ListApplicationsRequest{PageToken: token}), "page_token"},
		{"page token reused with another campaign", list(&pb.ListApplicationsRequest{CampaignId: closed.GetId(), PageToken: token}), "page_token"},
		{"page token reused with a stage filter", list(&pb.ListApplicationsRequest{CampaignId: open.GetId(), Stage: commonv1.Stage_STAGE_SIFT, PageToken: token}), "page_token"},
		{"page token reused with a region", list(&pb.ListApplicationsRequest{Region: "london", CampaignId: open.GetId(), PageToken: token}), "page_token"},
		{"list malformed campaign_id", list(&pb.ListApplicationsRequest{CampaignId: "camp"}), "campaign_id"},
		{"list unknown stage", list(&pb.ListApplicationsRequest{Stage: 99}), "stage"},
		{"list unknown region", list(&pb.ListApplicationsRequest{Region: "atlantis"}), "region"},

		{"withdraw without expected_version", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ExpectedVersion = 0 }), "expected_version"},
		{"withdraw negative expected_version", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ExpectedVersion = -1 }), "expected_version"},
		{"withdraw without reason_code", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ReasonCode = "" }), "reason_code"},
		{"withdraw upper-case reason_code", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ReasonCode = "Candidate_Request" }), "reason_code"},
		{"withdraw one-letter reason_code", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ReasonCode = "x" }), "reason_code"},
		{"withdraw reason_code with space", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ReasonCode = "candidate request" }), "reason_code"},
		{"withdraw reason_code with hyphen", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ReasonCode = "candidate-request" }), "reason_code"},
		{"withdraw reason_code over 63 characters", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ReasonCode = long("r", 64) }), "reason_code"},
		{"withdraw free text as reason", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ReasonCode = "moved to Leeds, call 07700 900123" }), "reason_code"},
		{"withdraw malformed application_id", withdraw(func(r *pb.WithdrawApplicationRequest) { r.ApplicationId = "app-1" }), "application_id"},
		{"withdraw without request_id", withdraw(func(r *pb.WithdrawApplicationRequest) { r.RequestId = "" }), "request_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.counts(t)
			testenv.WantField(t, tt.call(), tt.field)
			e.wantCounts(t, before)
		})
	}
	got, err := spoc.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: a1.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetApplication(), a1) {
		t.Errorf("application after refused calls = %v, want unchanged %v", got.GetApplication(), a1)
	}
}

// TestForgedPageTokensAreNeverInternal: a page token is only base64 JSON
// with an unkeyed digest of the filters, so a client can build one whose
// key is not a uuid. That is the caller's error, never Internal.
func TestForgedPageTokensAreNeverInternal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	spoc := e.as(t, spocLondon)
	c := e.openCampaign(t, "london")
	e.submit(t, spoc, c.GetId(), candidate("Ada Lovelace"))
	tests := []struct {
		name string
		call func() error
	}{
		{"application page token without a uuid", func() error {
			_, err := spoc.ListApplications(ctx, &pb.ListApplicationsRequest{PageToken: pagetoken.Encode("not-a-uuid", "", "", "")})
			return err
		}},
		{"campaign page token without a uuid", func() error {
			_, err := spoc.ListCampaigns(ctx, &pb.ListCampaignsRequest{PageToken: pagetoken.Encode("not-a-uuid", "")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			testenv.WantField(t, err, "page_token")
		})
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	spoc := e.as(t, spocLondon)
	c := e.openCampaign(t, "london")

	t.Run("retry returns the first response and applies once", func(t *testing.T) {
		before := e.counts(t)
		req := &pb.SubmitApplicationRequest{RequestId: "submit-ada-1", CampaignId: c.GetId(), Candidate: candidate("Ada Lovelace")}
		first, err := spoc.SubmitApplication(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			again, err := spoc.SubmitApplication(ctx, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !proto.Equal(again, first) {
				t.Fatalf("retry answered %v, want the first response %v", again, first)
			}
		}
		e.wantCounts(t, map[string]int{"applications": before["applications"] + 1, "outbox": before["outbox"] + 1, "request_log": before["request_log"] + 1})
		if evs := testenv.OutboxEvents(t, e.Pool, first.GetApplication().GetId()); len(evs) != 1 {
			t.Errorf("%d events for the application, want 1", len(evs))
		}

		t.Run("same request_id with another body", func(t *testing.T) {
			before := e.counts(t)
			other := proto.Clone(req).(*pb.SubmitApplicationRequest)
			other.Candidate.Email = "someone.else@example.org"
			_, err := spoc.SubmitApplication(ctx, other)
			testenv.WantField(t, err, "request_id")
			e.wantCounts(t, before)
		})
		t.Run("same request_id for another method", func(t *testing.T) {
			before := e.counts(t)
			_, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: req.GetRequestId(),
				ApplicationId: first.GetApplication().GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"})
			testenv.WantField(t, err, "request_id")
			e.wantCounts(t, before)
		})
		t.Run("request ids belong to their caller", func(t *testing.T) {
			before := e.counts(t)
			other := proto.Clone(req).(*pb.SubmitApplicationRequest)
			other.Candidate = candidate("Mary Somerville")
			resp, err := e.as(t, spocTwo).SubmitApplication(ctx, other)
			if err != nil {
				t.Fatalf("another caller's request with the same id: %v", err)
			}
			if resp.GetApplication().GetId() == first.GetApplication().GetId() {
				t.Error("another caller got the first caller's response")
			}
			e.wantCounts(t, map[string]int{"applications": before["applications"] + 1, "request_log": before["request_log"] + 1})
		})
	})

	t.Run("a refused request can be retried", func(t *testing.T) {
		before := e.counts(t)
		req := &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: &pb.Candidate{Name: "Emmy Noether", Email: "emmy@"}}
		_, err := spoc.SubmitApplication(ctx, req)
		testenv.WantField(t, err, "candidate.email")
		e.wantCounts(t, before)
		// Nothing was recorded, so the id still works for the corrected
		// request.
		req.Candidate.Email = "emmy@example.org"
		if _, err := spoc.SubmitApplication(ctx, req); err != nil {
			t.Fatalf("corrected request with the refused request's id: %v", err)
		}
	})

	t.Run("concurrent retries apply once", func(t *testing.T) {
		before := e.counts(t)
		req := &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Katherine Johnson")}
		const n = 20
		resps := make([]*pb.SubmitApplicationResponse, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				resps[i], errs[i] = spoc.SubmitApplication(ctx, req)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("call %d: %v", i, errs[i])
			}
			if !proto.Equal(resps[i], resps[0]) {
				t.Fatalf("call %d answered %v, call 0 %v", i, resps[i], resps[0])
			}
		}
		e.wantCounts(t, map[string]int{"applications": before["applications"] + 1, "outbox": before["outbox"] + 1, "request_log": before["request_log"] + 1})
	})

	t.Run("withdraw retry returns the first response", func(t *testing.T) {
		a := e.submit(t, spoc, c.GetId(), candidate("Hedy Lamarr"))
		req := &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"}
		first, err := spoc.WithdrawApplication(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		// Without the request log this retry would be a stale, terminal
		// withdrawal: Aborted.
		again, err := spoc.WithdrawApplication(ctx, req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if !proto.Equal(again, first) {
			t.Errorf("retry answered %v, want %v", again, first)
		}
		if evs := testenv.OutboxEvents(t, e.Pool, a.GetId()); len(evs) != 2 {
			t.Errorf("%d events for the application, want submitted and one withdrawn", len(evs))
		}
	})
}

func TestWithdrawApplication(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	spoc := e.as(t, spocLondon)
	c := e.openCampaign(t, "london")

	t.Run("success", func(t *testing.T) {
		a := e.submit(t, spoc, c.GetId(), candidate("Ada Lovelace"))
		resp, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "accepted_other_job"})
		if err != nil {
			t.Fatal(err)
		}
		w := resp.GetApplication()
		if w.GetStage() != commonv1.Stage_STAGE_WITHDRAWN || w.GetVersion() != 2 || w.GetWithdrawalReasonCode() != "accepted_other_job" ||
			!w.GetWithdrawnAt().AsTime().Equal(now) || !w.GetStageEnteredAt().AsTime().Equal(now) || !proto.Equal(w.GetCandidate(), a.GetCandidate()) {
			t.Errorf("withdrawn application = %v", w)
		}
		got, err := spoc.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: a.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got.GetApplication(), w) {
			t.Errorf("GetApplication = %v, want the withdrawal's response %v", got.GetApplication(), w)
		}
		evs := testenv.OutboxEvents(t, e.Pool, a.GetId())
		if len(evs) != 2 || evs[1].Subject != "london.application.withdrawn" {
			t.Fatalf("events = %v, want submitted then london.application.withdrawn", evs)
		}
		ev := evs[1].Event
		p := ev.GetApplicationWithdrawn()
		if p.GetStage() != commonv1.Stage_STAGE_SIFT || p.GetReasonCode() != "accepted_other_job" || ev.GetAggregateVersion() != 2 ||
			ev.GetProducer() != "applications" || ev.GetActor().GetSubject() != "spoc-london" || ev.GetCampaignId() != c.GetId() {
			t.Errorf("withdrawn event = %v", ev)
		}
	})

	t.Run("records the stage it left", func(t *testing.T) {
		a := e.submit(t, spoc, c.GetId(), candidate("Grace Hopper"))
		e.moveTo(t, a, &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}, &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}})
		// Stage tracking leaves the version alone: it numbers this service's own changes.
		resp, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetApplication().GetVersion() != 2 || evsVersion(t, e, a.GetId()) != 2 {
			t.Errorf("version %d, want 2, with aggregate_version 2 on the event (no gap)", resp.GetApplication().GetVersion())
		}
		evs := testenv.OutboxEvents(t, e.Pool, a.GetId())
		if len(evs) != 2 || evs[1].Event.GetApplicationWithdrawn().GetStage() != commonv1.Stage_STAGE_OFFER {
			t.Errorf("events = %v, want a withdrawal from STAGE_OFFER", evs)
		}
	})

	t.Run("stale expected_version", func(t *testing.T) {
		a := e.submit(t, spoc, c.GetId(), candidate("Mary Somerville"))
		before := e.counts(t)
		for _, v := range []int64{2, 7} {
			_, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: v, ReasonCode: "candidate_request"})
			testenv.WantStatus(t, err, codes.Aborted)
		}
		e.wantCounts(t, before)
	})

	t.Run("twice", func(t *testing.T) {
		a := e.submit(t, spoc, c.GetId(), candidate("Emmy Noether"))
		if _, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"}); err != nil {
			t.Fatal(err)
		}
		before := e.counts(t)
		_, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 2, ReasonCode: "candidate_request"})
		st := testenv.WantStatus(t, err, codes.FailedPrecondition)
		if !strings.Contains(st.Message(), "WITHDRAWN") {
			t.Errorf("message %q does not name the current stage", st.Message())
		}
		e.wantCounts(t, before)
	})

	t.Run("from a terminal stage", func(t *testing.T) {
		for _, tc := range []struct {
			stage  string
			events []any
		}{
			{"HIRED", []any{&eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}, &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{}}}},
			{"REJECTED", []any{&eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "insufficient_evidence"}}}},
		} {
			a := e.submit(t, spoc, c.GetId(), candidate("Terminal "+tc.stage))
			e.moveTo(t, a, tc.events...)
			_, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"})
			st := testenv.WantStatus(t, err, codes.FailedPrecondition)
			if !strings.Contains(st.Message(), tc.stage) {
				t.Errorf("message %q does not name %s", st.Message(), tc.stage)
			}
		}
	})

	t.Run("unknown application", func(t *testing.T) {
		before := e.counts(t)
		_, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: event.NewID(), ExpectedVersion: 1, ReasonCode: "candidate_request"})
		testenv.WantStatus(t, err, codes.NotFound)
		_, err = spoc.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: event.NewID()})
		testenv.WantStatus(t, err, codes.NotFound)
		e.wantCounts(t, before)
	})
}

// moveTo applies stage owners' events to a, as the stage consumer would.
func (e *env) moveTo(t *testing.T, a *pb.Application, payloads ...any) {
	t.Helper()
	for i, p := range payloads {
		ev := &eventsv1.Event{EventId: event.NewID(), ApplicationId: a.GetId(), Region: a.GetRegion(), CampaignId: a.GetCampaignId(),
			OccurredAt: a.GetSubmittedAt(), Producer: "sifting", AggregateVersion: int64(i + 1),
			Actor: &commonv1.Actor{Subject: "spoc-london", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}}
		switch p := p.(type) {
		case *eventsv1.Event_SiftPassed:
			ev.Payload = p
		case *eventsv1.Event_SiftFailed:
			ev.Payload = p
		case *eventsv1.Event_InterviewPassed:
			ev.Payload = p
		case *eventsv1.Event_OfferAccepted:
			ev.Payload = p
		case *eventsv1.Event_CandidateStarted:
			ev.Payload = p
		default:
			t.Fatalf("moveTo: unhandled %T", p)
		}
		if err := e.svc.ApplyStageEvent(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentWithdrawals(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	spoc := e.as(t, spocLondon)
	a := e.submit(t, spoc, e.openCampaign(t, "london").GetId(), candidate("Ada Lovelace"))
	before := e.counts(t)

	testenv.OneWins(t, 30, func(int) (any, error) {
		return spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: a.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"})
	})
	if withdrawn := testenv.CountEvents(t, e.Pool, a.GetId(), "application.withdrawn"); withdrawn != 1 {
		t.Errorf("%d withdrawn events in the outbox, want 1", withdrawn)
	}
	// Only the winner's request id is recorded; the losers rolled back.
	e.wantCounts(t, map[string]int{"applications": before["applications"], "outbox": before["outbox"] + 1, "request_log": before["request_log"] + 1})
	got, err := spoc.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: a.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetApplication().GetVersion() != 2 || got.GetApplication().GetStage() != commonv1.Stage_STAGE_WITHDRAWN {
		t.Errorf("application = %v, want WITHDRAWN at version 2", got.GetApplication())
	}
}

func ids[T interface{ GetId() string }](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.GetId()
	}
	return out
}

func TestListApplications(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	spoc := e.as(t, spocLondon)
	c1, c2 := e.openCampaign(t, "london"), e.openCampaign(t, "london")
	var inC1 []string
	for _, who := range []string{"Ada Lovelace", "Grace Hopper", "Mary Somerville", "Emmy Noether", "Hedy Lamarr"} {
		inC1 = append(inC1, e.submit(t, spoc, c1.GetId(), candidate(who)).GetId())
	}
	slices.Sort(inC1) // the listing order: by id
	other := e.submit(t, spoc, c2.GetId(), candidate("Katherine Johnson"))
	withdrawn := e.submit(t, spoc, c2.GetId(), candidate("Rosalind Franklin"))
	if _, err := spoc.WithdrawApplication(ctx, &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: withdrawn.GetId(), ExpectedVersion: 1, ReasonCode: "candidate_request"}); err != nil {
		t.Fatal(err)
	}

	// all pages through every page of req.
	all := func(t *testing.T, c pb.ApplicationsServiceClient, req *pb.ListApplicationsRequest) (got []string, pages []int) {
		t.Helper()
		for {
			resp, err := c.ListApplications(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(resp.GetApplications())...)
			pages = append(pages, len(resp.GetApplications()))
			if resp.GetNextPageToken() == "" {
				return got, pages
			}
			if len(pages) > 10 {
				t.Fatal("more pages than applications")
			}
			req = proto.Clone(req).(*pb.ListApplicationsRequest)
			req.PageToken = resp.GetNextPageToken()
		}
	}

	t.Run("pages visit each once in id order", func(t *testing.T) {
		got, pages := all(t, spoc, &pb.ListApplicationsRequest{CampaignId: c1.GetId(), PageSize: 2})
		if !slices.Equal(got, inC1) || !slices.Equal(pages, []int{2, 2, 1}) {
			t.Errorf("pages %v = %v, want pages [2 2 1] of %v", pages, got, inC1)
		}
		// A page that ends exactly at the last application has no next token.
		got, pages = all(t, spoc, &pb.ListApplicationsRequest{CampaignId: c1.GetId(), PageSize: 5})
		if !slices.Equal(got, inC1) || !slices.Equal(pages, []int{5}) {
			t.Errorf("page size 5: pages %v = %v", pages, got)
		}
	})

	t.Run("filters", func(t *testing.T) {
		all7 := append(slices.Clone(inC1), other.GetId(), withdrawn.GetId())
		slices.Sort(all7)
		sift := append(slices.Clone(inC1), other.GetId())
		slices.Sort(sift)
		tests := []struct {
			name string
			req  *pb.ListApplicationsRequest
			want []string
		}{
			{"none", &pb.ListApplicationsRequest{}, all7},
			{"campaign", &pb.ListApplicationsRequest{CampaignId: c2.GetId()}, []string{other.GetId(), withdrawn.GetId()}},
			{"stage", &pb.ListApplicationsRequest{Stage: commonv1.Stage_STAGE_WITHDRAWN}, []string{withdrawn.GetId()}},
			{"stage sift", &pb.ListApplicationsRequest{Stage: commonv1.Stage_STAGE_SIFT}, sift},
			{"campaign and stage", &pb.ListApplicationsRequest{CampaignId: c2.GetId(), Stage: commonv1.Stage_STAGE_SIFT}, []string{other.GetId()}},
			{"no match", &pb.ListApplicationsRequest{CampaignId: c1.GetId(), Stage: commonv1.Stage_STAGE_WITHDRAWN}, nil},
			{"unknown campaign", &pb.ListApplicationsRequest{CampaignId: event.NewID()}, nil},
			{"region", &pb.ListApplicationsRequest{Region: "london", Stage: commonv1.Stage_STAGE_WITHDRAWN}, []string{withdrawn.GetId()}},
			{"filtered and paged", &pb.ListApplicationsRequest{Stage: commonv1.Stage_STAGE_SIFT, PageSize: 4}, sift},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got, _ := all(t, spoc, tt.req); !slices.Equal(got, tt.want) {
					t.Errorf("ListApplications(%v) = %v, want %v", tt.req, got, tt.want)
				}
			})
		}
	})

	t.Run("regions", func(t *testing.T) {
		wales := e.openCampaign(t, "wales")
		kent := e.openCampaign(t, "kent-surrey-sussex")
		inWales := e.submit(t, e.as(t, spocWales), wales.GetId(), candidate("Betsi Cadwaladr"))
		inKent := e.submit(t, e.as(t, spocKent), kent.GetId(), candidate("Octavia Hill"))
		two := e.as(t, spocTwo)
		got, _ := all(t, two, &pb.ListApplicationsRequest{})
		for _, want := range append(slices.Clone(inC1), inWales.GetId()) {
			if !slices.Contains(got, want) {
				t.Errorf("two-region SPOC does not see %s", want)
			}
		}
		if slices.Contains(got, inKent.GetId()) || len(got) != 8 {
			t.Errorf("two-region SPOC sees %d applications %v; want the 7 in London and the one in Wales, none in Kent", len(got), got)
		}
		if got, _ := all(t, two, &pb.ListApplicationsRequest{Region: "wales"}); !slices.Equal(got, []string{inWales.GetId()}) {
			t.Errorf("region wales = %v, want only %s", got, inWales.GetId())
		}
		if got, _ := all(t, spoc, &pb.ListApplicationsRequest{}); slices.Contains(got, inWales.GetId()) || slices.Contains(got, inKent.GetId()) {
			t.Errorf("London SPOC sees other regions: %v", got)
		}
		_, err := two.ListApplications(ctx, &pb.ListApplicationsRequest{Region: "kent-surrey-sussex"})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		if got, _ := all(t, e.as(t, admin), &pb.ListApplicationsRequest{}); len(got) != 9 {
			t.Errorf("admin sees %d applications, want all 9", len(got))
		}
	})

	t.Run("get returns the candidate", func(t *testing.T) {
		want := candidate("Ada Lovelace")
		a := e.submit(t, spoc, c2.GetId(), want)
		got, err := spoc.GetApplication(ctx, &pb.GetApplicationRequest{ApplicationId: a.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got.GetApplication().GetCandidate(), want) || !proto.Equal(got.GetApplication(), a) {
			t.Errorf("GetApplication = %v, want %v", got.GetApplication(), a)
		}
	})
}

func TestCampaigns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := t.Context()
	adm := e.as(t, admin)
	var london []string
	for range 3 {
		london = append(london, e.openCampaign(t, "london").GetId())
	}
	rolling := e.campaign(t, "london", date(2026, 1, 5), nil)
	london = append(london, rolling.GetId())
	slices.Reverse(london) // newest first
	wales := e.openCampaign(t, "wales")

	t.Run("created", func(t *testing.T) {
		if rolling.GetClosesOn() != nil || rolling.GetVersion() != 1 || rolling.GetPosts() != 25 || rolling.GetRegion() != "london" ||
			!proto.Equal(rolling.GetOpensOn(), date(2026, 1, 5)) || !rolling.GetCreatedAt().AsTime().Equal(now) {
			t.Errorf("rolling campaign = %v", rolling)
		}
		evs := testenv.OutboxEvents(t, e.Pool, rolling.GetId())
		if len(evs) != 1 || evs[0].Subject != "london.campaign.created" {
			t.Fatalf("events = %v, want one london.campaign.created", evs)
		}
		d := evs[0].Event.GetCampaignCreated().GetCampaign()
		if d.GetPosts() != 25 || !proto.Equal(d.GetOpensOn(), date(2026, 1, 5)) || d.GetClosesOn() != nil || evs[0].Event.GetActor().GetSubject() != "admin-1" {
			t.Errorf("campaign.created = %v", evs[0].Event)
		}
	})

	t.Run("list newest first", func(t *testing.T) {
		for _, c := range []auth.Claims{spocLondon, dashboard, vetting} {
			var got []string
			req := &pb.ListCampaignsRequest{PageSize: 3}
			for {
				resp, err := e.as(t, c).ListCampaigns(ctx, req)
				if err != nil {
					t.Fatalf("%s: %v", c.Subject, err)
				}
				got = append(got, ids(resp.GetCampaigns())...)
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if !slices.Equal(got, london) {
				t.Errorf("%s lists %v, want London's newest first %v", c.Subject, got, london)
			}
		}
		resp, err := adm.ListCampaigns(ctx, &pb.ListCampaignsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if want := append([]string{wales.GetId()}, london...); !slices.Equal(ids(resp.GetCampaigns()), want) {
			t.Errorf("admin lists %v, want %v", ids(resp.GetCampaigns()), want)
		}
	})

	t.Run("update", func(t *testing.T) {
		id := london[1]
		req := &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: id, ExpectedVersion: 1,
			Title: "Probation officers (extended)", Posts: 40, OpensOn: date(2026, 11, 1), ClosesOn: date(2027, 1, 31)}
		resp, err := adm.UpdateCampaign(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		u := resp.GetCampaign()
		if u.GetVersion() != 2 || u.GetTitle() != req.GetTitle() || u.GetPosts() != 40 || !proto.Equal(u.GetClosesOn(), date(2027, 1, 31)) ||
			u.GetRegion() != "london" || u.GetRole() != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER {
			t.Errorf("updated campaign = %v", u)
		}
		got, err := e.as(t, spocLondon).GetCampaign(ctx, &pb.GetCampaignRequest{CampaignId: id})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got.GetCampaign(), u) {
			t.Errorf("GetCampaign = %v, want %v", got.GetCampaign(), u)
		}
		evs := testenv.OutboxEvents(t, e.Pool, id)
		if len(evs) != 2 || evs[1].Subject != "london.campaign.updated" {
			t.Fatalf("events = %v, want created then london.campaign.updated", evs)
		}
		ev := evs[1].Event
		d := ev.GetCampaignUpdated().GetCampaign()
		if ev.GetAggregateVersion() != 2 || ev.GetCampaignId() != id || d.GetTitle() != req.GetTitle() || d.GetPosts() != 40 ||
			!proto.Equal(d.GetClosesOn(), date(2027, 1, 31)) || ev.GetRole() != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER {
			t.Errorf("campaign.updated = %v", ev)
		}

		before := e.counts(t)
		stale := proto.Clone(req).(*pb.UpdateCampaignRequest)
		stale.RequestId, stale.Posts = reqID(), 50
		_, err = adm.UpdateCampaign(ctx, stale)
		testenv.WantStatus(t, err, codes.Aborted)
		e.wantCounts(t, before)

		_, err = adm.UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: event.NewID(), ExpectedVersion: 1,
			Title: "Nobody", Posts: 1, OpensOn: date(2026, 11, 1)})
		testenv.WantStatus(t, err, codes.NotFound)
		e.wantCounts(t, before)
	})

	t.Run("closing an open campaign stops submissions", func(t *testing.T) {
		id := london[2]
		if _, err := adm.UpdateCampaign(ctx, &pb.UpdateCampaignRequest{RequestId: reqID(), CampaignId: id, ExpectedVersion: 1,
			Title: "Closed early", Posts: 25, OpensOn: date(2026, 11, 1), ClosesOn: date(2026, 11, 20)}); err != nil {
			t.Fatal(err)
		}
		_, err := e.as(t, spocLondon).SubmitApplication(ctx, &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: id, Candidate: candidate("Late Applicant")})
		testenv.WantField(t, err, "campaign_id")
	})

	t.Run("get", func(t *testing.T) {
		got, err := e.as(t, dashboard).GetCampaign(ctx, &pb.GetCampaignRequest{CampaignId: rolling.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got.GetCampaign(), rolling) {
			t.Errorf("GetCampaign = %v, want %v", got.GetCampaign(), rolling)
		}
		_, err = adm.GetCampaign(ctx, &pb.GetCampaignRequest{CampaignId: event.NewID()})
		testenv.WantStatus(t, err, codes.NotFound)
	})
}

// evsVersion is the aggregate_version of the application's last event.
func evsVersion(t *testing.T, e *env, id string) int64 {
	t.Helper()
	evs := testenv.OutboxEvents(t, e.Pool, id)
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	return evs[len(evs)-1].Event.GetAggregateVersion()
}
