package intake

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/record"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// vettingStep is one event of a history: who produced it, the record's
// aggregate_version, and the payload.
type vettingStep struct {
	producer string
	version  int64
	payload  any
}

// TestVettingCaseOpen follows the vetting case through the events that
// open and close it, in order and then shuffled with duplicates: whether
// the case is open must not depend on arrival order or repetition.
func TestVettingCaseOpen(t *testing.T) {
	t.Parallel()
	opened := vettingStep{"vetting", 1, &eventsv1.VettingOpened{}}
	accepted := vettingStep{"offers", 2, &eventsv1.OfferAccepted{}}
	tests := []struct {
		name  string
		steps []vettingStep
		want  bool
	}{
		{name: "never opened", steps: []vettingStep{accepted}, want: false},
		{name: "opened", steps: []vettingStep{accepted, opened}, want: true},
		{name: "opened, blocked", steps: []vettingStep{accepted, opened, {"vetting", 3, &eventsv1.VettingBlocked{}}}, want: true},
		{name: "cleared", steps: []vettingStep{accepted, opened, {"vetting", 4, &eventsv1.VettingCleared{}}}, want: false},
		{name: "failed", steps: []vettingStep{accepted, opened, {"vetting", 4, &eventsv1.VettingFailed{ReasonCode: "adverse_result"}}}, want: false},
		{name: "started subject to vetting", steps: []vettingStep{accepted, opened, {"offers", 3, &eventsv1.CandidateStarted{}}}, want: true},
		{name: "offer withdrawn", steps: []vettingStep{accepted, opened, {"offers", 3, &eventsv1.OfferWithdrawn{ReasonCode: "candidate_request"}}}, want: false},
		{name: "offer withdrawn after start", steps: []vettingStep{accepted, opened, {"offers", 3, &eventsv1.CandidateStarted{}},
			{"offers", 4, &eventsv1.OfferWithdrawn{ReasonCode: "vetting_failed", AfterStart: true}}}, want: false},
		{name: "forged by applications itself", steps: []vettingStep{accepted, {Producer, 1, &eventsv1.VettingOpened{}}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			feed := func(id string, order []vettingStep) []*eventsv1.Event {
				evs := make([]*eventsv1.Event, len(order))
				for i, s := range order {
					evs[i] = stageEvent(id, s.producer, time.Duration(i+1)*time.Hour, s.payload)
					evs[i].AggregateVersion = s.version
				}
				return evs
			}
			svc, st, id := seed(t, StageOffer)
			apply(t, svc, feed(id, tt.steps)...)
			got := st.app(t, id)
			if got.VettingCaseOpen() != tt.want || got.Version != 1 {
				t.Fatalf("in order: open %v version %d, want open %v version 1", got.VettingCaseOpen(), got.Version, tt.want)
			}
			rng := rand.New(rand.NewPCG(2, uint64(len(tt.name))))
			for round := range 25 {
				svc, st, id := seed(t, StageOffer)
				var order []*eventsv1.Event
				for _, ev := range feed(id, tt.steps) {
					for range 1 + rng.IntN(3) {
						order = append(order, ev)
					}
				}
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				apply(t, svc, order...)
				got := st.app(t, id)
				if got.VettingCaseOpen() != tt.want {
					t.Fatalf("round %d, shuffled with duplicates: open %v, want %v", round, got.VettingCaseOpen(), tt.want)
				}
			}
		})
	}
}

// TestCandidateContact: who may read which candidate's contact.
func TestCandidateContact(t *testing.T) {
	t.Parallel()
	var (
		spocLondon    = auth.Claims{Subject: "spoc-london", Role: auth.RoleSPOC, Regions: []string{"london"}}
		spocWales     = auth.Claims{Subject: "spoc-wales", Role: auth.RoleSPOC, Regions: []string{"wales"}}
		vettingLondon = auth.Claims{Subject: "vetting-london", Role: auth.RoleVetting, Regions: []string{"london"}}
		vettingWales  = auth.Claims{Subject: "vetting-wales", Role: auth.RoleVetting, Regions: []string{"wales"}}
		notifier      = auth.Claims{Subject: "notifier-1", Role: auth.RoleNotifier}
		admin         = auth.Claims{Subject: "admin-1", Role: auth.RoleAdmin}
		dashboard     = auth.Claims{Subject: "dash-london", Role: auth.RoleDashboard, Regions: []string{"london"}}
	)
	tests := []struct {
		name   string
		caller auth.Claims
		stage  Stage
		open   bool
		want   error // nil: the application
	}{
		{name: "SPOC of the region, no vetting case", caller: spocLondon, stage: StageSift},
		{name: "SPOC of another region", caller: spocWales, stage: StagePreEmployment, open: true, want: record.ErrNotFound},
		{name: "vetting of the region, case open", caller: vettingLondon, stage: StagePreEmployment, open: true},
		{name: "vetting of the region, started subject to vetting", caller: vettingLondon, stage: StageHired, open: true},
		{name: "vetting of the region, no case", caller: vettingLondon, stage: StageSift, want: ErrNoOpenVettingCase},
		{name: "vetting of the region, case closed", caller: vettingLondon, stage: StagePreEmployment, want: ErrNoOpenVettingCase},
		{name: "vetting of the region, application withdrawn", caller: vettingLondon, stage: StageWithdrawn, open: true, want: ErrNoOpenVettingCase},
		{name: "vetting of another region, case open", caller: vettingWales, stage: StagePreEmployment, open: true, want: record.ErrNotFound},
		{name: "notifier, any region", caller: notifier, stage: StageSift},
		{name: "admin", caller: admin, stage: StageRejected},
		{name: "dashboard", caller: dashboard, stage: StagePreEmployment, open: true, want: auth.ErrPermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, st, id := seed(t, tt.stage)
			a := st.apps[id]
			a.Vetting = VettingState{Open: tt.open, Version: 1}
			st.apps[id] = a
			got, err := svc.CandidateContact(t.Context(), tt.caller, id)
			switch {
			case tt.want == nil && (err != nil || got.ID != id):
				t.Fatalf("CandidateContact = %v, %v; want the application", got, err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("CandidateContact error = %v, want %v", err, tt.want)
			case tt.want == ErrNoOpenVettingCase && !errors.Is(err, auth.ErrPermissionDenied):
				t.Fatalf("ErrNoOpenVettingCase %v is not a PermissionDenied", err)
			}
			// An id that exists nowhere is the same NotFound for anyone who
			// may ask.
			if tt.caller.Role != auth.RoleDashboard {
				if _, err := svc.CandidateContact(t.Context(), tt.caller, event.NewID()); !errors.Is(err, record.ErrNotFound) {
					t.Errorf("missing id: %v, want not found", err)
				}
			}
		})
	}
}
