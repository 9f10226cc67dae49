package e2e

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	collectortracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// exportedSpan is what the test keeps of a span a service exported.
type exportedSpan struct {
	service, name       string
	kind                tracev1.Span_SpanKind
	traceID, id, parent string
}

func (s exportedSpan) String() string {
	return fmt.Sprintf("%s %q (%s) span %s parent %s", s.service, s.name, s.kind, s.id, s.parent)
}

// otlpReceiver is an OTLP/HTTP collector endpoint (POST /v1/traces,
// protobuf) that keeps every span it is sent: what an operator's collector
// would receive from the services.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []exportedSpan
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{url: "http://" + lis.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.export)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	body := io.Reader(req.Body)
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var msg collectortracev1.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.GetResourceSpans() {
		var service string
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, exportedSpan{service: service, name: s.GetName(), kind: s.GetKind(),
					traceID: hex.EncodeToString(s.GetTraceId()), id: hex.EncodeToString(s.GetSpanId()), parent: hex.EncodeToString(s.GetParentSpanId())})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortracev1.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the spans received so far of traceID.
func (r *otlpReceiver) trace(traceID string) []exportedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exportedSpan
	for _, s := range r.spans {
		if s.traceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// env points a service at the receiver, exporting spans within 100 ms.
func (r *otlpReceiver) env() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + r.url, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_BSP_SCHEDULE_DELAY=100"}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// find returns the first of spans from service named name, if any.
func find(spans []exportedSpan, service, name string) (exportedSpan, bool) {
	i := slices.IndexFunc(spans, func(s exportedSpan) bool { return s.service == service && s.name == name })
	if i < 0 {
		return exportedSpan{}, false
	}
	return spans[i], true
}

// One submit's trace, begun by the caller's traceparent, runs from
// applications' call (its server span and transaction) through the relay's
// publish of application.submitted to sifting's and reporting's apply of
// it, each exported by its own service over OTLP: what an operator follows
// to see where a change went, and how long each step took.
func TestTraceFollowsASubmitToReportingsApply(t *testing.T) {
	t.Parallel()
	rcv := startOTLPReceiver(t)
	st := start(t, rcv.env()...)
	apps := applicationsv1.NewApplicationsServiceClient(st.conns["applications"])
	admin := token(t, "admin-1", auth.RoleAdmin)
	spoc := token(t, "spoc-london-1", auth.RoleSPOC, "london")
	ctx := context.Background()
	camp, err := apps.CreateCampaign(ctx, &applicationsv1.CreateCampaignRequest{
		RequestId: event.NewID(), Region: "london", Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Title: "Campaign", Posts: 5,
		OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 1},
	}, admin)
	if err != nil {
		t.Fatal(err)
	}

	// The caller's span: a trace id the test chose, sampled.
	traceID, callerSpan := randomHex(t, 16), randomHex(t, 8)
	traced := metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	if _, err := apps.SubmitApplication(traced, &applicationsv1.SubmitApplicationRequest{
		RequestId: event.NewID(), CampaignId: camp.GetCampaign().GetId(),
		Candidate: &applicationsv1.Candidate{Name: "Ada Lovelace", Email: "ada@example.org"},
	}, spoc); err != nil {
		t.Fatal(err)
	}

	const submitted = "recruitment.london.application.submitted"
	want := []struct{ service, name string }{
		{"applications", "recruitment.applications.v1.ApplicationsService/SubmitApplication"},
		{"applications", "pg.transaction"},
		{"applications", "publish " + submitted},
		{"sifting", "process " + submitted},
		{"reporting", "process " + submitted},
	}
	var spans []exportedSpan
	testenv.Eventually(t, "the submit's spans from applications, sifting and reporting", func() (bool, string) {
		spans = rcv.trace(traceID)
		var missing []string
		for _, w := range want {
			if _, ok := find(spans, w.service, w.name); !ok {
				missing = append(missing, w.service+" "+w.name)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %s; have %v", strings.Join(missing, ", "), spans)
	})

	call, _ := find(spans, "applications", want[0].name)
	tx, _ := find(spans, "applications", "pg.transaction")
	publish, _ := find(spans, "applications", "publish "+submitted)
	if call.kind != tracev1.Span_SPAN_KIND_SERVER || call.parent != callerSpan {
		t.Errorf("the call's span %v: want a server span, the child of the caller's %s", call, callerSpan)
	}
	if tx.parent != call.id {
		t.Errorf("the transaction's span %v: want the child of the call's %s", tx, call.id)
	}
	if publish.kind != tracev1.Span_SPAN_KIND_PRODUCER || publish.parent != call.id {
		t.Errorf("the relay's publish span %v: want a producer span, the child of the call's %s (kept with the outbox row)", publish, call.id)
	}
	for _, service := range []string{"sifting", "reporting"} {
		apply, _ := find(spans, service, "process "+submitted)
		if apply.kind != tracev1.Span_SPAN_KIND_CONSUMER || apply.parent != publish.id {
			t.Errorf("%s's apply %v: want a consumer span, the child of the publish span %s (the message's traceparent)", service, apply, publish.id)
		}
	}
}
