package grpcapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/monitoring/handoff"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/privacy"
	"github.com/probation-recruitment/pipeline/pkg/servicetest"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/grpcapi"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
	"github.com/probation-recruitment/pipeline/services/applications/internal/store"
)

// withEquality is setup with an equality store beside the service's
// schema: its answers table in a schema of its own, as the equality
// service migrates it.
func withEquality(t *testing.T) (*env, *pgxpool.Pool) {
	t.Helper()
	return withEqualityLogging(t, quiet)
}

// withEqualityLogging is withEquality logging to log.
func withEqualityLogging(t *testing.T, log *slog.Logger) (*env, *pgxpool.Pool) {
	t.Helper()
	eqPool, eqSchema := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), eqPool, handoff.Migrations); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{}
	e.Service = servicetest.Start(t, log, []pg.Migrations{store.Migrations}, func(s *grpc.Server, pool *pgxpool.Pool) {
		e.svc = intake.NewService(store.New(pool), func() time.Time { return now }, loc)
		api := grpcapi.New(e.svc, pool, log).WithEquality(eqSchema)
		pb.RegisterApplicationsServiceServer(s, api)
		privacy.Register(s, "applications", api.Export, quiet)
	}, grpcapi.Audit, privacy.Policy)
	return e, eqPool
}

// Distinctive answers, to look for everywhere the applications service
// keeps or returns anything.
var answers = &equalityv1.MonitoringAnswers{ReligionOrBelief: "sikh", SexualOrientation: "bisexual", AgeBand: "65_plus", JusticeExperience: "yes"}

func storedAnswers(t *testing.T, eqPool *pgxpool.Pool, id string) (religion, orientation *string) {
	t.Helper()
	err := eqPool.QueryRow(context.Background(), `SELECT religion_or_belief, sexual_orientation FROM answers WHERE application_id = $1`, id).
		Scan(&religion, &orientation)
	if err != nil {
		return nil, nil
	}
	return religion, orientation
}

// Answers given with a submission go to the equality store in the
// submission's transaction and nowhere in the applications service: not
// its tables, not its events (the outbox payloads), not its request log or
// audit trail, and no read returns them — GetApplication,
// ListApplications, the subject access export of applications.
func TestMonitoringAnswersLeaveApplications(t *testing.T) {
	t.Parallel()
	e, eqPool := withEquality(t)
	c := e.openCampaign(t, "london")
	resp, err := e.as(t, spocLondon).SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{
		RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Harpreet Singh"), Monitoring: answers})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetApplication().GetId()
	if r, o := storedAnswers(t, eqPool, id); r == nil || *r != "sikh" || o == nil || *o != "bisexual" {
		t.Fatalf("the equality store holds %v %v; want the answers", r, o)
	}
	var schema string
	if err := e.Pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if held := testenv.Holding(t, e.Pool, schema, nil, "sikh", "bisexual", "65_plus"); len(held) > 0 {
		t.Errorf("the applications schema holds monitoring answers: %v", held)
	}
	if names := testenv.EventNames(testenv.OutboxEvents(t, e.Pool, id)); len(names) != 1 || names[0] != "application.submitted" {
		t.Errorf("events %v; want application.submitted alone", names)
	}

	got, err := e.as(t, spocLondon).GetApplication(t.Context(), &pb.GetApplicationRequest{ApplicationId: id})
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.as(t, spocLondon).ListApplications(t.Context(), &pb.ListApplicationsRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	export, err := privacyv1.NewPrivacyServiceClient(e.As(t, admin)).ExportCandidate(t.Context(), &privacyv1.ExportCandidateRequest{ApplicationId: id})
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"GetApplication": prototext.Format(got), "ListApplications": prototext.Format(list),
		"ExportCandidate": prototext.Format(export) + string(mustMarshal(t, export))} {
		for _, a := range []string{"sikh", "bisexual", "65_plus"} {
			if strings.Contains(text, a) {
				t.Errorf("%s returns the answer %q", what, a)
			}
		}
	}
}

func mustMarshal(t *testing.T, r *privacyv1.ExportCandidateResponse) []byte {
	t.Helper()
	var b []byte
	for _, a := range r.GetRecords() {
		b = append(b, a.GetValue()...)
	}
	return b
}

// An answer outside its question's codes is refused, naming the field and
// the codes, never echoing the value; nothing is stored. A deployment
// without an equality store refuses answers rather than dropping them.
func TestMonitoringAnswersValidated(t *testing.T) {
	t.Parallel()
	e, eqPool := withEquality(t)
	c := e.openCampaign(t, "london")
	_, err := e.as(t, spocLondon).SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{
		RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Ann Other"),
		Monitoring: &equalityv1.MonitoringAnswers{EthnicGroup: "martian-xyz"}})
	st := testenv.WantStatus(t, err, codes.InvalidArgument, "prefer_not_to_say")
	testenv.WantField(t, err, "monitoring.ethnic_group")
	if strings.Contains(st.String(), "martian-xyz") {
		t.Errorf("the refusal echoes the answer: %v", st)
	}
	var n int
	if err := eqPool.QueryRow(context.Background(), `SELECT count(*) FROM answers`).Scan(&n); err != nil || n != 0 {
		t.Errorf("answers stored: %d, %v; want none", n, err)
	}

	plain := setup(t)
	pc := plain.openCampaign(t, "london")
	_, err = plain.as(t, spocLondon).SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{
		RequestId: reqID(), CampaignId: pc.GetId(), Candidate: candidate("Ann Other"), Monitoring: answers})
	testenv.WantField(t, err, "monitoring")
}

