package projection

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"pgregory.net/rapid"

	"github.com/probation-recruitment/pipeline/pkg/event"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// history builds the events of one application as the services would
// publish them, in causal order, choosing its path through the pipeline.
type history struct {
	id     string
	events []*eventsv1.Event
	at     time.Time
	// versions per producer, as each service numbers its own record.
	versions map[string]int64
}

func newHistory() *history {
	return &history{id: event.NewID(), at: t0, versions: map[string]int64{}}
}

func (h *history) add(producer string, days float64, payload any) {
	h.at = h.at.Add(time.Duration(days * float64(24*time.Hour)))
	h.versions[producer]++
	ev := &eventsv1.Event{
		EventId: event.NewID(), ApplicationId: h.id, Region: "london", CampaignId: "c1",
		Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, OccurredAt: timestamppb.New(h.at),
		Producer: producer, AggregateVersion: h.versions[producer], Actor: &commonv1.Actor{Subject: "x"},
	}
	switch p := payload.(type) {
	case *eventsv1.Event_ApplicationSubmitted:
		ev.Payload = p
	case *eventsv1.Event_ApplicationWithdrawn:
		ev.Payload = p
	case *eventsv1.Event_SiftPassed:
		ev.Payload = p
	case *eventsv1.Event_SiftFailed:
		ev.Payload = p
	case *eventsv1.Event_InterviewPassed:
		ev.Payload = p
	case *eventsv1.Event_InterviewFailed:
		ev.Payload = p
	case *eventsv1.Event_OfferMade:
		ev.Payload = p
	case *eventsv1.Event_OfferAccepted:
		ev.Payload = p
	case *eventsv1.Event_OfferWithdrawn:
		ev.Payload = p
	case *eventsv1.Event_OfferStartDateSet:
		ev.Payload = p
	case *eventsv1.Event_CandidateStarted:
		ev.Payload = p
	case *eventsv1.Event_VettingOpened:
		ev.Payload = p
	case *eventsv1.Event_VettingBlocked:
		ev.Payload = p
	case *eventsv1.Event_VettingUnblocked:
		ev.Payload = p
	case *eventsv1.Event_VettingCleared:
		ev.Payload = p
	case *eventsv1.Event_VettingFailed:
		ev.Payload = p
	case *eventsv1.Event_InterviewScheduled:
		ev.Payload = p
	case *eventsv1.Event_VettingFormsReceived:
		ev.Payload = p
	case *eventsv1.Event_SiftAssigned:
		ev.Payload = p
	case *eventsv1.Event_SiftUnassigned:
		ev.Payload = p
	case *eventsv1.Event_OfferAssigned:
		ev.Payload = p
	case *eventsv1.Event_OfferUnassigned:
		ev.Payload = p
	case *eventsv1.Event_VettingAssigned:
		ev.Payload = p
	case *eventsv1.Event_VettingUnassigned:
		ev.Payload = p
	}
	h.events = append(h.events, ev)
}

