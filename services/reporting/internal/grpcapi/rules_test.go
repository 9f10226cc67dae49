package grpcapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func (a *app) interviewScheduled(at, when time.Time) *app {
	return a.add("sifting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(when)}}
	})
}

func (a *app) vettingFormsReceived(at time.Time) *app {
	return a.add("vetting", at, func(ev *eventsv1.Event) {
		ev.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	})
}

// TestStuckRulesMatchTheWork: through the stored projection, a booked
// interview's clock runs from the interview and a PRE_EMPLOYMENT case
// whose vetting forms are in is the vetting contact point's.
func TestStuckRulesMatchTheWork(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := newCampaign("london", po)
	closes := day(time.March, 31)
	// At 1/6 12:00 (INTERVIEW 14/21, PRE_EMPLOYMENT 28/42):
	//   next    in INTERVIEW since 1/5, interview booked for 8/6: not stuck
	//           (by stage entry it would be a breach, 31 days in);
	//   late    in INTERVIEW since 1/4, interviewed 15/5 10:00, no outcome:
	//           a warning, 17 days since the interview, 3 over;
	//   rebook  booked for 10/5, rebooked for 20/5: 12 days, not stuck;
	//   forms   in PRE_EMPLOYMENT since 20/4 10:00, forms in 25/4: a breach,
	//           the vetting contact point's;
	//   noforms in PRE_EMPLOYMENT since 20/4 10:00, no forms: a breach, the SPOC's.
	next := newApp(c).submitted(at(time.April, 1, 9)).siftPassed(at(time.May, 1, 9)).interviewScheduled(at(time.May, 2, 9), at(time.June, 8, 10))
	late := newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.April, 1, 9)).interviewScheduled(at(time.April, 2, 9), at(time.May, 15, 10))
	rebook := newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.April, 1, 9)).
		interviewScheduled(at(time.April, 2, 9), at(time.May, 10, 10)).interviewScheduled(at(time.May, 9, 9), at(time.May, 20, 10))
	pre := func() *app {
		return newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.March, 10, 9)).interviewPassed(at(time.April, 1, 9)).
			offerMade(at(time.April, 2, 9)).offerAccepted(at(time.April, 20, 10)).vettingOpened(at(time.April, 20, 11))
	}
	forms := pre().vettingFormsReceived(at(time.April, 25, 10))
	noforms := pre()
	evs := []*eventsv1.Event{c.created(at(time.March, 1, 8), day(time.March, 1), &closes)}
	for _, a := range []*app{next, late, rebook, forms, noforms} {
		evs = append(evs, a.evs...)
	}
	e.apply(t, evs...)

	resp, err := e.as(t, dashLondon).ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: ts(at(time.June, 1, 12))})
	if err != nil {
		t.Fatal(err)
	}
	// Two breaches 42 days in, 0 over, with the same since: by application
	// id (a UUID's text orders as its bytes); then the warning.
	formsRow := candidate(forms, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.April, 20, 10), 42, 0, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_VETTING)
	noformsRow := candidate(noforms, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_PRE_EMPLOYMENT, at(time.April, 20, 10), 42, 0, pb.Severity_SEVERITY_BREACH, 0, pb.NextActor_NEXT_ACTOR_SPOC)
	if forms.id > noforms.id {
		formsRow, noformsRow = noformsRow, formsRow
	}
	wantCandidates(t, resp.GetCandidates(), []*pb.StuckCandidate{formsRow, noformsRow,
		candidate(late, pb.StuckKind_STUCK_KIND_STAGE, commonv1.Stage_STAGE_INTERVIEW, at(time.May, 15, 10), 17, 3, pb.Severity_SEVERITY_WARNING, 0, pb.NextActor_NEXT_ACTOR_SPOC)})
}

