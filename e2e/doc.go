// Package e2e tests the services together as they run in production: each
// test builds the real binaries, starts them as processes against the real
// PostgreSQL (a schema per service per test) and a JetStream server of its
// own, and drives candidates through the pipeline over gRPC.
package e2e