// draw generates a random but causally valid history.
func draw(t *rapid.T) *history {
	h := newHistory()
	gap := func() float64 { return rapid.Float64Range(0.1, 20).Draw(t, "gap") }
	h.add("applications", 0, &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}})
	// A withdrawal may race any step (it comes from another service).
	withdrawAt := rapid.IntRange(0, 12).Draw(t, "withdrawAt")
	step := 0
	next := func() bool {
		step++
		if step == withdrawAt {
			h.add("applications", gap(), &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "x"}})
		}
		return true
	}
	next()
	if rapid.Bool().Draw(t, "siftFail") {
		h.add("sifting", gap(), &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "r"}})
		return h
	}
	assignments(t, h, "sifting")
	h.add("sifting", gap(), &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}})
	next()
	// Interviews booked and rebooked, each some days ahead.
	for range rapid.IntRange(0, 2).Draw(t, "bookings") {
		when := h.at.Add(time.Duration(rapid.Float64Range(0, 15).Draw(t, "ahead") * float64(24*time.Hour)))
		h.add("sifting", gap(), &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{ScheduledFor: timestamppb.New(when)}})
	}
	if rapid.IntRange(0, 3).Draw(t, "interview") == 0 {
		h.add("sifting", gap(), &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: "r"}})
		return h
	}
	h.add("sifting", gap(), &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}})
	next()
	h.add("offers", gap(), &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "b", Checks: []commonv1.OfferCondition{
		commonv1.OfferCondition_OFFER_CONDITION_REFERENCES, commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK}}})
	// Checks recorded, each a few times (set back, met, failed, waived).
	for range rapid.IntRange(0, 4).Draw(t, "checks") {
		h.add("offers", gap(), &eventsv1.Event_OfferCheckRecorded{OfferCheckRecorded: &eventsv1.OfferCheckRecorded{
			Check:  commonv1.OfferCondition(rapid.SampledFrom([]int32{2, 4}).Draw(t, "check")),
			Status: commonv1.CheckStatus(rapid.IntRange(1, 4).Draw(t, "check status")),
		}})
	}
	assignments(t, h, "offers")
	next()
	h.add("offers", gap(), &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
	h.add("vetting", 0.01, &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}})
	assignments(t, h, "vetting")
	if rapid.Bool().Draw(t, "forms") {
		h.add("vetting", gap(), &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}})
	}
	for range rapid.IntRange(0, 3).Draw(t, "blocks") {
		next()
		h.add("vetting", gap(), &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{
			Reason: commonv1.BlockReason(rapid.IntRange(1, 6).Draw(t, "reason")),
		}})
		if rapid.Bool().Draw(t, "unblock") {
			h.add("vetting", gap(), &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}})
		}
	}
	start := &commonv1.Date{Year: 2026, Month: int32(rapid.IntRange(4, 12).Draw(t, "month")), Day: 1}
	for range rapid.IntRange(0, 2).Draw(t, "startDates") {
		h.add("offers", gap(), &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{
			StartDate: start, SubjectToVetting: true, VettingDueBy: &commonv1.Date{Year: 2026, Month: start.GetMonth() + 1, Day: 1},
		}})
	}
	switch rapid.IntRange(0, 2).Draw(t, "ending") {
	case 0:
		h.add("vetting", gap(), &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}})
		h.add("offers", gap(), &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: start}})
	case 1:
		h.add("offers", gap(), &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{StartDate: start, SubjectToVetting: true}})
		h.add("vetting", gap(), &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: "f"}})
		h.add("offers", 0.01, &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}})
	}
	return h
}

// assignments adds up to three assignment changes of producer's record.
func assignments(t *rapid.T, h *history, producer string) {
	for range rapid.IntRange(0, 3).Draw(t, producer+"Assignments") {
		to := rapid.SampledFrom([]string{"", "staff-1", "staff-2"}).Draw(t, "assignee")
		switch {
		case producer == "sifting" && to == "":
			h.add(producer, 0.1, &eventsv1.Event_SiftUnassigned{SiftUnassigned: &eventsv1.CaseUnassigned{}})
		case producer == "sifting":
			h.add(producer, 0.1, &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: to}})
		case producer == "offers" && to == "":
			h.add(producer, 0.1, &eventsv1.Event_OfferUnassigned{OfferUnassigned: &eventsv1.CaseUnassigned{}})
		case producer == "offers":
			h.add(producer, 0.1, &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: to}})
		case to == "":
			h.add(producer, 0.1, &eventsv1.Event_VettingUnassigned{VettingUnassigned: &eventsv1.VettingUnassigned{}})
		default:
			h.add(producer, 0.1, &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: to}})
		}
	}
}

func fold(evs []*eventsv1.Event) App {
	var a App
	for _, ev := range evs {
		a.Apply(ev)
	}
	return a
}

// Any order of delivery, with repeats, gives the record that delivery in
// causal order gives.
func TestFoldIgnoresOrderAndRepeats(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		h := draw(t)
		want := fold(h.events)
		delivered := rapid.Permutation(h.events).Draw(t, "order")
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(h.events)-1), 0, 5).Draw(t, "repeats") {
			delivered = append(delivered, h.events[i])
		}
		got := fold(delivered)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("out-of-order fold differs:\n got %+v\nwant %+v", got, want)
		}
		gs, gat := got.Stage()
		ws, wat := want.Stage()
		if gs != ws || !gat.Equal(wat) || got.WithdrawnFrom() != want.WithdrawnFrom() {
			t.Fatalf("stage %v@%v (from %v), want %v@%v (from %v)", gs, gat, got.WithdrawnFrom(), ws, wat, want.WithdrawnFrom())
		}
	})
}

