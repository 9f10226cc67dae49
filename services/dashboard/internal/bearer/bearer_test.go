package bearer

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSendsTheContextsToken(t *testing.T) {
	t.Parallel()
	creds := FromContext()
	md, err := creds.GetRequestMetadata(WithToken(context.Background(), "user-token"))
	if err != nil || md["authorization"] != "Bearer user-token" {
		t.Errorf("metadata = %v, %v; want Bearer user-token", md, err)
	}
}

// A call with no user's token fails rather than going out unauthenticated
// or as anyone else.
func TestRefusesACallWithoutAToken(t *testing.T) {
	t.Parallel()
	creds := FromContext()
	for _, ctx := range []context.Context{context.Background(), WithToken(context.Background(), "")} {
		md, err := creds.GetRequestMetadata(ctx)
		if status.Code(err) != codes.Unauthenticated || md != nil {
			t.Errorf("metadata = %v, %v; want Unauthenticated and none", md, err)
		}
	}
}
