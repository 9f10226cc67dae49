// Package grpcclient holds the options every client of the services dials
// with.
package grpcclient

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
)

// retryServiceConfig retries a call the server answered Unavailable (a
// database connection dropped under it, a service restarting) up to three
// more times with backoff. Retrying is safe: every call that changes
// something carries a request_id, so a retry of one that did land applies
// nothing twice, and reads change nothing.
const retryMethodConfig = `"methodConfig": [{
  "name": [{}],
  "retryPolicy": {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"]
  }
}]`

// RetryUnavailable is the dial option that retries Unavailable calls.
func RetryUnavailable() grpc.DialOption {
	return grpc.WithDefaultServiceConfig(`{` + retryMethodConfig + `}`)
}

// Balanced is RetryUnavailable for a target that resolves to several
// replicas of a service (a headless Kubernetes Service's DNS name, say):
// calls are spread round robin over every replica that is up, not all sent
// to the first address, and a replica that dies is skipped until it is
// back.
func Balanced() grpc.DialOption {
	return grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}], ` + retryMethodConfig + `}`)
}

// Tracing is the dial option that starts a client span for each call and
// sends its W3C traceparent in the call's metadata, with the global tracer
// provider (pkg/tracing.Setup): the service's spans join the client's
// trace. Without tracing set up it sends nothing.
func Tracing() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(propagation.TraceContext{})))
}
