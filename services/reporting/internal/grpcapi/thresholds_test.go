package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/rebuild"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// thresholds is a full set for region: the stages in contract order, then
// the vetting-blocked limit, and the default check-outstanding limit.
func thresholds(region string, version int64, sift, interview, offer, pre, blocked [2]int32) *pb.Thresholds {
	stage := func(s commonv1.Stage, l [2]int32) *pb.StageThreshold {
		return &pb.StageThreshold{Stage: s, WarningDays: l[0], BreachDays: l[1]}
	}
	return &pb.Thresholds{Region: region, Version: version, Stages: []*pb.StageThreshold{
		stage(commonv1.Stage_STAGE_SIFT, sift), stage(commonv1.Stage_STAGE_INTERVIEW, interview),
		stage(commonv1.Stage_STAGE_OFFER, offer), stage(commonv1.Stage_STAGE_PRE_EMPLOYMENT, pre),
	}, VettingBlockedWarningDays: blocked[0], VettingBlockedBreachDays: blocked[1],
		CheckOutstandingWarningDays: 14, CheckOutstandingBreachDays: 28}
}

// defaultThresholds are docs/design.md §5's: SIFT 10/14, INTERVIEW 14/21, OFFER
// 7/10, PRE_EMPLOYMENT 28/42, vetting blocked 3/5.
func defaultThresholds(region string, version int64) *pb.Thresholds {
	return thresholds(region, version, [2]int32{10, 14}, [2]int32{14, 21}, [2]int32{7, 10}, [2]int32{28, 42}, [2]int32{3, 5})
}

