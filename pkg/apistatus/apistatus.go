// Package apistatus turns the errors shared by every service (bad input,
// access, reused request ids, cancellation) into gRPC statuses. Each
// service's grpcapi maps its own domain errors first and falls back here,
// so there is still one mapping function per service.
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
	switch {
	case errors.As(err, &fe):
		return InvalidArgument(fe.Field, fe.Rule), true
	case errors.Is(err, idempotency.ErrReused):
		return InvalidArgument("request_id", idempotency.ErrReused.Error()), true
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
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return st, true
	}
	return nil, false
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
	is := &commonv1.ItemStatus{Code: codeName(st.Code()), Message: st.Message()}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			is.Field = br.GetFieldViolations()[0].GetField()
		}
	}
	return is
}

// codeName is the canonical name of a code: FailedPrecondition → FAILED_PRECONDITION.
func codeName(c codes.Code) string {
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
