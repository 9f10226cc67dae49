package testenv

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// WantSameAsMissing fails the test unless other (the answer about a record
// in a region the caller may not see) is exactly missing (the answer about
// a record that does not exist): the same code, message and details, and
// that code is want. It reports the code it saw.
func WantSameAsMissing(t testing.TB, other, missing error, want codes.Code) {
	t.Helper()
	o, okO := status.FromError(other)
	m, okM := status.FromError(missing)
	if !okO || !okM || other == nil || missing == nil {
		t.Fatalf("want two statuses, got %v and %v", other, missing)
	}
	if m.Code() != want {
		t.Errorf("a missing record is %s (%q), want %s", m.Code(), m.Message(), want)
	}
	if o.Code() != m.Code() || o.Message() != m.Message() || !proto.Equal(o.Proto(), m.Proto()) {
		t.Errorf("another region's record answers %s %q, a missing one %s %q: a caller can tell them apart",
			o.Code(), o.Message(), m.Code(), m.Message())
	}
}