// tighter shortens SIFT to 4/6 and vetting blocked to 1/2.
func tighter(region string, version int64) *pb.Thresholds {
	return thresholds(region, version, [2]int32{4, 6}, [2]int32{14, 21}, [2]int32{7, 10}, [2]int32{28, 42}, [2]int32{1, 2})
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	e := setup(t)
	london := newCampaign("london", po)
	walesC := newCampaign("wales", po)
	closes := day(time.May, 31)
	// a: in SIFT since 1/6 09:00. b: in PRE_EMPLOYMENT since 20/5 10:00,
	// vetting blocked since 4/6 10:00. w: wales, in SIFT since 1/6 10:00.
	a := newApp(london).submitted(at(time.June, 1, 9))
	b := newApp(london).submitted(at(time.April, 1, 10)).siftPassed(at(time.April, 10, 10)).interviewPassed(at(time.April, 20, 10)).
		offerMade(at(time.April, 21, 10)).offerAccepted(at(time.May, 20, 10)).vettingOpened(at(time.May, 20, 11)).
		vettingBlocked(at(time.June, 4, 10), commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY)
	w := newApp(walesC).submitted(at(time.June, 1, 10))
	before := []*eventsv1.Event{london.created(at(time.May, 1, 9), day(time.May, 1), &closes), walesC.created(at(time.May, 1, 9), day(time.May, 1), &closes)}
	before = append(append(append(before, a.evs...), b.evs...), w.evs...)
	e.apply(t, before...)

	adminClient := e.as(t, admin)
	ctx := t.Context()
	asOf := ts(at(time.June, 6, 12))
	stuck := func(region string) *pb.ListStuckCandidatesResponse {
		t.Helper()
		resp, err := adminClient.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{Region: region, AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	get := func(region string) *pb.Thresholds {
		t.Helper()
		resp, err := e.as(t, dashLondon).GetThresholds(ctx, &pb.GetThresholdsRequest{Region: region})
		if region != "london" {
			resp, err = adminClient.GetThresholds(ctx, &pb.GetThresholdsRequest{Region: region})
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetThresholds()
	}

	wantProto(t, "london's thresholds before any change", get("london"), defaultThresholds("london", 0))
	// At 6/6 12:00 under the defaults: a 5d3h in SIFT (< 10), b 17 days in
	// PRE_EMPLOYMENT (< 28) and blocked 2d2h (< 3), w 5d2h: none stuck.
	if got := stuck("london"); len(got.GetCandidates()) != 0 {
		t.Fatalf("stuck before the change: %v", got.GetCandidates())
	}

	first := &pb.SetThresholdsRequest{RequestId: "set-1", ExpectedVersion: 0, Thresholds: tighter("london", 0)}
	set, err := adminClient.SetThresholds(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	wantProto(t, "SetThresholds' answer", set.GetThresholds(), tighter("london", 1))
	wantProto(t, "london's thresholds", get("london"), tighter("london", 1))
	wantProto(t, "wales's thresholds", get("wales"), defaultThresholds("wales", 0))

	// No new event, yet the clocks moved. At 6/6 12:00:
	//   a  SIFT since 1/6 09:00: warning +4d = 5/6 09:00, breach +6d = 7/6 09:00
	//      → warning; days 5d3h → 5; overdue 1d3h → 1
	//   b  blocked since 4/6 10:00: warning +1d = 5/6 10:00, breach +2d = 6/6 10:00
	//      → breach; days 2d2h → 2; overdue 2h → 0
	// w is in wales, whose thresholds did not change.
	aSift := candidate(a, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_SIFT, at(time.June, 1, 9), 5, 1, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC)
	bBlocked := candidate(b, pb.StuckKind_STUCK_KIND_VETTING_BLOCKED, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.June, 4, 10), 2, 0,
		pb.Severity_SEVERITY_BREACH, commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY, pb.NextActor_NEXT_ACTOR_VETTING)
	got := stuck("london")
	wantCandidates(t, got.GetCandidates(), []*pb.StuckCandidate{bBlocked, aSift}) // the breach first
	if got.GetWarningCount() != 1 || got.GetBreachCount() != 1 {
		t.Errorf("counts %d/%d, want 1 warning and 1 breach", got.GetWarningCount(), got.GetBreachCount())
	}
	if got := stuck("wales"); len(got.GetCandidates()) != 0 {
		t.Errorf("wales's clocks moved with london's thresholds: %v", got.GetCandidates())
	}
	summary, err := adminClient.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: "london", AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if summary.GetSummary().GetStuckCount() != 2 {
		t.Errorf("london stuck count %d, want 2", summary.GetSummary().GetStuckCount())
	}

	// An application arriving after the change is timed by the new
	// thresholds: SIFT since 1/6 22:00, warning 5/6 22:00 → days 4d14h → 4,
	// overdue 14h → 0.
	c := newApp(london).submitted(at(time.June, 1, 22))
	e.apply(t, c.evs...)
	wantCandidates(t, stuck("london").GetCandidates(), []*pb.StuckCandidate{bBlocked, aSift,
		candidate(c, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_SIFT, at(time.June, 1, 22), 4, 0, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC)})

	t.Run("moved clocks equal recomputed ones", func(t *testing.T) {
		t.Parallel()
		fresh := setup(t)
		if _, err := fresh.store.SetThresholds(context.Background(), "london", 0, mustThresholds(t, tighter("london", 0))); err != nil {
			t.Fatal(err)
		}
		fresh.apply(t, append(before, c.evs...)...)
		wantSameTables(t, tables(t, fresh.pool), tables(t, e.pool))
	})

	t.Run("stale version", func(t *testing.T) {
		t.Parallel()
		_, err := adminClient.SetThresholds(ctx, &pb.SetThresholdsRequest{RequestId: "set-stale", ExpectedVersion: 0, Thresholds: defaultThresholds("london", 0)})
		testenv.WantStatus(t, err, codes.Aborted)
	})

	t.Run("retry returns the first answer", func(t *testing.T) {
		t.Parallel()
		again, err := adminClient.SetThresholds(ctx, proto.CloneOf(first))
		if err != nil {
			t.Fatalf("retry of a completed request: %v", err)
		}
		wantProto(t, "retry's answer", again, set)
		wantProto(t, "london's thresholds after the retry", get("london"), tighter("london", 1))
		other := proto.CloneOf(first)
		other.Thresholds = defaultThresholds("london", 0)
		_, err = adminClient.SetThresholds(ctx, other)
		testenv.WantField(t, err, "request_id")
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			edit  func(th *pb.Thresholds)
			field string
		}{
			{"warning equals breach", func(th *pb.Thresholds) { th.Stages[1].WarningDays = 21 }, "thresholds.stages[1]"},
			{"warning after breach", func(th *pb.Thresholds) { th.Stages[2].WarningDays, th.Stages[2].BreachDays = 9, 8 }, "thresholds.stages[2]"},
			{"zero days", func(th *pb.Thresholds) { th.Stages[0].WarningDays = 0 }, "thresholds.stages[0]"},
			{"over a year", func(th *pb.Thresholds) { th.Stages[3].BreachDays = 366 }, "thresholds.stages[3]"},
			{"missing stage", func(th *pb.Thresholds) { th.Stages = th.Stages[:3] }, "thresholds.stages"},
			{"duplicate stage", func(th *pb.Thresholds) { th.Stages[3].Stage = commonv1.Stage_STAGE_SIFT }, "thresholds.stages[3].stage"},
			{"stage without thresholds", func(th *pb.Thresholds) { th.Stages[3].Stage = commonv1.Stage_STAGE_HIRED }, "thresholds.stages[3].stage"},
			{"blocked warning equals breach", func(th *pb.Thresholds) { th.VettingBlockedWarningDays = 5 }, "thresholds.vetting_blocked"},
			{"blocked zero", func(th *pb.Thresholds) { th.VettingBlockedWarningDays, th.VettingBlockedBreachDays = 0, 0 }, "thresholds.vetting_blocked"},
			{"blocked over a year", func(th *pb.Thresholds) { th.VettingBlockedBreachDays = 400 }, "thresholds.vetting_blocked"},
			{"role unspecified", func(th *pb.Thresholds) {
				th.Roles = []*pb.RoleThresholds{{VettingBlockedWarningDays: 5, VettingBlockedBreachDays: 8}}
			}, "thresholds.roles[0].role"},
			{"role unknown", func(th *pb.Thresholds) {
				th.Roles = []*pb.RoleThresholds{{Role: 99, VettingBlockedWarningDays: 5, VettingBlockedBreachDays: 8}}
			}, "thresholds.roles[0].role"},
			{"role twice", func(th *pb.Thresholds) {
				th.Roles = []*pb.RoleThresholds{{Role: po, VettingBlockedWarningDays: 5, VettingBlockedBreachDays: 8},
					{Role: po, VettingBlockedWarningDays: 6, VettingBlockedBreachDays: 8}}
			}, "thresholds.roles[1].role"},
			{"role overriding nothing", func(th *pb.Thresholds) { th.Roles = []*pb.RoleThresholds{{Role: po}} }, "thresholds.roles[0]"},
			{"role stage twice", func(th *pb.Thresholds) {
				th.Roles = []*pb.RoleThresholds{{Role: po, Stages: []*pb.StageThreshold{
					{Stage: commonv1.Stage_STAGE_SIFT, WarningDays: 4, BreachDays: 6}, {Stage: commonv1.Stage_STAGE_SIFT, WarningDays: 5, BreachDays: 6}}}}
			}, "thresholds.roles[0].stages[1].stage"},
			{"role stage warning after breach", func(th *pb.Thresholds) {
				th.Roles = []*pb.RoleThresholds{{Role: po, Stages: []*pb.StageThreshold{{Stage: commonv1.Stage_STAGE_OFFER, WarningDays: 9, BreachDays: 6}}}}
			}, "thresholds.roles[0].stages[0]"},
			{"role blocked half set", func(th *pb.Thresholds) {
				th.Roles = []*pb.RoleThresholds{{Role: po, VettingBlockedWarningDays: 5}}
			}, "thresholds.roles[0].vetting_blocked"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				th := defaultThresholds("london", 0)
				tt.edit(th)
				_, err := adminClient.SetThresholds(ctx, &pb.SetThresholdsRequest{RequestId: "bad-" + tt.name, ExpectedVersion: 1, Thresholds: th})
				testenv.WantField(t, err, tt.field)
			})
		}
		_, err := adminClient.SetThresholds(ctx, &pb.SetThresholdsRequest{ExpectedVersion: 1, Thresholds: defaultThresholds("london", 0)})
		testenv.WantField(t, err, "request_id")
		_, err = adminClient.SetThresholds(ctx, &pb.SetThresholdsRequest{RequestId: "no-region", ExpectedVersion: 1, Thresholds: defaultThresholds("", 0)})
		testenv.WantStatus(t, err, codes.InvalidArgument, "region: is required")
		_, err = adminClient.SetThresholds(ctx, &pb.SetThresholdsRequest{RequestId: "atlantis", ExpectedVersion: 1, Thresholds: defaultThresholds("atlantis", 0)})
		testenv.WantField(t, err, "region")
		// Only admins set thresholds: anyone else is refused before the
		// request is looked at.
		_, err = e.as(t, dashLondon).SetThresholds(ctx, &pb.SetThresholdsRequest{RequestId: "by-dashboard", ExpectedVersion: 1, Thresholds: defaultThresholds("", 0)})
		testenv.WantStatus(t, err, codes.PermissionDenied)
		if v := get("london").GetVersion(); v != 1 {
			t.Errorf("after rejected updates london's thresholds are at version %d, want 1", v)
		}
	})
}

// TestSetThresholdsRacingABatch sets thresholds while a batch that read the
// old ones is still open: once both have committed, the batch's clocks must
// follow the new thresholds, as if the batch had come first or last.
func TestSetThresholdsRacingABatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := newCampaign("london", po)
	a := newApp(c).submitted(at(time.June, 1, 9))

	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := e.store.Apply(ctx, tx, a.evs); err != nil {
		t.Fatal(err)
	}
	var batchPID int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&batchPID); err != nil {
		t.Fatal(err)
	}
	th := mustThresholds(t, tighter("london", 0))
	done := make(chan error, 1)
	go func() {
		_, err := e.store.SetThresholds(ctx, "london", 0, th)
		done <- err
	}()
	// Let SetThresholds run to its end, or until it waits for the batch.
	var setErr error
	finished := false
	testenv.Eventually(t, "SetThresholds finishes or waits for the open batch", func() (bool, string) {
		select {
		case setErr = <-done:
			finished = true
			return true, ""
		default:
		}
		var waiting int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, batchPID).Scan(&waiting); err != nil {
			return false, err.Error()
		}
		return waiting > 0, "neither"
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !finished {
		setErr = <-done
	}
	if setErr != nil {
		t.Fatal(setErr)
	}
	// SIFT 4/6 from 1/6 09:00: warning 5/6 09:00, breach 7/6 09:00.
	var warning, breach time.Time
	if err := e.pool.QueryRow(ctx, `SELECT warning_at, breach_at FROM stuck WHERE application_id = $1`, a.id).Scan(&warning, &breach); err != nil {
		t.Fatal(err)
	}
	if !warning.Equal(at(time.June, 5, 9)) || !breach.Equal(at(time.June, 7, 9)) {
		t.Errorf("a's SIFT clock warns at %v and breaches at %v, want 5 June 09:00 and 7 June 09:00 UTC (the new thresholds)", warning.UTC(), breach.UTC())
	}
}

