// Package tracing sets up OpenTelemetry tracing for a process and carries
// a span's W3C trace context where a context.Context cannot go: into an
// outbox row, onto a NATS message, and back out in a consumer
// (docs/design.md, "Tracing").
//
// Tracing is off unless an OTLP endpoint is configured with the standard
// variables (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT):
// then spans are batched and exported over OTLP, HTTP/protobuf or gRPC as
// OTEL_EXPORTER_OTLP_PROTOCOL says. Off, the process keeps OpenTelemetry's
// no-op tracer provider: spans record nothing and nothing is sent, but a
// trace context that arrives (a client's traceparent, one stored with an
// outbox row) is still passed on, so a traced service downstream joins
// the caller's trace.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// HeaderTraceParent is the W3C Trace Context header (and the outbox's
// column) that carries a span's trace id and span id.
const HeaderTraceParent = "traceparent"

// Exporter says where spans go: Protocol "" when tracing is off, else
// "http/protobuf" or "grpc"; Endpoint as configured (the exporters read
// the OTEL_EXPORTER_OTLP_* variables themselves).
type Exporter struct {
	Protocol string
	Endpoint string
}

// ExporterFromEnv reads the standard OpenTelemetry variables through getenv
// (os.Getenv): OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER ("otlp" or "none"),
// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT and OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL.
// Without an endpoint tracing is off: the specification's default
// (localhost:4318) would send spans to whatever listens there.
func ExporterFromEnv(getenv func(string) string) (Exporter, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return Exporter{}, nil
	}
	switch exp := getenv("OTEL_TRACES_EXPORTER"); exp {
	case "", "otlp":
	case "none":
		return Exporter{}, nil
	default:
		return Exporter{}, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (want otlp or none)", exp)
	}
	endpoint := first(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" {
		return Exporter{}, nil
	}
	switch p := first(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"); p {
	case "", "http/protobuf":
		return Exporter{Protocol: "http/protobuf", Endpoint: endpoint}, nil
	case "grpc":
		return Exporter{Protocol: "grpc", Endpoint: endpoint}, nil
	default:
		return Exporter{}, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported (want http/protobuf or grpc)", p)
	}
}

// first returns the first of keys that getenv gives a value.
func first(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// Setup makes the process propagate W3C trace context (gRPC metadata, NATS
// headers) and, when the environment configures an exporter
// (ExporterFromEnv), installs a tracer provider that batches spans to it,
// naming the process service (OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override). shutdown flushes what is batched;
// call it once the process has stopped serving.
func Setup(ctx context.Context, service string, log *slog.Logger) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	cfg, err := ExporterFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Protocol == "" {
		return func(context.Context) error { return nil }, nil
	}
	var exp sdktrace.SpanExporter
	switch cfg.Protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	// Export failures (a collector down) would otherwise go to the
	// standard logger, unstructured.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing", "err", err)
	}))
	log.Info("tracing: exporting spans over OTLP", "protocol", cfg.Protocol, "endpoint", cfg.Endpoint)
	return tp.Shutdown, nil
}

// TraceParent is the W3C traceparent of ctx's span: "" when ctx has none
// (or an invalid one).
func TraceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c[HeaderTraceParent]
}

// WithTraceParent returns ctx with the remote span that traceparent names
// as its parent span; ctx unchanged when traceparent is empty or malformed.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{HeaderTraceParent: traceparent})
}
