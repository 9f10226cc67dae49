package outbox

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/stream"
	"github.com/probation-recruitment/pipeline/pkg/tracing"
)

// recorder is a tracer provider that keeps every ended span in memory.
func recorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// The span that appends an event is the parent of the relay's publish
// span, whose traceparent the message carries: the trace goes on from the
// call that made the change to whoever consumes its event. An event
// appended outside any span is published without a traceparent.
func TestTraceParentTravelsFromAppendToTheMessage(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	tp, rec := recorder(t)
	ctx, call := tp.Tracer("test").Start(context.Background(), "call")
	traced, untraced := newEvent("london"), newEvent("wales")
	if err := pg.InTx(ctx, e.pool, func(tx pgx.Tx) error { return Append(ctx, tx, traced) }); err != nil {
		t.Fatal(err)
	}
	call.End()
	appendCommitted(t, e.pool, untraced)

	var stored *string
	if err := e.pool.QueryRow(ctx, `SELECT traceparent FROM outbox WHERE event_id = $1`, traced.GetEventId()).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := tracing.TraceParent(ctx); stored == nil || *stored != want {
		t.Fatalf("outbox row's traceparent = %v, want the appending span's %q", stored, want)
	}

	relay := NewRelay(e.pool, e.js, RelayConfig{Stream: e.cfg.Name, SubjectPrefix: e.cfg.SubjectPrefix, TracerProvider: tp}, quiet)
	if n, err := relay.PublishBatch(context.Background()); err != nil || n != 2 {
		t.Fatalf("PublishBatch = %d, %v; want 2, nil", n, err)
	}
	var publish sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "publish recruitment.london.application.submitted" {
			publish = s
		}
	}
	if publish == nil {
		t.Fatalf("no publish span for the traced event among %d ended spans", len(rec.Ended()))
	}
	if publish.Parent().SpanID() != call.SpanContext().SpanID() || publish.SpanContext().TraceID() != call.SpanContext().TraceID() {
		t.Errorf("publish span's parent = %v, want the appending span %v", publish.Parent(), call.SpanContext())
	}
	if publish.SpanKind() != trace.SpanKindProducer {
		t.Errorf("publish span kind = %v, want producer", publish.SpanKind())
	}

	msg, err := e.stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := trace.SpanContextFromContext(tracing.WithTraceParent(context.Background(), msg.Header.Get(tracing.HeaderTraceParent)))
	if got.TraceID() != call.SpanContext().TraceID() || got.SpanID() != publish.SpanContext().SpanID() {
		t.Errorf("message traceparent %q names %v, want the publish span %v", msg.Header.Get(tracing.HeaderTraceParent), got, publish.SpanContext())
	}

	// The untraced event: published as a root span of this traced
	// relay, so its message starts a trace of its own.
	msg, err = e.stream.GetMsg(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	got = trace.SpanContextFromContext(tracing.WithTraceParent(context.Background(), msg.Header.Get(tracing.HeaderTraceParent)))
	if !got.IsValid() || got.TraceID() == call.SpanContext().TraceID() {
		t.Errorf("untraced event's message traceparent = %q; want a trace of its own", msg.Header.Get(tracing.HeaderTraceParent))
	}
}

// Without tracing (the no-op provider of a process that exports nothing)
// the relay still passes the stored traceparent on, so a traced consumer
// joins the caller's trace; and a row without one is published without a
// header.
func TestUntracedRelayPassesTheTraceParentOn(t *testing.T) {
	t.Parallel()
	e := setup(t, stream.Config{})
	tp, _ := recorder(t)
	ctx, call := tp.Tracer("test").Start(context.Background(), "call")
	traced, untraced := newEvent("london"), newEvent("wales")
	if err := pg.InTx(ctx, e.pool, func(tx pgx.Tx) error { return Append(ctx, tx, traced) }); err != nil {
		t.Fatal(err)
	}
	call.End()
	appendCommitted(t, e.pool, untraced)

	relay := NewRelay(e.pool, e.js, RelayConfig{Stream: e.cfg.Name, SubjectPrefix: e.cfg.SubjectPrefix, TracerProvider: noop.NewTracerProvider()}, quiet)
	if n, err := relay.PublishBatch(context.Background()); err != nil || n != 2 {
		t.Fatalf("PublishBatch = %d, %v; want 2, nil", n, err)
	}
	msg, err := e.stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := msg.Header.Get(tracing.HeaderTraceParent), tracing.TraceParent(ctx); got != want {
		t.Errorf("message traceparent = %q, want the stored %q", got, want)
	}
	msg, err = e.stream.GetMsg(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(tracing.HeaderTraceParent); got != "" {
		t.Errorf("untraced event's message has traceparent %q, want none", got)
	}
}
