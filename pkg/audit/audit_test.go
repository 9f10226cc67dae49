package audit_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/grpcserver"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	unaryCall  = "/grpc.testing.TestService/UnaryCall"
	streamCall = "/grpc.testing.TestService/StreamingOutputCall"
)

// policy treats gRPC's test service as one holding personal data, the
// record id in response_status.message.
var policy = audit.Policy{Service: "grpc.testing.TestService", Methods: map[string]audit.Rule{
	"EmptyCall":           audit.NotPersonal("nothing"),
	"UnaryCall":           audit.Read(audit.Request("response_status.message")),
	"CacheableUnaryCall":  audit.NotPersonal("nothing"),
	"StreamingOutputCall": audit.Read(audit.Request("response_status.message")),
	"StreamingInputCall":  audit.NotPersonal("nothing"),
	"FullDuplexCall":      audit.NotPersonal("nothing"),
	"HalfDuplexCall":      audit.NotPersonal("nothing"),
	"UnimplementedCall":   audit.NotPersonal("nothing"),
}}

var spoc = auth.Claims{Subject: "spoc-1", Role: auth.RoleSPOC, Regions: []string{"london"}}

type fixture struct {
	pool *pgxpool.Pool
	rec  *audit.Recorder
	reg  *prometheus.Registry
	mu   sync.Mutex
	now  time.Time
}

func setup(t *testing.T) *fixture {
	t.Helper()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(context.Background(), pool, audit.Migrations); err != nil {
		t.Fatal(err)
	}
	f := &fixture{pool: pool, rec: audit.New(pool, quiet), reg: prometheus.NewRegistry(), now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	f.reg.MustRegister(f.rec)
	f.rec.SetClock(func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now })
	f.rec.Declare(policy)
	return f
}

func (f *fixture) setNow(t time.Time) { f.mu.Lock(); defer f.mu.Unlock(); f.now = t }

// call runs a unary call to unaryCall for record id through the
// interceptor, as caller, with handler's answer.
func (f *fixture) call(caller auth.Claims, id string, handlerErr error) (any, error) {
	req := &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Message: id}}
	return f.rec.UnaryServerInterceptor()(auth.WithClaims(context.Background(), caller), req, &grpc.UnaryServerInfo{FullMethod: unaryCall},
		func(context.Context, any) (any, error) {
			if handlerErr != nil {
				return nil, handlerErr
			}
			return &testpb.SimpleResponse{Username: "Ada Lovelace"}, nil
		})
}