// TestMovedClocksUnderLondonSessionTime moves clocks across the end of
// British Summer Time (25 October 2026) on a connection whose TimeZone is
// Europe/London, as a UK database's default may be: a day of a threshold
// is 24 hours in the projection, so moved clocks must equal recomputed ones.
func TestMovedClocksUnderLondonSessionTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCampaign("london", po)
	closes := day(time.October, 1)
	// a: in SIFT since 20/10 10:00 UTC; under SIFT 4/6 it breaches on
	// 26/10, after the clocks go back. b: in INTERVIEW since 6/10 10:00;
	// its breach (+21d) is 27/10.
	a := newApp(c).submitted(at(time.October, 20, 10))
	b := newApp(c).submitted(at(time.October, 1, 10)).siftPassed(at(time.October, 6, 10))
	evs := append([]*eventsv1.Event{c.created(at(time.September, 1, 9), day(time.September, 1), &closes)}, a.evs...)
	evs = append(evs, b.evs...)

	moved, schema := testenv.Schema(t)
	if err := pg.Migrate(ctx, moved, rebuild.Migrations...); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["timezone"] = "Europe/London"
	londonPool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(londonPool.Close)
	st := store.New(londonPool)
	if err := pg.InTx(ctx, londonPool, func(tx pgx.Tx) error { return st.Apply(ctx, tx, evs) }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetThresholds(ctx, "london", 0, mustThresholds(t, tighter("london", 0))); err != nil {
		t.Fatal(err)
	}

	recomputed := setup(t)
	if _, err := recomputed.store.SetThresholds(ctx, "london", 0, mustThresholds(t, tighter("london", 0))); err != nil {
		t.Fatal(err)
	}
	recomputed.apply(t, evs...)
	wantSameTables(t, tables(t, moved), tables(t, recomputed.pool))
}

