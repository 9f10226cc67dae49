package grpcapi_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/pkg/weekly"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// stats is the contract's Statistics.
func stats(count int32, mean, median, p90 float64) *pb.Statistics {
	return &pb.Statistics{Count: count, Mean: mean, Median: median, P90: p90}
}

// near compares figures computed in floating point (an interpolated p90
// such as 21 + 0.7*9 need not be the nearest double to 27.3).
func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func wantStats(t *testing.T, what string, got, want *pb.Statistics) {
	t.Helper()
	if got.GetCount() != want.GetCount() || !near(got.GetMean(), want.GetMean()) ||
		!near(got.GetMedian(), want.GetMedian()) || !near(got.GetP90(), want.GetP90()) {
		t.Errorf("%s = {count %d mean %v median %v p90 %v}, want {count %d mean %v median %v p90 %v}", what,
			got.GetCount(), got.GetMean(), got.GetMedian(), got.GetP90(),
			want.GetCount(), want.GetMean(), want.GetMedian(), want.GetP90())
	}
}

// measureWant is one measure's expected figures.
type measureWant struct {
	calendar, working *pb.Statistics
}

// wantTimeToHire checks the four measures, in contract order, and the
// count of starts before vetting cleared.
func wantTimeToHire(t *testing.T, got *pb.GetTimeToHireResponse, want map[pb.Measure]measureWant, startedEarly int32) {
	t.Helper()
	order := []pb.Measure{pb.Measure_MEASURE_TIME_TO_HIRE, pb.Measure_MEASURE_TIME_TO_FILL,
		pb.Measure_MEASURE_APPLICATION_TO_START, pb.Measure_MEASURE_OFFER_TO_CLEARANCE}
	if len(got.GetMeasures()) != len(order) {
		t.Fatalf("%d measures, want %d", len(got.GetMeasures()), len(order))
	}
	for i, m := range got.GetMeasures() {
		if m.GetMeasure() != order[i] {
			t.Errorf("measures[%d] is %v, want %v", i, m.GetMeasure(), order[i])
			continue
		}
		w := want[m.GetMeasure()]
		wantStats(t, m.GetMeasure().String()+" calendar days", m.GetCalendarDays(), w.calendar)
		wantStats(t, m.GetMeasure().String()+" working days", m.GetWorkingDays(), w.working)
	}
	if got.GetStartedBeforeVettingCleared() != startedEarly {
		t.Errorf("started_before_vetting_cleared = %d, want %d", got.GetStartedBeforeVettingCleared(), startedEarly)
	}
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// TestScriptedReports checks every report against figures worked out by
// hand from the scripted pipeline (see newScripted).
func TestScriptedReports(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := newScripted()
	// As a consumer would: the campaigns in one batch, then a batch per
	// application.
	e.apply(t, s.events[:3]...)
	for _, a := range s.apps() {
		e.apply(t, a.evs...)
	}
	dash := e.as(t, dashLondon)
	asOf := at(time.June, 1, 12) // Monday 1 June 2026, 12:00 UTC (13:00 BST)

	t.Run("stuck candidates", func(t *testing.T) {
		t.Parallel()
		// Clocks of the London applications (thresholds are the defaults):
		//
		//   l3  PRE_EMPLOYMENT since 20/4 10:00: warning +28d = 18/5 10:00, breach +42d = 1/6 10:00
		//   l2  started subject to vetting due 20/5: overdue from midnight London
		//       after it, 21/5 00:00 BST = 20/5 23:00 UTC (warning = breach)
		//   l7  SIFT since 14/5 10:00: warning +10d = 24/5 10:00, breach +14d = 28/5 10:00
		//   l10 OFFER since 19/5 09:00: warning +7d = 26/5 09:00, breach +10d = 29/5 09:00
		//   l8  INTERVIEW since 12/5 10:00: warning +14d = 26/5 10:00, breach +21d = 2/6 10:00
		//   l3  vetting blocked since 25/5 10:00: warning +3d = 28/5 10:00, breach +5d = 30/5 10:00
		//
		// No other London clock runs: l1 and l9 are hired and cleared, l4-l6 ended.
		// The list is most overdue first: breaches before warnings, then
		// days overdue (descending), ties by the longest running clock.
		//
		// At 1/6 12:00:
		//   l3 stage     breach (1/6 10:00 passed); days 42d2h → 42; overdue past breach 2h → 0
		//   l2 overdue   breach; days 11d13h → 11; overdue 11
		//   l7 sift      breach; days 18d2h → 18; overdue since 28/5 10:00: 4d2h → 4
		//   l10 offer    breach; days 13d3h → 13; overdue since 29/5 09:00: 3d3h → 3
		//   l8 interview warning (breach 2/6 not yet); days 20d2h → 20; overdue since 26/5 10:00: 6d2h → 6
		//   l3 blocked   breach; days 7d2h → 7; overdue since 30/5 10:00: 2d2h → 2
		// → 1 warning, 5 breaches; in order l2 (11 over), l7 (4), l10 (3),
		// l3 blocked (2), l3 stage (0), then the warning l8 — not by warning
		// time, which put l3's stage breach, 0 days over, first and the l8
		// warning between breaches.
		// l3's stage clock names the vetting contact point: its case is blocked.
		l3Stage := candidate(s.l3, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.April, 20, 10), 42, 0, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_VETTING)
		l2Overdue := candidate(s.l2, pb.StuckKind_STUCK_KIND_VETTING_OVERDUE, commonv1.Stage_STAGE_HIRED, at(time.May, 20, 23), 11, 11, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_VETTING)
		l7Sift := candidate(s.l7, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_SIFT, at(time.May, 14, 10), 18, 4, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_SPOC)
		l10Offer := candidate(s.l10, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_OFFER, at(time.May, 19, 9), 13, 3, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_SPOC)
		l8Interview := candidate(s.l8, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_INTERVIEW, at(time.May, 12, 10), 20, 6, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC)
		l3Blocked := candidate(s.l3, pb.StuckKind_STUCK_KIND_VETTING_BLOCKED, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.May, 25, 10), 7, 2, pb.Severity_SEVERITY_BREACH, commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE, pb.NextActor_NEXT_ACTOR_VETTING)

		// At 27/5 12:00 (l3's block is not yet past its warning on 28/5):
		//   l3 stage   warning; days 37d2h → 37; overdue since 18/5 10:00: 9d2h → 9
		//   l2 overdue breach; days 6d13h → 6; overdue 6
		//   l7 sift    warning; days 13d2h → 13; overdue since 24/5 10:00: 3d2h → 3
		//   l10 offer  warning; days 8d3h → 8; overdue since 26/5 09:00: 1d3h → 1
		//   l8         warning; days 15d2h → 15; overdue since 26/5 10:00: 1d2h → 1
		// → 4 warnings, 1 breach; in order l2 (the breach), l3 (9 over),
		// l7 (3), then l8 and l10 both 1 over: l8, in its stage since 12/5,
		// before l10, since 19/5.
		earlier := at(time.May, 27, 12)
		tests := []struct {
			name               string
			req                *pb.ListStuckCandidatesRequest
			want               []*pb.StuckCandidate
			warnings, breaches int32
		}{
			{"all", &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf)},
				[]*pb.StuckCandidate{l2Overdue, l7Sift, l10Offer, l3Blocked, l3Stage, l8Interview}, 1, 5},
			{"as of the server clock", &pb.ListStuckCandidatesRequest{Region: "london"},
				[]*pb.StuckCandidate{l2Overdue, l7Sift, l10Offer, l3Blocked, l3Stage, l8Interview}, 1, 5},
			{"pre-employment only", &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT},
				[]*pb.StuckCandidate{l3Blocked, l3Stage}, 0, 2},
			{"hired subject to vetting", &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), Stage: commonv1.Stage_STAGE_HIRED},
				[]*pb.StuckCandidate{l2Overdue}, 0, 1},
			// The severity filter picks rows; the counts stay per severity.
			{"warnings only", &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), Severity: pb.Severity_SEVERITY_WARNING},
				[]*pb.StuckCandidate{l8Interview}, 1, 5},
			{"breaches only", &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), Severity: pb.Severity_SEVERITY_BREACH},
				[]*pb.StuckCandidate{l2Overdue, l7Sift, l10Offer, l3Blocked, l3Stage}, 1, 5},
			{"interview breaches: none", &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), Stage: commonv1.Stage_STAGE_INTERVIEW, Severity: pb.Severity_SEVERITY_BREACH},
				nil, 1, 0},
			{"five days earlier", &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(earlier)},
				[]*pb.StuckCandidate{
					candidate(s.l2, pb.StuckKind_STUCK_KIND_VETTING_OVERDUE, commonv1.Stage_STAGE_HIRED, at(time.May, 20, 23), 6, 6, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_VETTING),
					candidate(s.l3, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.April, 20, 10), 37, 9, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_VETTING),
					candidate(s.l7, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_SIFT, at(time.May, 14, 10), 13, 3, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC),
					candidate(s.l8, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_INTERVIEW, at(time.May, 12, 10), 15, 1, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC),
					candidate(s.l10, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_OFFER, at(time.May, 19, 9), 8, 1, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC),
				}, 4, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, err := dash.ListStuckCandidates(t.Context(), tt.req)
				if err != nil {
					t.Fatal(err)
				}
				wantCandidates(t, resp.GetCandidates(), tt.want)
				if resp.GetWarningCount() != tt.warnings || resp.GetBreachCount() != tt.breaches {
					t.Errorf("counts: %d warnings, %d breaches; want %d, %d", resp.GetWarningCount(), resp.GetBreachCount(), tt.warnings, tt.breaches)
				}
				if resp.GetNextPageToken() != "" {
					t.Errorf("a single page has a next page token")
				}
			})
		}

		t.Run("pages of two", func(t *testing.T) {
			t.Parallel()
			// Six rows in pages of two: three pages, each row once, in order;
			// the last page has no token.
			want := [][]*pb.StuckCandidate{{l2Overdue, l7Sift}, {l10Offer, l3Blocked}, {l3Stage, l8Interview}}
			token := ""
			for i, page := range want {
				resp, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), PageSize: 2, PageToken: token})
				if err != nil {
					t.Fatalf("page %d: %v", i+1, err)
				}
				wantCandidates(t, resp.GetCandidates(), page)
				if resp.GetWarningCount() != 1 || resp.GetBreachCount() != 5 {
					t.Errorf("page %d counts %d/%d, want 1/5", i+1, resp.GetWarningCount(), resp.GetBreachCount())
				}
				token = resp.GetNextPageToken()
				if last := i == len(want)-1; (token == "") != last {
					t.Fatalf("page %d: next page token %q", i+1, token)
				}
			}
		})

		t.Run("pages without as_of keep the first page's clock", func(t *testing.T) {
			t.Parallel()
			first, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", PageSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			second, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", PageSize: 4, PageToken: first.GetNextPageToken()})
			if err != nil {
				t.Fatal(err)
			}
			wantCandidates(t, append(first.GetCandidates(), second.GetCandidates()...),
				[]*pb.StuckCandidate{l2Overdue, l7Sift, l10Offer, l3Blocked, l3Stage, l8Interview})
		})

		t.Run("bad requests", func(t *testing.T) {
			t.Parallel()
			first, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), PageSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			_, err = dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(asOf), PageSize: 2,
				Stage: commonv1.Stage_STAGE_SIFT, PageToken: first.GetNextPageToken()})
			testenv.WantField(t, err, "page_token")
			_, err = dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", Stage: commonv1.Stage_STAGE_REJECTED})
			testenv.WantField(t, err, "stage")
			_, err = dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", PageSize: -1})
			testenv.WantField(t, err, "page_size")
			_, err = dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{})
			testenv.WantField(t, err, "region")
		})
	})

	t.Run("time to hire", func(t *testing.T) {
		t.Parallel()
		// Measures of the London applications, calendar days / working days.
		// Working days count the days d with start < d <= end that are
		// Monday to Friday and not a bank holiday; in the span: Good Friday
		// 3/4, Easter Monday 6/4, early May 4/5 and spring 25/5.
		//
		// Time to hire, campaign close (31/3; for c2, the submission date)
		// to the offer:
		//   l1  31/3 → 8/4   8 days; working 1,2,7,8 April                 = 4 (6 weekdays)
		//   l2  31/3 → 9/4   9;      + 9/4                                 = 5
		//   l3  31/3 → 15/4  15;     1,2,7-10,13-15                        = 9
		//   l6  31/3 → 17/4  17;     + 16, 17                              = 11
		//   l9  1/4 → 22/4   21;     2, 7-10, 13-17, 20-22                 = 13
		//   l10 20/4 → 20/5  30;     21-24, 27-30 April, 1, 5-8, 11-15, 18-20 May = 21
		// calendar 8 9 15 17 21 30: mean 100/6; median (rank 2.5) (15+17)/2 = 16;
		//   p90 (rank 0.9*5 = 4.5) 21 + 0.5*(30-21) = 25.5
		// working 4 5 9 11 13 21: mean 63/6 = 10.5; median (9+11)/2 = 10; p90 13 + 0.5*8 = 17
		//
		// Time to fill, close to start date:
		//   l1  31/3 → 11/5  41; April's 22 weekdays less 3/4 and 6/4 = 20, + 1, 5-8, 11 May = 26
		//   l2  31/3 → 5/5   35; 20 + 1 and 5 May                         = 22
		//   l9  1/4 → 26/5   55; 19 (April after the 1st) + 1, 5-8, 11-15, 18-22, 26 May = 35
		// calendar 35 41 55: mean 131/3; median 41; p90 (rank 1.8) 41 + 0.8*14 = 52.2
		// working 22 26 35: mean 83/3; median 26; p90 26 + 0.8*9 = 33.2
		//
		// Application to start, submission to start date:
		//   l1  10/3 → 11/5  21 + 41 = 62; 11-13, 16-20, 23-27, 30-31 March = 15, + 26 = 41
		//   l2  12/3 → 5/5   19 + 35 = 54; 13, 16-20, 23-27, 30-31 March = 13, + 22 = 35
		//   l9  1/4 → 26/5   55; 35
		// calendar 54 55 62: mean 57; median 55; p90 55 + 0.8*7 = 60.6
		// working 35 35 41: mean 37; median 35; p90 35 + 0.8*6 = 39.8
		//
		// Offer to clearance, accepted to cleared:
		//   l1  10/4 → 1/5   21; 13-17, 20-24, 27-30 April, 1 May = 15
		//   l9  24/4 → 15/5  21; 27-30 April, 1, 5-8, 11-15 May  = 14
		// calendar 21 21; working 14 15: mean 14.5, median 14.5, p90 14 + 0.9*1 = 14.9
		//
		// Started before vetting cleared: l2 (subject to vetting) = 1.
		all := map[pb.Measure]measureWant{
			pb.Measure_MEASURE_TIME_TO_HIRE:         {stats(6, 100.0/6, 16, 25.5), stats(6, 10.5, 10, 17)},
			pb.Measure_MEASURE_TIME_TO_FILL:         {stats(3, 131.0/3, 41, 52.2), stats(3, 83.0/3, 26, 33.2)},
			pb.Measure_MEASURE_APPLICATION_TO_START: {stats(3, 57, 55, 60.6), stats(3, 37, 35, 39.8)},
			pb.Measure_MEASURE_OFFER_TO_CLEARANCE:   {stats(2, 21, 21, 21), stats(2, 14.5, 14.5, 14.9)},
		}
		tests := []struct {
			name         string
			req          *pb.GetTimeToHireRequest
			want         map[pb.Measure]measureWant
			startedEarly int32
		}{
			{"london", &pb.GetTimeToHireRequest{Region: "london"}, all, 1},
			// The window is on London dates: 9/4 23:30 UTC is 10/4 00:30 BST,
			// and 20/5 22:30 UTC is 20/5 23:30 BST; both ends included.
			// Time to hire ending 10/4-20/5: l3 15, l6 17, l9 21, l10 30 (l1, l2 out)
			//   calendar mean 83/4 = 20.75, median (17+21)/2 = 19, p90 (rank 2.7) 21 + 0.7*9 = 27.3
			//   working 9 11 13 21: mean 13.5, median 12, p90 13 + 0.7*8 = 18.6
			// Time to fill / application to start ending by 20/5: l2 (5/5), l1 (11/5); l9 (26/5) out
			//   fill 35 41: mean 38, median 38, p90 35 + 0.9*6 = 40.4; working 22 26: 24, 24, 22 + 0.9*4 = 25.6
			//   start 54 62: mean 58, median 58, p90 54 + 0.9*8 = 61.2; working 35 41: 38, 38, 35 + 0.9*6 = 40.4
			// Offer to clearance ending 1/5 and 15/5: both. l2 started 5/5: 1.
			{"window on London dates", &pb.GetTimeToHireRequest{Region: "london",
				From: ts(atm(time.April, 9, 23, 30)), To: ts(atm(time.May, 20, 22, 30))},
				map[pb.Measure]measureWant{
					pb.Measure_MEASURE_TIME_TO_HIRE:         {stats(4, 20.75, 19, 27.3), stats(4, 13.5, 12, 18.6)},
					pb.Measure_MEASURE_TIME_TO_FILL:         {stats(2, 38, 38, 40.4), stats(2, 24, 24, 25.6)},
					pb.Measure_MEASURE_APPLICATION_TO_START: {stats(2, 58, 58, 61.2), stats(2, 38, 38, 40.4)},
					pb.Measure_MEASURE_OFFER_TO_CLEARANCE:   {stats(2, 21, 21, 21), stats(2, 14.5, 14.5, 14.9)},
				}, 1},
			// 6/5-31/5: time to hire l10 only; fill and start l1 (11/5) and
			// l9 (26/5): fill 41 55 → mean 48, p90 41 + 0.9*14 = 53.6; working
			// 26 35 → 30.5, p90 26 + 0.9*9 = 34.1; start 55 62 → 58.5, p90
			// 55 + 0.9*7 = 61.3; working 35 41 → 38, p90 40.4; clearance l9
			// (15/5) only; l2's start (5/5) is outside: 0.
			{"window excluding l2's start", &pb.GetTimeToHireRequest{Region: "london",
				From: ts(at(time.May, 6, 0)), To: ts(at(time.May, 31, 12))},
				map[pb.Measure]measureWant{
					pb.Measure_MEASURE_TIME_TO_HIRE:         {stats(1, 30, 30, 30), stats(1, 21, 21, 21)},
					pb.Measure_MEASURE_TIME_TO_FILL:         {stats(2, 48, 48, 53.6), stats(2, 30.5, 30.5, 34.1)},
					pb.Measure_MEASURE_APPLICATION_TO_START: {stats(2, 58.5, 58.5, 61.3), stats(2, 38, 38, 40.4)},
					pb.Measure_MEASURE_OFFER_TO_CLEARANCE:   {stats(1, 21, 21, 21), stats(1, 14, 14, 14)},
				}, 0},
			// The rolling campaign c2: l9 and l10, measured from submission.
			// Time to hire 21 30: mean 25.5, p90 21 + 0.9*9 = 29.1; working
			// 13 21: 17, p90 13 + 0.9*8 = 20.2.
			{"rolling campaign", &pb.GetTimeToHireRequest{Region: "london", CampaignId: s.c2.id},
				map[pb.Measure]measureWant{
					pb.Measure_MEASURE_TIME_TO_HIRE:         {stats(2, 25.5, 25.5, 29.1), stats(2, 17, 17, 20.2)},
					pb.Measure_MEASURE_TIME_TO_FILL:         {stats(1, 55, 55, 55), stats(1, 35, 35, 35)},
					pb.Measure_MEASURE_APPLICATION_TO_START: {stats(1, 55, 55, 55), stats(1, 35, 35, 35)},
					pb.Measure_MEASURE_OFFER_TO_CLEARANCE:   {stats(1, 21, 21, 21), stats(1, 14, 14, 14)},
				}, 0},
			// Probation officers in London (c1): time to hire 8 9 15 17: mean
			// 12.25, median (9+15)/2 = 12, p90 (rank 2.7) 15 + 0.7*2 = 16.4;
			// working 4 5 9 11: 7.25, 7, 9 + 0.7*2 = 10.4; l1 and l2 as above.
			{"role", &pb.GetTimeToHireRequest{Region: "london", Role: po},
				map[pb.Measure]measureWant{
					pb.Measure_MEASURE_TIME_TO_HIRE:         {stats(4, 12.25, 12, 16.4), stats(4, 7.25, 7, 10.4)},
					pb.Measure_MEASURE_TIME_TO_FILL:         {stats(2, 38, 38, 40.4), stats(2, 24, 24, 25.6)},
					pb.Measure_MEASURE_APPLICATION_TO_START: {stats(2, 58, 58, 61.2), stats(2, 38, 38, 40.4)},
					pb.Measure_MEASURE_OFFER_TO_CLEARANCE:   {stats(1, 21, 21, 21), stats(1, 15, 15, 15)},
				}, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, err := dash.GetTimeToHire(t.Context(), tt.req)
				if err != nil {
					t.Fatal(err)
				}
				wantTimeToHire(t, resp, tt.want, tt.startedEarly)
			})
		}

		t.Run("weekly trend", func(t *testing.T) {
			t.Parallel()
			// Offers by week (Monday): 6/4: l1 8, l2 9; 13/4: l3 15, l6 17;
			// 20/4: l9 21; 18/5: l10 30.
			resp, err := dash.GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{Region: "london"})
			if err != nil {
				t.Fatal(err)
			}
			want := []struct {
				week  time.Time
				stats *pb.Statistics
			}{
				{day(time.April, 6), stats(2, 8.5, 8.5, 8.9)},
				{day(time.April, 13), stats(2, 16, 16, 16.8)},
				{day(time.April, 20), stats(1, 21, 21, 21)},
				{day(time.May, 18), stats(1, 30, 30, 30)},
			}
			trend := resp.GetMeasures()[0].GetWeeklyTrend()
			got, err := weekly.Points(trend)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d weeks, want %d: %v", len(got), len(want), trend)
			}
			wantProto(t, "first_week", trend.GetFirstWeek(), event.Date(want[0].week))
			for i, w := range want {
				if !got[i].Week.Equal(w.week) {
					t.Errorf("point %d is the week of %s, want %s", i, got[i].Week.Format(time.DateOnly), w.week.Format(time.DateOnly))
				}
				wantStats(t, fmt.Sprintf("week of %s", w.week.Format(time.DateOnly)), stats(int32(got[i].Count), got[i].Mean, got[i].Median, got[i].P90), w.stats)
			}
		})

		t.Run("bad window", func(t *testing.T) {
			t.Parallel()
			_, err := dash.GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{Region: "london", From: ts(asOf), To: ts(asOf.AddDate(0, 0, -2))})
			testenv.WantField(t, err, "to")
			_, err = dash.GetTimeToHire(t.Context(), &pb.GetTimeToHireRequest{Region: "london", CampaignId: "c1"})
			testenv.WantField(t, err, "campaign_id")
		})
	})

	t.Run("funnel", func(t *testing.T) {
		t.Parallel()
		// Reached, London: SIFT all 10; INTERVIEW (sift passed) l1 l2 l3 l5
		// l6 l8 l9 l10 = 8; OFFER (interview passed) l1 l2 l3 l6 l9 l10 = 6;
		// PRE_EMPLOYMENT (accepted) l1 l2 l3 l9 = 4; HIRED l1 l2 l9 = 3.
		// Conversion 1, 8/10, 6/8, 4/6, 3/4. Rejected: l4 in SIFT, l5 in
		// INTERVIEW; withdrawn: l6 in OFFER.
		// c1 alone: 8; l1 l2 l3 l5 l6 l8 = 6; l1 l2 l3 l6 = 4; l1 l2 l3 = 3;
		// l1 l2 = 2 → 1, 6/8, 4/6, 3/4, 2/3.
		stage := func(s commonv1.Stage, reached int32, conv float64, rejected, withdrawn int32) *pb.FunnelStage {
			return &pb.FunnelStage{Stage: s, Reached: reached, ConversionFromPrevious: conv, Rejected: rejected, Withdrawn: withdrawn}
		}
		tests := []struct {
			name string
			req  *pb.GetFunnelRequest
			want []*pb.FunnelStage
		}{
			{"london", &pb.GetFunnelRequest{Region: "london"}, []*pb.FunnelStage{
				stage(commonv1.Stage_STAGE_SIFT, 10, 1, 1, 0),
				stage(commonv1.Stage_STAGE_INTERVIEW, 8, 0.8, 1, 0),
				stage(commonv1.Stage_STAGE_OFFER, 6, 0.75, 0, 1),
				stage(commonv1.Stage_STAGE_PRE_EMPLOYMENT, 4, 4.0/6, 0, 0),
				stage(commonv1.Stage_STAGE_HIRED, 3, 0.75, 0, 0),
			}},
			{"campaign", &pb.GetFunnelRequest{Region: "london", CampaignId: s.c1.id}, []*pb.FunnelStage{
				stage(commonv1.Stage_STAGE_SIFT, 8, 1, 1, 0),
				stage(commonv1.Stage_STAGE_INTERVIEW, 6, 0.75, 1, 0),
				stage(commonv1.Stage_STAGE_OFFER, 4, 4.0/6, 0, 1),
				stage(commonv1.Stage_STAGE_PRE_EMPLOYMENT, 3, 0.75, 0, 0),
				stage(commonv1.Stage_STAGE_HIRED, 2, 2.0/3, 0, 0),
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, err := dash.GetFunnel(t.Context(), tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.GetStages()) != len(tt.want) {
					t.Fatalf("%d stages, want %d", len(resp.GetStages()), len(tt.want))
				}
				for i, w := range tt.want {
					g := resp.GetStages()[i]
					if g.GetStage() != w.GetStage() || g.GetReached() != w.GetReached() || !near(g.GetConversionFromPrevious(), w.GetConversionFromPrevious()) ||
						g.GetRejected() != w.GetRejected() || g.GetWithdrawn() != w.GetWithdrawn() {
						t.Errorf("stage %d = %v, want %v", i, g, w)
					}
				}
			})
		}
	})

	t.Run("stage durations", func(t *testing.T) {
		t.Parallel()
		// Days in each stage left (London dates, entry → leaving):
		//   SIFT       l1 10/3→20/3 10, l2 11, l3 10, l4 10 (rejected 26/3), l5 10,
		//              l6 12, l8 19/3→12/5 54, l9 6, l10 7
		//   INTERVIEW  l1 20/3→1/4 12, l2 10, l3 20, l5 27/3→16/4 20 (rejected), l6 16, l9 14, l10 22
		//   OFFER      l1 1/4→10/4 9, l2 11, l3 6, l6 15/4→24/4 9 (withdrawn), l9 3
		//   PRE_EMP.   l1 10/4→11/5 31, l2 13/4→5/5 22, l9 24/4→26/5 32
		// SIFT 6 7 10 10 10 10 11 12 54: mean 130/9, median (rank 4) 10,
		//   p90 (rank 7.2) 12 + 0.2*42 = 20.4
		// INTERVIEW 10 12 14 16 20 20 22: mean 114/7, median 16, p90 (rank 5.4) 20 + 0.4*2 = 20.8
		// OFFER 3 6 9 9 11: mean 7.6, median 9, p90 (rank 3.6) 9 + 0.6*2 = 10.2
		// PRE_EMPLOYMENT 22 31 32: mean 85/3, median 31, p90 (rank 1.8) 31 + 0.8 = 31.8
		// Now: l7 in SIFT, l8 INTERVIEW, l10 OFFER, l3 PRE_EMPLOYMENT, one each.
		//
		// Left in April only: SIFT l9 (7/4) 6, l10 (27/4) 7: 6.5, 6.5, 6 + 0.9 = 6.9;
		// INTERVIEW l1 l2 l3 l5 l6 l9: 10 12 14 16 20 20 → mean 92/6, median 15,
		// p90 (rank 4.5) 20; every OFFER; no PRE_EMPLOYMENT (left in May).
		tests := []struct {
			name string
			req  *pb.GetStageDurationsRequest
			want []*pb.Statistics
		}{
			{"all time", &pb.GetStageDurationsRequest{Region: "london"}, []*pb.Statistics{
				stats(9, 130.0/9, 10, 20.4), stats(7, 114.0/7, 16, 20.8), stats(5, 7.6, 9, 10.2), stats(3, 85.0/3, 31, 31.8),
			}},
			{"april", &pb.GetStageDurationsRequest{Region: "london", From: ts(at(time.April, 1, 0)), To: ts(at(time.April, 30, 12))}, []*pb.Statistics{
				stats(2, 6.5, 6.5, 6.9), stats(6, 92.0/6, 15, 20), stats(5, 7.6, 9, 10.2), stats(0, 0, 0, 0),
			}},
		}
		stages := []commonv1.Stage{commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER, commonv1.Stage_STAGE_PRE_EMPLOYMENT}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, err := dash.GetStageDurations(t.Context(), tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.GetStages()) != len(stages) {
					t.Fatalf("%d stages, want %d", len(resp.GetStages()), len(stages))
				}
				for i, g := range resp.GetStages() {
					if g.GetStage() != stages[i] || g.GetCurrent() != 1 {
						t.Errorf("stages[%d] = %v now %d, want %v now 1", i, g.GetStage(), g.GetCurrent(), stages[i])
					}
					wantStats(t, stages[i].String(), g.GetDays(), tt.want[i])
				}
			})
		}
	})

	t.Run("region summary", func(t *testing.T) {
		t.Parallel()
		// Now: SIFT l7, INTERVIEW l8, OFFER l10, PRE_EMPLOYMENT l3, HIRED l1
		// l2 l9, REJECTED l4 l5, WITHDRAWN l6. Stuck at 1/6 12:00: l2 l3 l7
		// l8 l10 = 5 applications (l3 has two clocks). Median time to hire
		// over offers made 3/3-1/6 (90 days back): all six, 16.
		// On 10/7 12:00 the window starts 11/4: l3 15, l6 17, l9 21, l10 30
		// → (17+21)/2 = 19 over 4 offers; the same five are stuck. On
		// 31/12 the window starts 2/10, after every offer: no median.
		counts := func(sift, interview, offer, pre, hired, rejected, withdrawn int32) []*pb.StageCount {
			return []*pb.StageCount{
				{Stage: commonv1.Stage_STAGE_SIFT, Count: sift}, {Stage: commonv1.Stage_STAGE_INTERVIEW, Count: interview},
				{Stage: commonv1.Stage_STAGE_OFFER, Count: offer}, {Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, Count: pre},
				{Stage: commonv1.Stage_STAGE_HIRED, Count: hired}, {Stage: commonv1.Stage_STAGE_REJECTED, Count: rejected},
				{Stage: commonv1.Stage_STAGE_WITHDRAWN, Count: withdrawn},
			}
		}
		later := at(time.July, 10, 12)
		tests := []struct {
			name string
			req  *pb.GetRegionSummaryRequest
			want *pb.RegionSummary
		}{
			{"1 June", &pb.GetRegionSummaryRequest{Region: "london", AsOf: ts(asOf)},
				&pb.RegionSummary{Region: "london", StageCounts: counts(1, 1, 1, 1, 3, 2, 1), StuckCount: 5, MedianTimeToHireDays: 16, TimeToHireCount: 6, AsOf: ts(asOf)}},
			{"server clock", &pb.GetRegionSummaryRequest{Region: "london"},
				&pb.RegionSummary{Region: "london", StageCounts: counts(1, 1, 1, 1, 3, 2, 1), StuckCount: 5, MedianTimeToHireDays: 16, TimeToHireCount: 6, AsOf: ts(serverNow)}},
			{"10 July", &pb.GetRegionSummaryRequest{Region: "london", AsOf: ts(later)},
				&pb.RegionSummary{Region: "london", StageCounts: counts(1, 1, 1, 1, 3, 2, 1), StuckCount: 5, MedianTimeToHireDays: 19, TimeToHireCount: 4, AsOf: ts(later)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, err := dash.GetRegionSummary(t.Context(), tt.req)
				if err != nil {
					t.Fatal(err)
				}
				wantProto(t, "summary", resp.GetSummary(), tt.want)
			})
		}
		t.Run("no offers in the window", func(t *testing.T) {
			t.Parallel()
			resp, err := dash.GetRegionSummary(t.Context(), &pb.GetRegionSummaryRequest{Region: "london", AsOf: ts(at(time.December, 31, 12))})
			if err != nil {
				t.Fatal(err)
			}
			if s := resp.GetSummary(); s.GetTimeToHireCount() != 0 || s.GetMedianTimeToHireDays() != 0 {
				t.Errorf("median %v over %d offers, want 0 over 0", s.GetMedianTimeToHireDays(), s.GetTimeToHireCount())
			}
		})
		t.Run("list", func(t *testing.T) {
			t.Parallel()
			resp, err := dash.ListRegionSummaries(t.Context(), &pb.ListRegionSummariesRequest{AsOf: ts(asOf)})
			if err != nil {
				t.Fatal(err)
			}
			wantProto(t, "summaries", &pb.ListRegionSummariesResponse{Summaries: []*pb.RegionSummary{tests[0].want}}, resp)
		})
	})
}

// candidate is the stuck entry of a scripted London application.
func candidate(a *app, kind pb.StuckKind, stage commonv1.Stage, since time.Time, days, overdue int32, sev pb.Severity, reason commonv1.BlockReason, next pb.NextActor) *pb.StuckCandidate {
	return &pb.StuckCandidate{
		ApplicationId: a.id, CampaignId: a.c.id, CampaignTitle: campaignTitle, Region: a.c.region, Role: a.c.role, Stage: stage, Kind: kind,
		Since: ts(since), Days: days, DaysOverdue: overdue, Severity: sev, BlockedReason: reason, NextActor: next,
	}
}

func wantCandidates(t *testing.T, got, want []*pb.StuckCandidate) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d candidates, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		wantProto(t, fmt.Sprintf("candidate %d", i), got[i], want[i])
	}
}