// Imported rows carry answers too: deposited for the rows imported, not
// for a row refused.
func TestImportDepositsMonitoringAnswers(t *testing.T) {
	t.Parallel()
	e, eqPool := withEquality(t)
	good, bad := fullRow("EQ-1"), fullRow("EQ-2")
	good.Monitoring = answers
	bad.Monitoring = &equalityv1.MonitoringAnswers{Sex: "sometimes"}
	resp, err := e.as(t, admin).ImportApplications(context.Background(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{good, bad}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetImported() != 1 || resp.GetFailed() != 1 {
		t.Fatalf("imported %d, failed %d; want 1 and 1", resp.GetImported(), resp.GetFailed())
	}
	id := resp.GetResults()[0].GetApplicationId()
	if r, _ := storedAnswers(t, eqPool, id); r == nil || *r != "sikh" {
		t.Errorf("imported row's answers: %v; want deposited", r)
	}
	var n int
	if err := eqPool.QueryRow(context.Background(), `SELECT count(*) FROM answers`).Scan(&n); err != nil || n != 1 {
		t.Errorf("answers rows: %d, %v; want 1", n, err)
	}
}

// The attack: whoever reads the applications schema (its role, a backup)
// holds each request's SHA-256 digest in the request log and everything
// else the request carried (the request id, campaign, the candidate's
// details). The answers are a few codes each, so hashing the request again
// with every combination finds the one the candidate gave, unless the
// digest leaves the answers out. It must: no recomputation with answers —
// the true ones included — matches a stored digest, for a submission and
// for an import (its header and each row).
func TestRequestLogDigestHidesMonitoringAnswers(t *testing.T) {
	t.Parallel()
	e, _ := withEquality(t)
	c := e.openCampaign(t, "london")
	submit := &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Harpreet Singh"), Monitoring: answers}
	if _, err := e.as(t, spocLondon).SubmitApplication(t.Context(), submit); err != nil {
		t.Fatal(err)
	}
	row := fullRow("EQ-DIGEST")
	row.Monitoring = answers
	imp := &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{row}}
	if _, err := e.as(t, admin).ImportApplications(t.Context(), imp); err != nil {
		t.Fatal(err)
	}

	digest := func(m proto.Message) []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		return s[:]
	}
	stored := func(requestID string) []byte {
		var fp []byte
		if err := e.Pool.QueryRow(t.Context(), `SELECT fingerprint FROM request_log WHERE request_id = $1`, requestID).Scan(&fp); err != nil {
			t.Fatalf("request log row %q: %v", requestID, err)
		}
		return fp
	}
	// The attacker's guesses: the true answers and others.
	guesses := []*equalityv1.MonitoringAnswers{answers,
		{ReligionOrBelief: "christian", SexualOrientation: "bisexual", AgeBand: "65_plus", JusticeExperience: "yes"},
		{ReligionOrBelief: "sikh", SexualOrientation: "heterosexual", AgeBand: "65_plus", JusticeExperience: "yes"}}
	for _, g := range guesses {
		s := proto.Clone(submit).(*pb.SubmitApplicationRequest)
		s.Monitoring = g
		if bytes.Equal(digest(s), stored(submit.GetRequestId())) {
			t.Errorf("SubmitApplication: the request log's digest confirms the guess %v", g)
		}
		r := proto.Clone(row).(*pb.ImportRow)
		r.Monitoring = g
		if bytes.Equal(digest(r), stored(imp.GetRequestId()+" #0")) {
			t.Errorf("ImportApplications row: the request log's digest confirms the guess %v", g)
		}
		i := &pb.ImportApplicationsRequest{RequestId: imp.GetRequestId(), Rows: []*pb.ImportRow{r}}
		if bytes.Equal(digest(i), stored(imp.GetRequestId())) {
			t.Errorf("ImportApplications: the request log's digest confirms the guess %v", g)
		}
	}

	// A retry is still a retry (same application), and the id reused for
	// another candidate is still refused.
	again, err := e.as(t, spocLondon).SubmitApplication(t.Context(), submit)
	if err != nil {
		t.Fatal(err)
	}
	if first := again.GetApplication().GetId(); first == "" {
		t.Error("the retry answers no application")
	}
	if n := countApplications(t, e.Pool); n != 2 {
		t.Errorf("after a retry: %d applications; want 2 (the submission and the import)", n)
	}
	other := proto.Clone(submit).(*pb.SubmitApplicationRequest)
	other.Candidate = candidate("Someone Else")
	_, err = e.as(t, spocLondon).SubmitApplication(t.Context(), other)
	testenv.WantStatus(t, err, codes.InvalidArgument, "request_id")
}

