package apistatus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/idempotency"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

func TestCommon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code codes.Code
		ok   bool
	}{
		{validate.Field("candidate.email", "must be an address"), codes.InvalidArgument, true},
		{fmt.Errorf("wrapped: %w", idempotency.ErrReused), codes.InvalidArgument, true},
		{fmt.Errorf("wrapped: %w", idempotency.ErrNotKept), codes.AlreadyExists, true},
		{fmt.Errorf("%w: expired", auth.ErrUnauthenticated), codes.Unauthenticated, true},
		{fmt.Errorf("%w: other region", auth.ErrPermissionDenied), codes.PermissionDenied, true},
		{context.DeadlineExceeded, codes.DeadlineExceeded, true},
		{status.Error(codes.Aborted, "x"), codes.Aborted, true},
		{errors.New("pq: relation does not exist"), codes.Unknown, false},
	}
	for _, tt := range tests {
		st, ok := Common(tt.err)
		if ok != tt.ok || (ok && st.Code() != tt.code) {
			t.Errorf("Common(%v) = %v, %v; want %v, %v", tt.err, st, ok, tt.code, tt.ok)
		}
	}
}

func TestItemStatus(t *testing.T) {
	t.Parallel()
	if is := ItemStatus(nil); is.GetCode() != "OK" {
		t.Errorf("ItemStatus(nil) = %v", is)
	}
	is := ItemStatus(InvalidArgument("decisions[2].outcome", "must be PASS or FAIL").Err())
	if is.GetCode() != "INVALID_ARGUMENT" || is.GetField() != "decisions[2].outcome" {
		t.Errorf("ItemStatus = %v", is)
	}
	if is := ItemStatus(status.Error(codes.FailedPrecondition, "case is SIFT_FAILED")); is.GetCode() != "FAILED_PRECONDITION" {
		t.Errorf("code name = %q", is.GetCode())
	}
	err := WithFieldPrefix(validate.Field("outcome", "bad"), "decisions[2].")
	var fe *validate.FieldError
	if !errors.As(err, &fe) || fe.Field != "decisions[2].outcome" {
		t.Errorf("WithFieldPrefix = %v", err)
	}
}

func TestCodeName(t *testing.T) {
	t.Parallel()
	for c, want := range map[codes.Code]string{
		codes.OK: "OK", codes.PermissionDenied: "PERMISSION_DENIED", codes.FailedPrecondition: "FAILED_PRECONDITION", codes.NotFound: "NOT_FOUND",
	} {
		if got := CodeName(c); got != want {
			t.Errorf("CodeName(%s) = %q, want %q", c, got, want)
		}
	}
}

// A dropped database connection reaches the caller as Unavailable, which
// clients retry, not as an internal error.
func TestDroppedDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("submit: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"})
	st, ok := Common(err)
	if !ok || st.Code() != codes.Unavailable || strings.Contains(st.Message(), "administrator") {
		t.Errorf("Common(%v) = %v, %v; want Unavailable without the database's message", err, st, ok)
	}
}
