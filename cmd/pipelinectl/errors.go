package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes, one per class of failure, so a script can tell a typo from a
// refusal from an outage. exitCodesSection documents them in `pipelinectl help`.
const (
	exitOK          = 0
	exitOther       = 1
	exitUsage       = 2
	exitInvalid     = 3
	exitNotFound    = 4
	exitDenied      = 5
	exitConflict    = 6
	exitUnavailable = 7
	exitPartial     = 8
	exitInterrupted = 130
)

// exitCodesSection is the end of `pipelinectl help`.
const exitCodesSection = `Exit codes:
  0    done
  1    any other error (the service failed internally, an unexpected reply)
  2    usage: an unknown command, a missing or bad flag or argument (nothing was sent)
  3    invalid argument: the service rejected the input (each field and rule is printed)
  4    not found
  5    unauthenticated or permission denied (wrong token, role or region), or
       signed out: the sign-in of pipelinectl login could not be used or refreshed
  6    conflict: already exists, a stale --version (someone changed the record since
       you read it), or a move the pipeline does not allow now (the message names the
       current stage)
  7    unavailable: a service could not be reached, or did not answer in --timeout
  8    a batch call or import in which some items failed (the output says which and why)
  130  interrupted (Ctrl-C) before a call finished`

// outcomeUnknown says whether a change that ended with code may still
// have been made: then the user needs its request id to retry safely.
func outcomeUnknown(code int) bool {
	return code == exitOther || code == exitUnavailable || code == exitInterrupted
}

// usageError is a mistake in the command line, found before anything was
// sent to a service.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// callError is a failed call, with the service and address it went to so
// that "connection refused" can say which one, and the identity provider
// whose sign-in gave its token (none for --token).
type callError struct {
	service, addr, signedIn string
	err                     error
}

