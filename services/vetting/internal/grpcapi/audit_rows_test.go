package grpcapi_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// TestAuditRows: vetting's own trail. A vetting contact point's change and
// read of a case are one row each (who, the case's application id, the
// outcome), a SPOC refused a change is recorded with its refusal, and no
// row holds the block note (the table has no column that could).
func TestAuditRows(t *testing.T) {
	t.Parallel()
	e := setup(t)
	vetter := e.as(t, vettingLondon)
	r := e.open(t, "london")
	blocked := e.block(t, vetter, r, 1, thirdParty)
	if _, err := vetter.GetCase(t.Context(), &pb.GetCaseRequest{ApplicationId: r.id}); err != nil {
		t.Fatal(err)
	}
	_, err := e.as(t, spocLondon).UnblockCase(t.Context(), &pb.UnblockCaseRequest{RequestId: reqID(), ApplicationId: r.id, ExpectedVersion: blocked.GetVersion()})
	testenv.WantStatus(t, err, codes.PermissionDenied)

	type row struct{ subject, method, kind, outcome string }
	want := []row{
		{vettingLondon.Subject, "/recruitment.vetting.v1.VettingService/BlockCase", "change", "OK"},
		{vettingLondon.Subject, "/recruitment.vetting.v1.VettingService/GetCase", "read", "OK"},
		{spocLondon.Subject, "/recruitment.vetting.v1.VettingService/UnblockCase", "change", "PERMISSION_DENIED"},
	}
	rows, err := e.Pool.Query(context.Background(),
		`SELECT subject, method, kind, outcome, record_ids FROM audit_event WHERE $1 = ANY(record_ids) ORDER BY occurred_at, id`, r.id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []row
	for rows.Next() {
		var g row
		var ids []string
		if err := rows.Scan(&g.subject, &g.method, &g.kind, &g.outcome, &ids); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 {
			t.Errorf("%s names %v, want the one case", g.method, ids)
		}
		got = append(got, g)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("audit rows = %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("audit row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if found := testenv.Holding(t, e.Pool, e.schema(t), []string{"cases", "history"}, noteParts...); len(found) > 0 {
		t.Errorf("the block note outside the case: %v", found)
	}
}