func TestStage(t *testing.T) {
	t.Parallel()
	day := func(n int) *time.Time { d := t0.AddDate(0, 0, n); return &d }
	tests := []struct {
		name string
		app  App
		want commonv1.Stage
		at   *time.Time
		from commonv1.Stage
	}{
		{"nothing yet", App{}, commonv1.Stage_STAGE_UNSPECIFIED, nil, 0},
		{"submitted", App{SubmittedAt: day(0)}, commonv1.Stage_STAGE_SIFT, day(0), 0},
		{"passed sift", App{SubmittedAt: day(0), SiftPassedAt: day(3)}, commonv1.Stage_STAGE_INTERVIEW, day(3), 0},
		{"sift passed event before submitted", App{SiftPassedAt: day(3)}, commonv1.Stage_STAGE_INTERVIEW, day(3), 0},
		{"accepted", App{SubmittedAt: day(0), SiftPassedAt: day(1), InterviewPassedAt: day(2), OfferAcceptedAt: day(5)}, commonv1.Stage_STAGE_PRE_EMPLOYMENT, day(5), 0},
		{"hired", App{SubmittedAt: day(0), OfferAcceptedAt: day(5), StartedAt: day(30)}, commonv1.Stage_STAGE_HIRED, day(30), 0},
		{"rejected at interview", App{SubmittedAt: day(0), SiftPassedAt: day(1), RejectedAt: day(9), RejectedStage: commonv1.Stage_STAGE_INTERVIEW}, commonv1.Stage_STAGE_REJECTED, day(9), 0},
		{"withdrawn in offer", App{SubmittedAt: day(0), SiftPassedAt: day(1), InterviewPassedAt: day(2), WithdrawnAt: day(4)}, commonv1.Stage_STAGE_WITHDRAWN, day(4), commonv1.Stage_STAGE_OFFER},
		{"withdrawn before a later sift decision", App{SubmittedAt: day(0), WithdrawnAt: day(2), RejectedAt: day(3)}, commonv1.Stage_STAGE_WITHDRAWN, day(2), commonv1.Stage_STAGE_SIFT},
		{"rejected before a later withdrawal", App{SubmittedAt: day(0), WithdrawnAt: day(5), RejectedAt: day(3)}, commonv1.Stage_STAGE_REJECTED, day(3), commonv1.Stage_STAGE_SIFT},
		{"vetting failed after start", App{SubmittedAt: day(0), OfferAcceptedAt: day(5), StartedAt: day(30), WithdrawnAt: day(40)}, commonv1.Stage_STAGE_WITHDRAWN, day(40), commonv1.Stage_STAGE_HIRED},
	}
	for _, tt := range tests {
		got, at := tt.app.Stage()
		if got != tt.want || (tt.at != nil && !at.Equal(*tt.at)) || (tt.at == nil && !at.IsZero()) {
			t.Errorf("%s: Stage = %v at %v, want %v at %v", tt.name, got, at, tt.want, tt.at)
		}
		if from := tt.app.WithdrawnFrom(); from != tt.from {
			t.Errorf("%s: WithdrawnFrom = %v, want %v", tt.name, from, tt.from)
		}
	}
}

// Blocked state follows the vetting event with the highest version, not
// the last to arrive.
func TestVettingLatestVersionWins(t *testing.T) {
	t.Parallel()
	h := newHistory()
	h.add("vetting", 0, &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}})
	h.add("vetting", 1, &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}})
	h.add("vetting", 1, &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}})
	h.add("vetting", 1, &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS}})
	var a App
	for _, i := range []int{3, 1, 0, 2} {
		a.Apply(h.events[i])
	}
	if !a.VettingBlocked || a.BlockedReason != commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS || !a.BlockedSince.Equal(h.events[3].GetOccurredAt().AsTime()) {
		t.Errorf("after out-of-order vetting events: blocked %v reason %v since %v; want the last block", a.VettingBlocked, a.BlockedReason, a.BlockedSince)
	}
	if a.Apply(h.events[2]) {
		t.Error("re-applying an older event reported a change")
	}
}

// The measures from a campaign's close never go negative: an offer or a
// start before the close counts as 0 days.
func TestDurationsFromCloseNeverNegative(t *testing.T) {
	t.Parallel()
	day := func(n int) *time.Time { d := t0.AddDate(0, 0, n); return &d }
	closes := Day(*day(10))
	a := App{SubmittedAt: day(0), OfferMadeAt: day(6), OfferAcceptedAt: day(7), StartedAt: day(8), StartDate: day(8)}
	got := map[Measure]int{}
	for _, d := range a.Durations(&Campaign{ClosesOn: &closes}) {
		got[d.Measure] = d.Days
		if d.Days < 0 || d.WorkingDays < 0 {
			t.Errorf("measure %d: %d days (%d working), want none negative", d.Measure, d.Days, d.WorkingDays)
		}
	}
	want := map[Measure]int{TimeToHire: 0, TimeToFill: 0, ApplicationToStart: 8}
	for m, days := range want {
		if g, ok := got[m]; !ok || g != days {
			t.Errorf("measure %d = %d days (present %v), want %d", m, g, ok, days)
		}
	}
}