// TestStuckFilters: the list filtered by role, campaign, rule and blocked
// reason, with counts of what each filter keeps, pages that keep the
// filter, and bad filters refused naming the field.
func TestStuckFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c1, c2 := newCampaign("london", po), newCampaign("london", pso)
	closes := day(time.March, 31)
	// At 1/6 12:00:
	//   a1 c1 PO  SIFT since 10/5: 22 days, breach 8 over;
	//   a2 c2 PSO SIFT since 20/5: 12 days, warning 2 over;
	//   a3 c1 PO  PRE_EMPLOYMENT since 20/4 10:00: breach 0 over; blocked
	//             (referee) since 25/5 10:00: 7 days, breach 2 over;
	//   a4 c2 PSO PRE_EMPLOYMENT since 20/4 11:00: breach 0 over; blocked
	//             (missing documents) since 29/5 10:00: 3 days, warning 0 over.
	a1 := newApp(c1).submitted(at(time.May, 10, 9))
	a2 := newApp(c2).submitted(at(time.May, 20, 9))
	pre := func(c *campaign, accepted time.Time) *app {
		return newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.March, 10, 9)).interviewPassed(at(time.April, 1, 9)).
			offerMade(at(time.April, 2, 9)).offerAccepted(accepted).vettingOpened(accepted.Add(time.Hour))
	}
	a3 := pre(c1, at(time.April, 20, 10)).vettingBlocked(at(time.May, 25, 10), commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE)
	a4 := pre(c2, at(time.April, 20, 11)).vettingBlocked(at(time.May, 29, 10), commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS)
	evs := []*eventsv1.Event{c1.created(at(time.March, 1, 8), day(time.March, 1), &closes), c2.created(at(time.March, 1, 8), day(time.March, 1), &closes)}
	for _, a := range []*app{a1, a2, a3, a4} {
		evs = append(evs, a.evs...)
	}
	e.apply(t, evs...)
	dash := e.as(t, dashLondon)
	asOf := ts(at(time.June, 1, 12))

	stage, blocked := pb.StuckKind_STUCK_KIND_STAGE, pb.StuckKind_STUCK_KIND_VETTING_BLOCKED
	tests := []struct {
		name               string
		req                *pb.ListStuckCandidatesRequest
		want               []kindRow
		warnings, breaches int32
	}{
		// Breaches by days over (8, 2, 0, 0: a3's stage clock started an
		// hour before a4's), then warnings (2, 0).
		{"all", &pb.ListStuckCandidatesRequest{}, []kindRow{{a1, stage}, {a3, blocked}, {a3, stage}, {a4, stage}, {a2, stage}, {a4, blocked}}, 2, 4},
		{"role PSO", &pb.ListStuckCandidatesRequest{Role: pso}, []kindRow{{a4, stage}, {a2, stage}, {a4, blocked}}, 2, 1},
		{"campaign c1", &pb.ListStuckCandidatesRequest{CampaignId: c1.id}, []kindRow{{a1, stage}, {a3, blocked}, {a3, stage}}, 0, 3},
		{"campaign c1 in capitals", &pb.ListStuckCandidatesRequest{CampaignId: strings.ToUpper(c1.id)}, []kindRow{{a1, stage}, {a3, blocked}, {a3, stage}}, 0, 3},
		{"rule vetting blocked", &pb.ListStuckCandidatesRequest{Kind: blocked}, []kindRow{{a3, blocked}, {a4, blocked}}, 1, 1},
		{"reason missing documents", &pb.ListStuckCandidatesRequest{BlockedReason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}, []kindRow{{a4, blocked}}, 1, 0},
		{"role PSO, breaches only", &pb.ListStuckCandidatesRequest{Role: pso, Severity: pb.Severity_SEVERITY_BREACH}, []kindRow{{a4, stage}}, 2, 1},
		{"role PO and campaign c2: none", &pb.ListStuckCandidatesRequest{Role: po, CampaignId: c2.id}, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.req.Region, tt.req.AsOf = "london", asOf
			// In pages of one: each page keeps the filter and the order.
			var got []kindRow
			token := ""
			for page := 0; ; page++ {
				req := proto.CloneOf(tt.req)
				req.PageSize, req.PageToken = 1, token
				resp, err := dash.ListStuckCandidates(t.Context(), req)
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				if resp.GetWarningCount() != tt.warnings || resp.GetBreachCount() != tt.breaches {
					t.Errorf("page %d: counts %d/%d, want %d/%d", page, resp.GetWarningCount(), resp.GetBreachCount(), tt.warnings, tt.breaches)
				}
				for _, c := range resp.GetCandidates() {
					got = append(got, kindRow{appByID(c.GetApplicationId(), a1, a2, a3, a4), c.GetKind()})
				}
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
				if page > 10 {
					t.Fatal("more pages than rows")
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("rows %v, want %v", names(got, a1, a2, a3, a4), names(tt.want, a1, a2, a3, a4))
			}
		})
	}

	t.Run("a page token is for its filters only", func(t *testing.T) {
		t.Parallel()
		first, err := dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: asOf, PageSize: 1, Role: pso})
		if err != nil {
			t.Fatal(err)
		}
		_, err = dash.ListStuckCandidates(t.Context(), &pb.ListStuckCandidatesRequest{Region: "london", AsOf: asOf, PageSize: 1, Role: po, PageToken: first.GetNextPageToken()})
		testenv.WantField(t, err, "page_token")
	})

	t.Run("bad filters name the field", func(t *testing.T) {
		t.Parallel()
		for field, req := range map[string]*pb.ListStuckCandidatesRequest{
			"role":           {Region: "london", Role: 99},
			"campaign_id":    {Region: "london", CampaignId: "c1"},
			"kind":           {Region: "london", Kind: 99},
			"blocked_reason": {Region: "london", BlockedReason: 99},
		} {
			_, err := dash.ListStuckCandidates(t.Context(), req)
			testenv.WantField(t, err, field)
		}
	})
}

func appByID(id string, apps ...*app) *app {
	for _, a := range apps {
		if a.id == id {
			return a
		}
	}
	return nil
}

// kindRow is a stuck list row as an application and a rule.
type kindRow struct {
	app  *app
	kind pb.StuckKind
}

// names shows rows as "a<n> <rule>" (n: the position in apps) for a
// failure message.
func names(rows []kindRow, apps ...*app) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("a%d %v", slices.Index(apps, r.app)+1, r.kind))
	}
	return out
}