func (f *fixture) rows(t *testing.T) []string {
	t.Helper()
	var out []string
	rows, err := f.pool.Query(context.Background(), `SELECT coalesce(record_ids[1], '-') || ' ' || outcome FROM audit_event ORDER BY occurred_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func (f *fixture) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestPruneRemovesOnlyOldEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	day := 24 * time.Hour
	start := f.now
	for i, age := range []time.Duration{800 * day, 731 * day, 729 * day, day} {
		f.setNow(start.Add(-age))
		if _, err := f.call(spoc, "r"+string(rune('0'+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	f.setNow(start)
	n, err := f.rec.Prune(context.Background(), start.Add(-audit.DefaultRetention))
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 events older than 730 days", n, err)
	}
	if got := f.rows(t); !slices.Equal(got, []string{"r2 OK", "r3 OK"}) {
		t.Errorf("left after pruning: %v", got)
	}
	if got := f.metric(t, "audit_events_pruned_total"); got != 2 {
		t.Errorf("audit_events_pruned_total = %v, want 2", got)
	}

	// The job prunes at start with the configured retention.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.rec.Pruner(100*day, time.Hour)(ctx) }()
	testenv.Eventually(t, "the pruner to delete the event older than 100 days", func() (bool, string) {
		got := f.rows(t)
		return slices.Equal(got, []string{"r3 OK"}), strings.Join(got, ", ")
	})
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Pruner ended with %v, want context.Canceled", err)
	}
	if err := f.rec.Pruner(-time.Hour, time.Hour)(context.Background()); err == nil || !strings.Contains(err.Error(), "AUDIT_RETENTION") {
		t.Errorf("a negative retention: %v, want an error naming AUDIT_RETENTION", err)
	}
}

// TestWriteFailures: a read whose event cannot be written is refused,
// a refused call keeps its own answer; both are counted.
func TestWriteFailures(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if _, err := f.pool.Exec(context.Background(), `DROP TABLE audit_event`); err != nil {
		t.Fatal(err)
	}
	resp, err := f.call(spoc, "r1", nil)
	if status.Code(err) != codes.Internal || resp != nil {
		t.Errorf("unrecorded read = %v, %v; want Internal and no response", resp, err)
	}
	_, err = f.call(spoc, "r1", status.Error(codes.PermissionDenied, "no"))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("refused call = %v, want its own PermissionDenied", err)
	}
	if got := f.metric(t, "audit_write_failures_total"); got != 2 {
		t.Errorf("audit_write_failures_total = %v, want 2", got)
	}
}

// TestNotPersonalAndUnauthenticatedCallsAreNotRecorded: the trail holds
// what touches personal data, by an authenticated caller.
func TestNotPersonalAndUnauthenticatedCallsAreNotRecorded(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ok := func(context.Context, any) (any, error) { return &testpb.Empty{}, nil }
	icpt := f.rec.UnaryServerInterceptor()
	if _, err := icpt(auth.WithClaims(context.Background(), spoc), &testpb.Empty{}, &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/EmptyCall"}, ok); err != nil {
		t.Fatal(err)
	}
	if _, err := icpt(context.Background(), &testpb.SimpleRequest{}, &grpc.UnaryServerInfo{FullMethod: unaryCall}, ok); err != nil {
		t.Fatal(err)
	}
	if got := f.rows(t); len(got) != 0 {
		t.Errorf("recorded %v", got)
	}
	// A method no policy declares is recorded rather than let through.
	if _, err := icpt(auth.WithClaims(context.Background(), spoc), &testpb.Empty{}, &grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"}, ok); err != nil {
		t.Fatal(err)
	}
	if got := f.rows(t); len(got) != 1 {
		t.Errorf("undeclared method: recorded %v, want one row", got)
	}
}

type streamer struct {
	testpb.UnimplementedTestServiceServer
}

func (streamer) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if req.GetResponseStatus().GetCode() != 0 {
		return status.Error(codes.Code(req.GetResponseStatus().GetCode()), "refused")
	}
	return ss.Send(&testpb.StreamingOutputCallResponse{})
}

// TestStreamsAreRecorded: a server stream over real gRPC, after
// authentication, is recorded with its request's record id and outcome.
func TestStreamsAreRecorded(t *testing.T) {
	t.Parallel()
	f := setup(t)
	srv := testenv.StartGRPCWith(t, "audit-test-key-0123456789abcdef0123", quiet, func(s *grpc.Server) {
		testpb.RegisterTestServiceServer(s, streamer{})
	}, grpcserver.Options{Unary: []grpc.UnaryServerInterceptor{f.rec.UnaryServerInterceptor()},
		Stream: []grpc.StreamServerInterceptor{f.rec.StreamServerInterceptor()}})
	client := testpb.NewTestServiceClient(testenv.Dial(t, srv.Addr, testenv.Token(t, srv.Signer, spoc)))
	for _, tc := range []struct {
		id   string
		code codes.Code
	}{{"s1", codes.OK}, {"s2", codes.PermissionDenied}} {
		st, err := client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(tc.code), Message: tc.id}})
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = st.Recv()
		}
		if err != io.EOF && status.Code(err) != tc.code {
			t.Fatalf("stream %s ended %v", tc.id, err)
		}
	}
	testenv.Eventually(t, "both streams recorded", func() (bool, string) {
		got := f.rows(t)
		return slices.Equal(got, []string{"s1 OK", "s2 PERMISSION_DENIED"}), strings.Join(got, ", ")
	})
}

func TestCoversCatchesWhatThePolicyMisses(t *testing.T) {
	t.Parallel()
	sd := testpb.File_grpc_testing_test_proto.Services().ByName("TestService")
	if err := policy.Covers(sd); err != nil {
		t.Fatalf("complete policy: %v", err)
	}
	incomplete := audit.Policy{Service: policy.Service, Methods: map[string]audit.Rule{}}
	for name, r := range policy.Methods {
		incomplete.Methods[name] = r
	}
	delete(incomplete.Methods, "UnaryCall")
	incomplete.Methods["RemovedCall"] = audit.NotPersonal("gone")
	incomplete.Methods["StreamingOutputCall"] = audit.Read(audit.Request("response_status.code"), audit.Response("nope"))
	incomplete.Methods["EmptyCall"] = audit.NotPersonal("")
	err := incomplete.Covers(sd)
	for _, want := range []string{"UnaryCall: not declared", "no method RemovedCall", "response_status.code", "field code is not a string",
		"has no field nope", "EmptyCall: NotPersonal needs a reason"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Covers = %v, want it to say %q", err, want)
		}
	}
}