func (e *callError) Error() string { return e.service + ": " + e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// partialError is a batch call that succeeded as a call but had failed items.
type partialError struct {
	failed, total int32
	dryRun        bool
}

func (e *partialError) Error() string {
	if e.dryRun {
		return fmt.Sprintf("%d of %d items would fail (dry run: nothing was changed)", e.failed, e.total)
	}
	return fmt.Sprintf("%d of %d items failed", e.failed, e.total)
}

// errInterrupted marks a command stopped by Ctrl-C or SIGTERM.
var errInterrupted = errors.New("interrupted")

// report turns err into the lines printed to stderr and the process exit
// code. started says whether a command's own code ran (errors before that
// are cobra's parsing of the command line); cmdPath is the command that
// failed, for the pointer to its help.
func report(err error, started bool, cmdPath string) (lines []string, code int) {
	var (
		ue *usageError
		pe *partialError
		ce *callError
		ae *authError
		ie *idpError
	)
	switch {
	case errors.Is(err, errInterrupted) || errors.Is(err, context.Canceled):
		return []string{"interrupted"}, exitInterrupted
	case errors.As(err, &ue) || !started:
		return []string{err.Error(), "see `" + cmdPath + " --help`"}, exitUsage
	case errors.As(err, &pe):
		return []string{pe.Error()}, exitPartial
	case errors.As(err, &ae):
		return ae.lines, exitDenied
	case errors.As(err, &ie):
		return describeIdPError(ie)
	case errors.As(err, &ce):
		st := status.Convert(ce.err)
		lines, code := describeStatus(ce.service, ce.addr, st)
		if st.Code() == codes.Unauthenticated && ce.signedIn != "" {
			lines = []string{lines[0], "the token of `pipelinectl login` (issuer " + ce.signedIn + ") was refused: the services must accept " +
				"that issuer (AUTH_OIDC_ISSUER) and client id (AUTH_AUDIENCES); `pipelinectl whoami` shows the token"}
		}
		return lines, code
	}
	if st, ok := status.FromError(err); ok {
		return describeStatus("", "", st)
	}
	return []string{err.Error()}, exitOther
}

// describeStatus says what a gRPC status means in plain words, with the
// server's message and, for bad input, every field at fault.
func describeStatus(service, addr string, st *status.Status) ([]string, int) {
	msg := st.Message()
	switch st.Code() {
	case codes.InvalidArgument, codes.OutOfRange:
		return invalidArgument(st), exitInvalid
	case codes.NotFound:
		return []string{said("not found", msg)}, exitNotFound
	case codes.PermissionDenied:
		return []string{said("permission denied", msg)}, exitDenied
	case codes.Unauthenticated:
		return []string{said("unauthenticated", msg),
			"sign in with `pipelinectl login`, or pass a token with --token or PIPELINE_TOKEN (locally, `pipelinectl token` mints one)"}, exitDenied
	case codes.AlreadyExists:
		return []string{said("already exists", msg)}, exitConflict
	case codes.Aborted:
		return []string{said("conflict", msg),
			"the record changed since that version was read: get it again and retry with the new --version"}, exitConflict
	case codes.FailedPrecondition:
		return []string{said("not allowed now", msg)}, exitConflict
	case codes.Unavailable:
		where := "the service"
		if service != "" {
			where = fmt.Sprintf("the %s service at %s", service, addr)
		}
		if strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") || strings.Contains(msg, "dial") {
			return []string{fmt.Sprintf("cannot reach %s: %s", where, dialReason(msg)),
				fmt.Sprintf("is it running? `make run` starts the system locally; otherwise set --%s-addr or PIPELINE_%s_ADDR",
					orDefault(service, "<service>"), strings.ToUpper(orDefault(service, "<SERVICE>")))}, exitUnavailable
		}
		lines := []string{fmt.Sprintf("unavailable: %s: %s", where, msg)}
		// A TLS client of a plain-text server, or the reverse, sees its
		// handshake fail or the server's preface garbled or cut off.
		if strings.Contains(msg, "tls:") || strings.Contains(msg, "handshake") || strings.Contains(msg, "server preface") {
			lines = append(lines, "check --ca-file (PIPELINE_CA_FILE): the service's certificate must chain to it; --cert-file and --key-file if it requires a client certificate; --insecure only for make run's plain text")
		}
		return lines, exitUnavailable
	case codes.DeadlineExceeded:
		return []string{said("timed out", msg) + " (raise --timeout if the service is just slow)"}, exitUnavailable
	case codes.Canceled:
		return []string{said("cancelled", msg)}, exitInterrupted
	case codes.Unimplemented:
		return []string{said("not supported by this server", msg)}, exitOther
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return []string{said("server error", msg) + " (the service's log has the detail)"}, exitOther
	case codes.ResourceExhausted:
		return []string{said("too many requests", msg)}, exitUnavailable
	}
	return []string{strings.ToLower(st.Code().String()) + ": " + msg}, exitOther
}

// describeIdPError says what went wrong with the identity provider: not
// there (exit 7), or an answer pipelinectl cannot use (exit 1).
func describeIdPError(e *idpError) ([]string, int) {
	if e.unreachable() {
		return []string{fmt.Sprintf("cannot reach the identity provider at %s to %s: %s", e.issuer, e.action, dialReason(e.err.Error())),
			"is it running? `make run` serves the development one at " + defaultIssuer + "; `pipelinectl login --issuer` names another"}, exitUnavailable
	}
	return []string{e.Error()}, exitOther
}

// invalidArgument is the message, then each field violation on its own
// line unless the message already is the one violation.
func invalidArgument(st *status.Status) []string {
	var violations []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				violations = append(violations, v.GetField()+": "+v.GetDescription())
			}
		}
	}
	if len(violations) == 1 && violations[0] == st.Message() {
		return []string{said("invalid argument", st.Message())}
	}
	lines := []string{said("invalid argument", st.Message())}
	for _, v := range violations {
		lines = append(lines, "  "+v)
	}
	return lines
}

// said puts the plain words for a status before the server's message,
// unless the message already starts with them ("permission denied: ...").
func said(label, msg string) string {
	if msg == label || msg == "" {
		return label
	}
	return label + ": " + strings.TrimPrefix(msg, label+": ")
}

// dialReason keeps the useful end of grpc's transport message, e.g.
// "connection refused" out of "connection error: desc = ... connect: connection refused".
func dialReason(msg string) string {
	msg = strings.TrimSuffix(msg, `"`)
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