func countApplications(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM applications`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The attack: run the service logging at debug and make it log all it
// can — a submission with answers, one refused for an answer outside the
// codes, an import, and a deposit that fails inside the database (its
// error logged as an Internal's detail) — then look for the answers in
// the log.
func TestMonitoringAnswersNeverLogged(t *testing.T) {
	t.Parallel()
	var logged syncBuffer
	e, eqPool := withEqualityLogging(t, slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c := e.openCampaign(t, "london")
	spoc := e.as(t, spocLondon)
	if _, err := spoc.SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{
		RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Harpreet Singh"), Monitoring: answers}); err != nil {
		t.Fatal(err)
	}
	_, err := spoc.SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Ann Other"),
		Monitoring: &equalityv1.MonitoringAnswers{ReligionOrBelief: "sikh", EthnicGroup: "martian-xyz"}})
	testenv.WantStatus(t, err, codes.InvalidArgument)
	row := fullRow("EQ-LOG")
	row.Monitoring = answers
	if _, err := e.as(t, admin).ImportApplications(t.Context(), &pb.ImportApplicationsRequest{RequestId: reqID(), Rows: []*pb.ImportRow{row}}); err != nil {
		t.Fatal(err)
	}
	// The deposit fails in the database: a constraint the answers break.
	if _, err := eqPool.Exec(t.Context(), `ALTER TABLE answers ADD CONSTRAINT no_sikh CHECK (religion_or_belief <> 'sikh') NOT VALID`); err != nil {
		t.Fatal(err)
	}
	_, err = spoc.SubmitApplication(t.Context(), &pb.SubmitApplicationRequest{
		RequestId: reqID(), CampaignId: c.GetId(), Candidate: candidate("Gurpreet Kaur"), Monitoring: answers})
	st := testenv.WantStatus(t, err, codes.Internal)
	text := logged.String()
	if !strings.Contains(text, "no_sikh") && !strings.Contains(text, "23514") {
		t.Fatalf("the failed deposit is not in the log; the search below proves nothing:\n%s", text)
	}
	for _, a := range []string{"sikh\"", "(sikh", "sikh,", "sikh)", "bisexual", "65_plus", "martian-xyz"} {
		if strings.Contains(text, a) || strings.Contains(st.String(), a) {
			t.Errorf("an answer (%q) is in the log or the status:\n%s\n%v", a, text, st)
		}
	}
}

// syncBuffer is a bytes.Buffer the server's goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
