package grpcapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
	"github.com/probation-recruitment/pipeline/services/vetting/internal/vetting"
)

// snapshot is everything a batch may write.
type snapshot struct {
	versions                      map[string]string // application id → status and version
	outbox, requestLog, histories int
}

func (e *env) snapshot(t *testing.T) snapshot {
	t.Helper()
	s := snapshot{versions: map[string]string{}, outbox: e.count(t, "outbox"), requestLog: e.count(t, "request_log"), histories: e.count(t, "history")}
	rows, err := e.Pool.Query(context.Background(), `SELECT application_id::text, status || ' v' || version FROM cases`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		s.versions[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func wantSnapshot(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	if got.outbox != want.outbox || got.requestLog != want.requestLog || got.histories != want.histories {
		t.Errorf("%s: outbox %d, request_log %d, history %d; want %d, %d, %d", what, got.outbox, got.requestLog, got.histories, want.outbox, want.requestLog, want.histories)
	}
	for id, v := range want.versions {
		if got.versions[id] != v {
			t.Errorf("%s: case %s is %s, want %s", what, id, got.versions[id], v)
		}
	}
}

// TestBatchUnblock: one batch of a good item and four kinds of bad one,
// rehearsed, run and retried.
func TestBatchUnblock(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)

	good := e.open(t, "london")
	goodV := e.block(t, c, good, e.formsIn(t, c, good).GetVersion(), thirdParty).GetVersion()
	open := e.open(t, "london")
	stale := e.open(t, "london")
	e.block(t, c, stale, 1, thirdParty)
	items := []*pb.UnblockItem{
		{ApplicationId: good.id, ExpectedVersion: goodV},
		{ApplicationId: open.id, ExpectedVersion: 1},
		{ApplicationId: stale.id, ExpectedVersion: 1},
		{ApplicationId: event.NewID(), ExpectedVersion: 1},
		{ApplicationId: "not-a-uuid", ExpectedVersion: 1},
	}
	wantCodes := []string{"OK", "FAILED_PRECONDITION", "ABORTED", "FAILED_PRECONDITION", "INVALID_ARGUMENT"}
	check := func(t *testing.T, resp *pb.BatchUnblockResponse, dryRun bool) {
		t.Helper()
		if resp.GetSucceeded() != 1 || resp.GetFailed() != 4 || resp.GetDryRun() != dryRun || len(resp.GetResults()) != len(items) {
			t.Fatalf("succeeded %d failed %d dry_run %v with %d results; want 1, 4, %v, %d", resp.GetSucceeded(), resp.GetFailed(), resp.GetDryRun(), len(resp.GetResults()), dryRun, len(items))
		}
		for i, r := range resp.GetResults() {
			if r.GetIndex() != int32(i) || r.GetApplicationId() != items[i].GetApplicationId() || r.GetStatus().GetCode() != wantCodes[i] {
				t.Errorf("result %d = %v, want index %d, %s, %s", i, r, i, items[i].GetApplicationId(), wantCodes[i])
			}
			if (r.GetCase() != nil) != (i == 0) {
				t.Errorf("result %d carries case %v", i, r.GetCase())
			}
		}
		if r := resp.GetResults()[1]; !strings.Contains(r.GetStatus().GetMessage(), "OPEN") {
			t.Errorf("not-blocked item says %q, want the status named", r.GetStatus().GetMessage())
		}
		if r := resp.GetResults()[4]; r.GetStatus().GetField() != "items[4].application_id" {
			t.Errorf("malformed item names field %q, want items[4].application_id", r.GetStatus().GetField())
		}
		if vc := resp.GetResults()[0].GetCase(); vc.GetStatus() != pb.CaseStatus_CASE_STATUS_FORMS_RECEIVED || vc.GetVersion() != goodV+1 || vc.GetBlockedSince() != nil {
			t.Errorf("good item's case = %v, want FORMS_RECEIVED v%d", vc, goodV+1)
		}
	}

	before := e.snapshot(t)
	dry, err := c.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{Items: items, DryRun: true})
	if err != nil {
		t.Fatalf("dry run without a request id: %v", err)
	}
	check(t, dry, true)
	wantSnapshot(t, "after the dry run", e.snapshot(t), before)
	dryWithID, err := c.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: reqID(), Items: items, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, dryWithID, true)
	wantSnapshot(t, "after a dry run with a request id", e.snapshot(t), before)

	batchID := reqID()
	run, err := c.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	check(t, run, false)
	for i := range items {
		if dry.GetResults()[i].GetStatus().GetCode() != run.GetResults()[i].GetStatus().GetCode() {
			t.Errorf("item %d: dry run said %s, the run %s", i, dry.GetResults()[i].GetStatus().GetCode(), run.GetResults()[i].GetStatus().GetCode())
		}
	}
	after := e.snapshot(t)
	want := before
	want.versions = map[string]string{good.id: fmt.Sprintf("FORMS_RECEIVED v%d", goodV+1), open.id: "OPEN v1", stale.id: "BLOCKED v2"}
	// The request log holds the batch itself and each item that succeeded.
	want.outbox, want.requestLog, want.histories = before.outbox+1, before.requestLog+2, before.histories+1
	wantSnapshot(t, "after the run", after, want)
	if rows := testenv.OutboxEvents(t, e.Pool, good.id); rows[len(rows)-1].Name != "vetting.unblocked" {
		t.Errorf("good case's last event = %s", rows[len(rows)-1].Name)
	}

	e.clock.Advance(time.Hour)
	again, err := c.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: batchID, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, run) {
		t.Errorf("retried batch answered\n%v\nwant the first answer\n%v", again, run)
	}
	wantSnapshot(t, "after the retry", e.snapshot(t), after)

	// The batch's id reused for a different batch is the call's
	// InvalidArgument on request_id (as the import's is), not an OK call
	// with every item failing.
	reused, err := c.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: batchID, Items: items[1:]})
	testenv.WantField(t, err, "request_id")
	if reused != nil {
		t.Errorf("reused id answered %v; want the call refused", reused)
	}
	wantSnapshot(t, "after reusing the id", e.snapshot(t), after)
}

