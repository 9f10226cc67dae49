package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func badRequest(msg string, fields ...string) error {
	st := status.New(codes.InvalidArgument, msg)
	br := &errdetails.BadRequest{}
	for i := 0; i < len(fields); i += 2 {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: fields[i], Description: fields[i+1]})
	}
	st, err := st.WithDetails(br)
	if err != nil {
		panic(err)
	}
	return st.Err()
}

func called(service string, err error) error {
	return &callError{service: service, addr: "127.0.0.1:50051", err: err}
}

func TestReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		started bool
		code    int
		lines   []string
	}{
		{"cobra's own error", errors.New(`unknown flag: --nope`), false, exitUsage,
			[]string{"unknown flag: --nope", "see `pipelinectl sift decide --help`"}},
		{"usage found by the command", usagef("no decisions"), true, exitUsage,
			[]string{"no decisions", "see `pipelinectl sift decide --help`"}},
		{"one violation", called("applications", badRequest("campaign_id: must be a UUID", "campaign_id", "must be a UUID")), true, exitInvalid,
			[]string{"invalid argument: campaign_id: must be a UUID"}},
		{"several violations", called("applications", badRequest("bad candidate", "candidate.name", "must not be empty", "candidate.email", "must be an address")), true, exitInvalid,
			[]string{"invalid argument: bad candidate", "  candidate.name: must not be empty", "  candidate.email: must be an address"}},
		{"not found", called("offers", status.Error(codes.NotFound, "no offer record for application x")), true, exitNotFound,
			[]string{"not found: no offer record for application x"}},
		{"permission denied said once", called("sifting", status.Error(codes.PermissionDenied, `permission denied: caller may not access region "wales"`)), true, exitDenied,
			[]string{`permission denied: caller may not access region "wales"`}},
		{"stale version", called("vetting", status.Error(codes.Aborted, "stale version: expected version 2, record is at version 3")), true, exitConflict,
			[]string{"conflict: stale version: expected version 2, record is at version 3",
				"the record changed since that version was read: get it again and retry with the new --version"}},
		{"forbidden move", called("vetting", status.Error(codes.FailedPrecondition, "case is CLEARED")), true, exitConflict,
			[]string{"not allowed now: case is CLEARED"}},
		{"duplicate", called("applications", status.Error(codes.AlreadyExists, "already exists")), true, exitConflict,
			[]string{"already exists"}},
		{"refused", called("applications", status.Error(codes.Unavailable,
			`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:50051: connect: connection refused"`)), true, exitUnavailable,
			[]string{"cannot reach the applications service at 127.0.0.1:50051: connection refused",
				"is it running? `make run` starts the system locally; otherwise set --applications-addr or PIPELINE_APPLICATIONS_ADDR"}},
		{"client certificate required", called("reporting", status.Error(codes.Unavailable,
			`connection error: desc = "error reading server preface: remote error: tls: certificate required"`)), true, exitUnavailable,
			[]string{`unavailable: the reporting service at 127.0.0.1:50051: connection error: desc = "error reading server preface: remote error: tls: certificate required"`,
				"check --ca-file (PIPELINE_CA_FILE): the service's certificate must chain to it; --cert-file and --key-file if it requires a client certificate; --insecure only for make run's plain text"}},
		{"plain text to a TLS server", called("reporting", status.Error(codes.Unavailable,
			`connection error: desc = "error reading server preface: EOF"`)), true, exitUnavailable,
			[]string{`unavailable: the reporting service at 127.0.0.1:50051: connection error: desc = "error reading server preface: EOF"`,
				"check --ca-file (PIPELINE_CA_FILE): the service's certificate must chain to it; --cert-file and --key-file if it requires a client certificate; --insecure only for make run's plain text"}},
		{"internal", called("offers", status.Error(codes.Internal, "internal error")), true, exitOther,
			[]string{"server error: internal error (the service's log has the detail)"}},
		{"batch", fmt.Errorf("wrapped: %w", &partialError{failed: 2, total: 5}), true, exitPartial,
			[]string{"2 of 5 items failed"}},
		{"interrupted", errInterrupted, true, exitInterrupted, []string{"interrupted"}},
		{"signed out", fmt.Errorf("refresh: %w", signedOut("the identity provider refused the refresh token (invalid_grant)")), true, exitDenied,
			[]string{"signed out: run pipelinectl login", "the identity provider refused the refresh token (invalid_grant)"}},
		{"identity provider down", &idpError{issuer: "http://127.0.0.1:5556", action: "refresh the sign-in",
			err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}, true, exitUnavailable,
			[]string{"cannot reach the identity provider at http://127.0.0.1:5556 to refresh the sign-in: connection refused",
				"is it running? `make run` serves the development one at http://127.0.0.1:5556; `pipelinectl login --issuer` names another"}},
		{"identity provider says nonsense", &idpError{issuer: "https://login.example.org", action: "discover the identity provider",
			err: errors.New("404 Not Found")}, true, exitOther,
			[]string{"discover the identity provider at https://login.example.org: 404 Not Found"}},
		{"signed-in token refused", &callError{service: "sifting", addr: "127.0.0.1:50052", signedIn: "https://login.example.org",
			err: status.Error(codes.Unauthenticated, "token audience not accepted")}, true, exitDenied,
			[]string{"unauthenticated: token audience not accepted",
				"the token of `pipelinectl login` (issuer https://login.example.org) was refused: the services must accept that issuer " +
					"(AUTH_OIDC_ISSUER) and client id (AUTH_AUDIENCES); `pipelinectl whoami` shows the token"}},
		{"anything else", errors.New("open decisions.csv: no such file"), true, exitOther,
			[]string{"open decisions.csv: no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines, code := report(tt.err, tt.started, "pipelinectl sift decide")
			if code != tt.code || !slices.Equal(lines, tt.lines) {
				t.Errorf("report = %d %q\nwant     %d %q", code, lines, tt.code, tt.lines)
			}
		})
	}
}
