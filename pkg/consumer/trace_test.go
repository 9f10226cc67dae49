package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/pkg/tracing"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// publishTraced puts ev on the stream as the relay does, with the
// traceparent of a span of tp (a stand-in for the relay's publish span),
// which it returns; ev goes without a header when tp is nil.
func (e env) publishTraced(t *testing.T, tp trace.TracerProvider, ev *eventsv1.Event) trace.SpanContext {
	t.Helper()
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := event.SubjectSuffix(ev)
	msg := &nats.Msg{Subject: "recruitment." + subject, Data: b}
	var sc trace.SpanContext
	if tp != nil {
		ctx, span := tp.Tracer("test").Start(context.Background(), "publish")
		span.End()
		sc = span.SpanContext()
		msg.Header = nats.Header{tracing.HeaderTraceParent: []string{tracing.TraceParent(ctx)}}
	}
	if _, err := e.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(ev.GetEventId())); err != nil {
		t.Fatal(err)
	}
	return sc
}

// handlerSpans records the span each event's handler ran under.
type handlerSpans struct {
	mu    sync.Mutex
	spans map[string]trace.SpanContext
}

func (h *handlerSpans) record(ctx context.Context, evs ...*eventsv1.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range evs {
		h.spans[ev.GetEventId()] = trace.SpanContextFromContext(ctx)
	}
}

func (h *handlerSpans) of(id string) trace.SpanContext {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.spans[id]
}

// processSpans waits for the ended "process" spans of n messages and
// returns them by their parent span.
func processSpans(t *testing.T, rec *tracetest.SpanRecorder, n int) map[trace.SpanID]sdktrace.ReadOnlySpan {
	t.Helper()
	byParent := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	testenv.Eventually(t, fmt.Sprintf("%d process spans", n), func() (bool, string) {
		clear(byParent)
		for _, s := range rec.Ended() {
			if s.Name() == "process recruitment.london.application.submitted" {
				byParent[s.Parent().SpanID()] = s
			}
		}
		return len(byParent) == n, fmt.Sprintf("%d so far", len(byParent))
	})
	return byParent
}

// A message's traceparent (the relay's publish span) is the parent of the
// consumer's process span, under which the handler runs: its transaction,
// and any event it appends, are in the trace of the change.
func TestConsumerContinuesTheMessagesTrace(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	traced, untraced := newEvent(), newEvent()
	publish := e.publishTraced(t, tp, traced)
	e.publishTraced(t, nil, untraced)

	seen := &handlerSpans{spans: map[string]trace.SpanContext{}}
	c, err := New(e.pool, e.js, Config{Durable: "traced", TracerProvider: tp}, func(ctx context.Context, _ pgx.Tx, ev *eventsv1.Event) error {
		seen.record(ctx, ev)
		return nil
	}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	settled(t, e.js, "traced", 2)
	spans := processSpans(t, rec, 2)

	process := spans[publish.SpanID()]
	if process == nil {
		t.Fatalf("no process span is the child of the message's publish span %v", publish.SpanID())
	}
	if process.SpanContext().TraceID() != publish.TraceID() || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process span %v (kind %v), want a consumer span in trace %v", process.SpanContext(), process.SpanKind(), publish.TraceID())
	}
	if got := seen.of(traced.GetEventId()); got.SpanID() != process.SpanContext().SpanID() {
		t.Errorf("handler ran under span %v, want the process span %v", got, process.SpanContext())
	}
	if got := seen.of(untraced.GetEventId()); !got.IsValid() || got.TraceID() == publish.TraceID() {
		t.Errorf("the message without traceparent was handled under %v; want a trace of its own", got)
	}
}

// A batch is applied under a span linked to its messages' spans, and each
// traced message gets a process span, a child of its publish span, so the
// trace of each change shows the batch consumer's apply.
func TestBatchConsumerContinuesEachMessagesTrace(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	evs := []*eventsv1.Event{newEvent(), newEvent(), newEvent()}
	publishes := make([]trace.SpanContext, len(evs))
	for i, ev := range evs {
		publishes[i] = e.publishTraced(t, tp, ev)
	}

	seen := &handlerSpans{spans: map[string]trace.SpanContext{}}
	c, err := NewBatch(e.pool, e.js, Config{Durable: "batched", Batch: 10, TracerProvider: tp}, func(ctx context.Context, _ pgx.Tx, evs []*eventsv1.Event) error {
		seen.record(ctx, evs...)
		return nil
	}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	settled(t, e.js, "batched", uint64(len(evs)))
	spans := processSpans(t, rec, len(evs))

	for i, ev := range evs {
		process := spans[publishes[i].SpanID()]
		if process == nil || process.SpanContext().TraceID() != publishes[i].TraceID() {
			t.Errorf("event %d: no process span in its trace, a child of its publish span", i)
			continue
		}
		batch := seen.of(ev.GetEventId())
		if links := process.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != batch.SpanID() {
			t.Errorf("event %d: process span links %v, want the batch span %v the handler ran under", i, links, batch.SpanID())
		}
	}
	var batch sdktrace.ReadOnlySpan
	testenv.Eventually(t, "the batch spans", func() (bool, string) {
		var linked int
		for _, s := range rec.Ended() {
			if s.Name() == "process batch" {
				batch = s
				linked += len(s.Links())
			}
		}
		return linked == len(evs), fmt.Sprintf("batch spans link %d messages", linked)
	})
	if batch.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("batch span kind = %v, want consumer", batch.SpanKind())
	}
}
