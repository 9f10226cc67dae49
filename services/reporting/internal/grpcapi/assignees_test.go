package grpcapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

func (a *app) assigned(producer string, at time.Time, to string) *app {
	return a.add(producer, at, func(ev *eventsv1.Event) {
		switch {
		case producer == "sifting" && to == "":
			ev.Payload = &eventsv1.Event_SiftUnassigned{SiftUnassigned: &eventsv1.CaseUnassigned{}}
		case producer == "sifting":
			ev.Payload = &eventsv1.Event_SiftAssigned{SiftAssigned: &eventsv1.CaseAssigned{Assignee: to}}
		case producer == "offers" && to == "":
			ev.Payload = &eventsv1.Event_OfferUnassigned{OfferUnassigned: &eventsv1.CaseUnassigned{}}
		case producer == "offers":
			ev.Payload = &eventsv1.Event_OfferAssigned{OfferAssigned: &eventsv1.CaseAssigned{Assignee: to}}
		case to == "":
			ev.Payload = &eventsv1.Event_VettingUnassigned{VettingUnassigned: &eventsv1.VettingUnassigned{}}
		default:
			ev.Payload = &eventsv1.Event_VettingAssigned{VettingAssigned: &eventsv1.VettingAssigned{Assignee: to}}
		}
	})
}

// stuckRows returns each stuck clock of the schema as "application kind
// assignee".
func (e *env) stuckAssignees(t *testing.T) map[string]string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT application_id::text || ' ' || kind, assignee FROM stuck`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

// TestAssigneesThroughTheConsumer: the live consumer keeps each stage
// record's assignee on its stuck clocks, latest by the producer's version
// even when an older assignment arrives last, and acknowledges reporting's
// own stuck.* events without folding them.
func TestAssigneesThroughTheConsumer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.startPipeline(t)
	c := newCampaign("london", po)
	closes := day(time.March, 31)
	sift := newApp(c).submitted(at(time.April, 1, 9)).assigned("sifting", at(time.April, 1, 10), "spoc-7").
		assigned("sifting", at(time.April, 2, 10), "spoc-8")
	blocked := newApp(c).submitted(at(time.March, 1, 9)).siftPassed(at(time.March, 10, 9)).interviewPassed(at(time.April, 1, 9)).
		offerMade(at(time.April, 2, 9)).assigned("offers", at(time.April, 2, 10), "spoc-9").offerAccepted(at(time.April, 20, 10)).
		vettingOpened(at(time.April, 20, 11)).assigned("vetting", at(time.April, 20, 12), "vet-3").
		vettingBlocked(at(time.April, 21, 9), commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS)
	unassigned := newApp(c).submitted(at(time.April, 1, 9)).assigned("sifting", at(time.April, 1, 10), "spoc-7").
		assigned("sifting", at(time.April, 1, 11), "")
	p.publish(t, c.created(at(time.March, 1, 8), day(time.March, 1), &closes))
	p.publish(t, unassigned.evs...)
	// The later assignment first: the earlier one, arriving last, loses.
	last := len(sift.evs) - 1
	p.publish(t, sift.evs[last])
	p.publish(t, sift.evs[:last]...)
	p.publish(t, blocked.evs...)
	// A stuck event, as reporting's relay publishes it: acknowledged, not
	// folded (it would otherwise be a poison message or a rewrite).
	own := event.New("reporting", event.SystemActor("reporting"), at(time.April, 11, 9), event.Record{
		ApplicationID: sift.id, CampaignID: c.id, Region: c.region, Role: c.role,
	})
	own.Payload = &eventsv1.Event_StuckWarning{StuckWarning: &eventsv1.StuckChanged{
		Rule: eventsv1.StuckRule_STUCK_RULE_STAGE, Stage: commonv1.Stage_STAGE_SIFT, Since: timestamppb.New(at(time.April, 1, 9)), ThresholdDays: 10,
	}}
	p.waitApplied(t)
	before := tables(t, e.pool)
	p.publish(t, own)
	p.waitApplied(t)
	after := tables(t, e.pool)
	for name := range before {
		if len(after[name]) != len(before[name]) || strings.Join(after[name], "\n") != strings.Join(before[name], "\n") {
			t.Errorf("table %s changed when the stuck event was consumed", name)
		}
	}

	want := map[string]string{
		sift.id + " 1":       "spoc-8",
		blocked.id + " 1":    "vet-3", // PRE_EMPLOYMENT, blocked: the vetting contact point's
		blocked.id + " 2":    "vet-3",
		unassigned.id + " 1": "",
	}
	got := e.stuckAssignees(t)
	if len(got) != len(want) {
		t.Errorf("stuck clocks %v, want %v", got, want)
	}
	for k, w := range want {
		if a, ok := got[k]; !ok || a != w {
			t.Errorf("clock %s: assignee %q (present %v), want %q", k, a, ok, w)
		}
	}
}