// mustThresholds converts the contract's thresholds as the API does.
func mustThresholds(t *testing.T, p *pb.Thresholds) projection.Thresholds {
	t.Helper()
	th := projection.Thresholds{Stages: map[commonv1.Stage]projection.Limit{},
		Blocked: projection.Limit{WarningDays: int(p.GetVettingBlockedWarningDays()), BreachDays: int(p.GetVettingBlockedBreachDays())}}
	for _, s := range p.GetStages() {
		th.Stages[s.GetStage()] = projection.Limit{WarningDays: int(s.GetWarningDays()), BreachDays: int(s.GetBreachDays())}
	}
	for _, r := range p.GetRoles() {
		o := projection.Overrides{Stages: map[commonv1.Stage]projection.Limit{}}
		for _, s := range r.GetStages() {
			o.Stages[s.GetStage()] = projection.Limit{WarningDays: int(s.GetWarningDays()), BreachDays: int(s.GetBreachDays())}
		}
		if r.GetVettingBlockedWarningDays() != 0 {
			o.Blocked = &projection.Limit{WarningDays: int(r.GetVettingBlockedWarningDays()), BreachDays: int(r.GetVettingBlockedBreachDays())}
		}
		if th.Roles == nil {
			th.Roles = map[commonv1.JobRole]projection.Overrides{}
		}
		th.Roles[r.GetRole()] = o
	}
	return th
}