// TestBatchLimits: a batch holds 1 to 1000 items and, unless it is a dry
// run, a request id.
func TestBatchLimits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.as(t, vettingLondon)
	r := e.open(t, "london")
	e.block(t, c, r, 1, missingDocs)
	many := make([]*pb.UnblockItem, 1001)
	for i := range many {
		many[i] = &pb.UnblockItem{ApplicationId: r.id, ExpectedVersion: 2}
	}
	for _, tt := range []struct {
		name  string
		req   *pb.BatchUnblockRequest
		field string
	}{
		{"no items", &pb.BatchUnblockRequest{RequestId: reqID()}, "items"},
		{"no items, dry run", &pb.BatchUnblockRequest{DryRun: true}, "items"},
		{"1001 items", &pb.BatchUnblockRequest{RequestId: reqID(), Items: many}, "items"},
		{"1001 items, dry run", &pb.BatchUnblockRequest{Items: many, DryRun: true}, "items"},
		{"no request id", &pb.BatchUnblockRequest{Items: many[:1]}, "request_id"},
		{"request id with a space", &pb.BatchUnblockRequest{RequestId: "a b", Items: many[:1]}, "request_id"},
	} {
		_, err := c.BatchUnblock(t.Context(), tt.req)
		t.Run(tt.name, func(t *testing.T) { testenv.WantField(t, err, tt.field) })
	}
	if got := e.get(t, r.id); got.Version != 2 {
		t.Errorf("refused batches moved the case to v%d", got.Version)
	}
	// A dry run sees its earlier items: the same case twice is refused the
	// second time, as the real run would.
	dry, err := c.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{Items: many[:3], DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var dryCodes []string
	for _, r := range dry.GetResults() {
		dryCodes = append(dryCodes, r.GetStatus().GetCode())
	}
	if !slices.Equal(dryCodes, []string{"OK", "ABORTED", "ABORTED"}) {
		t.Errorf("dry run of one case three times: %v, want OK, ABORTED, ABORTED", dryCodes)
	}
	if got := e.get(t, r.id); got.Version != 2 || got.State != vetting.Blocked {
		t.Errorf("dry run moved the case to %s v%d", got.State, got.Version)
	}
	// 1000 is allowed: the same case a thousand times unblocks it once.
	resp, err := c.BatchUnblock(t.Context(), &pb.BatchUnblockRequest{RequestId: reqID(), Items: many[:1000]})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetSucceeded() != 1 || resp.GetFailed() != 999 || resp.GetResults()[1].GetStatus().GetCode() != "ABORTED" {
		t.Errorf("a thousand unblocks of one case: %d succeeded, %d failed, second %v", resp.GetSucceeded(), resp.GetFailed(), resp.GetResults()[1].GetStatus())
	}
	if n := len(slices.DeleteFunc(testenv.OutboxEvents(t, e.Pool, r.id), func(o testenv.OutboxEvent) bool { return o.Name != "vetting.unblocked" })); n != 1 {
		t.Errorf("%d vetting.unblocked events, want 1", n)
	}
}
