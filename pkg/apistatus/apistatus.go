// Package apistatus turns the errors shared by every service (bad input,
// access, reused request ids, cancellation, and pkg/record's taxonomy:
// refused transitions, stale versions, records not here yet or not found)
// into gRPC statuses. Each service's grpcapi maps what is its own first and
// falls back here, so there is still one mapping function per service.
package apistatus

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// InvalidArgument is the status of bad input in field: the message names
// the field and the rule, and a BadRequest detail carries them for tools.
func InvalidArgument(field, rule string) *status.Status {
	st := status.New(codes.InvalidArgument, field+": "+rule)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: field, Description: rule},
	}}); err == nil {
		return d
	}
	return st
}

// Common returns the status of an error every service shares, and false
// for any other error.
func Common(err error) (*status.Status, bool) {
	var fe *validate.FieldError
	var te *record.TransitionError
	switch {
	case errors.As(err, &fe):
		return InvalidArgument(fe.Field, fe.Rule), true
	case errors.As(err, &te):
		return status.New(codes.FailedPrecondition, te.Error()), true
	case errors.Is(err, record.ErrNotYet):
		return status.New(codes.FailedPrecondition, err.Error()), true
	case errors.Is(err, record.ErrStale):
		return status.New(codes.Aborted, err.Error()), true
	case errors.Is(err, record.ErrNotFound):
		return status.New(codes.NotFound, err.Error()), true
	case errors.Is(err, idempotency.ErrReused):
		return InvalidArgument("request_id", idempotency.ErrReused.Error()), true
	case errors.Is(err, idempotency.ErrNotKept):
		return status.New(codes.AlreadyExists, "request_id: "+idempotency.ErrNotKept.Error()), true
	case errors.Is(err, pagetoken.ErrInvalid):
		return InvalidArgument("page_token", "is not valid for this request; start again without it"), true
	case errors.Is(err, auth.ErrUnauthenticated):
		return status.New(codes.Unauthenticated, err.Error()), true
	case errors.Is(err, auth.ErrPermissionDenied):
		return status.New(codes.PermissionDenied, err.Error()), true
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded"), true
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "request cancelled"), true
	}
	if pg.Unavailable(err) {
		return status.New(codes.Unavailable, "the database is unavailable; try again"), true
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return st, true
	}
	return nil, false
}

// Error returns the status error of err: its shared status if Common knows
// it, otherwise Internal. A service whose errors are all shared ones maps
// with this alone.
func Error(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if st, ok := Common(err); ok {
		return st.Err()
	}
	return Internal(ctx, log, err)
}

// Internal logs err and returns the fixed status callers see for it: the
// detail (a database message, say) goes to the log, never to the caller.
func Internal(ctx context.Context, log *slog.Logger, err error) error {
	log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}

// ItemStatus reports a batch item's outcome as the status the item would
// have had as a single call; err must already be a status (from the
// service's mapping) or nil.
func ItemStatus(err error) *commonv1.ItemStatus {
	if err == nil {
		return &commonv1.ItemStatus{Code: "OK"}
	}
	st := status.Convert(err)
	is := &commonv1.ItemStatus{Code: CodeName(st.Code()), Message: st.Message()}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			is.Field = br.GetFieldViolations()[0].GetField()
		}
	}
	return is
}

// CodeName is the canonical name of a code: FailedPrecondition → FAILED_PRECONDITION.
func CodeName(c codes.Code) string {
	if c == codes.OK {
		return "OK" // not O_K
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// WithFieldPrefix qualifies a FieldError's field with a batch item's
// position, e.g. "decisions[3].outcome"; other errors pass through.
func WithFieldPrefix(err error, prefix string) error {
	var fe *validate.FieldError
	if errors.As(err, &fe) {
		return validate.Field(prefix+fe.Field, fe.Rule)
	}
	return err
}