// TestRoleThresholds: a job role's overrides time its applications' clocks
// (the stuck list and the pending stuck crossings), the region's time the
// other roles', and moving clocks to them gives what recomputing does.
func TestRoleThresholds(t *testing.T) {
	t.Parallel()
	e := setup(t)
	adminClient := e.as(t, admin)
	ctx := t.Context()
	officers, clerks := newCampaign("london", po), newCampaign("london", commonv1.JobRole_JOB_ROLE_ADMINISTRATOR)
	closes := day(time.May, 31)
	blocked := func(c *campaign) *app {
		return newApp(c).submitted(at(time.April, 1, 10)).siftPassed(at(time.April, 10, 10)).interviewPassed(at(time.April, 20, 10)).
			offerMade(at(time.April, 21, 10)).offerAccepted(at(time.May, 20, 10)).vettingOpened(at(time.May, 20, 11)).
			vettingBlocked(at(time.June, 1, 10), commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY)
	}
	// Officers: SIFT 4/6 and vetting blocked 6/9 (SC clearance takes
	// longer); everyone else the region's 10/14 and 3/5.
	poSift, clerkSift := newApp(officers).submitted(at(time.June, 1, 9)), newApp(clerks).submitted(at(time.June, 1, 9))
	poBlocked, clerkBlocked := blocked(officers), blocked(clerks)
	evs := []*eventsv1.Event{officers.created(at(time.May, 1, 9), day(time.May, 1), &closes), clerks.created(at(time.May, 1, 9), day(time.May, 1), &closes)}
	for _, a := range []*app{poSift, clerkSift, poBlocked, clerkBlocked} {
		evs = append(evs, a.evs...)
	}
	e.apply(t, evs...)

	th := defaultThresholds("london", 0)
	th.Roles = []*pb.RoleThresholds{{Role: po, Stages: []*pb.StageThreshold{{Stage: commonv1.Stage_STAGE_SIFT, WarningDays: 4, BreachDays: 6}},
		VettingBlockedWarningDays: 6, VettingBlockedBreachDays: 9}}
	set, err := adminClient.SetThresholds(ctx, &pb.SetThresholdsRequest{RequestId: "roles", Thresholds: th})
	if err != nil {
		t.Fatal(err)
	}
	want := proto.CloneOf(th)
	want.Version = 1
	wantProto(t, "SetThresholds' answer", set.GetThresholds(), want)
	got, err := e.as(t, dashLondon).GetThresholds(ctx, &pb.GetThresholdsRequest{Region: "london"})
	if err != nil {
		t.Fatal(err)
	}
	wantProto(t, "london's thresholds", got.GetThresholds(), want)

	// At 6/6 12:00: the officer in SIFT 5d3h is a warning (4 days), the
	// clerk is not stuck (10); the clerk blocked 5d2h is a breach (5 days),
	// the officer blocked is not stuck yet (6).
	list, err := adminClient.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(at(time.June, 6, 12))})
	if err != nil {
		t.Fatal(err)
	}
	wantCandidates(t, list.GetCandidates(), []*pb.StuckCandidate{
		candidate(clerkBlocked, pb.StuckKind_STUCK_KIND_VETTING_BLOCKED, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.June, 1, 10), 5, 0,
			pb.Severity_SEVERITY_BREACH, commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY, pb.NextActor_NEXT_ACTOR_VETTING),
		candidate(poSift, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_SIFT, at(time.June, 1, 9), 5, 1, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC),
	})

	// The pending crossings (judged at the server's 1/6 12:00) moved with
	// the clocks: each role's next warning by its own thresholds.
	dues := map[string]time.Time{
		poSift.id + " 1": at(time.June, 5, 9), clerkSift.id + " 1": at(time.June, 11, 9),
		poBlocked.id + " 2": at(time.June, 7, 10), clerkBlocked.id + " 2": at(time.June, 4, 10),
	}
	for key, w := range dues {
		var due time.Time
		if err := e.pool.QueryRow(ctx, `SELECT due_at FROM stuck_alerts WHERE application_id::text || ' ' || kind = $1`, key).Scan(&due); err != nil || !due.Equal(w) {
			t.Errorf("clock %s: next crossing %v (%v), want %v", key, due.UTC(), err, w)
		}
	}

	t.Run("moved clocks equal recomputed ones", func(t *testing.T) {
		t.Parallel()
		fresh := setup(t)
		if _, err := fresh.store.SetThresholds(context.Background(), "london", 0, mustThresholds(t, th)); err != nil {
			t.Fatal(err)
		}
		fresh.apply(t, evs...)
		wantSameTables(t, tables(t, fresh.pool), tables(t, e.pool))
	})
}
