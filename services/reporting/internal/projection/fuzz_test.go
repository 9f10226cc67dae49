package projection

import (
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/probation-recruitment/pipeline/pkg/event"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Two fuzz targets: FuzzApplyEvents feeds the fold whatever bytes arrive
// on the stream (decoded as the consumer decodes them); FuzzFold builds
// one application's events from the fuzzer's bytes, as the services could
// publish them, and checks the package's contract: any order, with
// repeats, gives the same record.

// payloads are the events the fuzzer chooses from, each with its producer:
// every event the fold acts on, and one it ignores.
var payloads = []struct {
	producer string
	set      func(ev *eventsv1.Event, x byte)
}{
	// Reasons and sources vary with x, so that two of one kind at one
	// moment must fold to the same record in either order.
	{"applications", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{Source: []string{"", "jobs_site", "referral"}[x%3]}}
	}},
	{"applications", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "x" + string(rune('a'+x%3))}}
	}},
	{"sifting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}}
	}},
	{"sifting", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "r" + string(rune('a'+x%3))}}
	}},
	{"sifting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_InterviewScheduled{InterviewScheduled: &eventsv1.InterviewScheduled{}}
	}},
	{"sifting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}
	}},
	{"sifting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_InterviewFailed{InterviewFailed: &eventsv1.InterviewFailed{ReasonCode: "r"}}
	}},
	{"offers", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_OfferMade{OfferMade: &eventsv1.OfferMade{SalaryBandCode: "b", Checks: fuzzChecks(x)}}
	}},
	{"offers", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_OfferCheckRecorded{OfferCheckRecorded: &eventsv1.OfferCheckRecorded{
			Check: commonv1.OfferCondition(2 + x%3), Status: commonv1.CheckStatus(1 + x/3%4)}}
	}},
	{"offers", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}}
	}},
	{"offers", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: "d" + string(rune('a'+x%3))}}
	}},
	{"offers", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_OfferWithdrawn{OfferWithdrawn: &eventsv1.OfferWithdrawn{ReasonCode: "w", AfterStart: x&1 == 1}}
	}},
	{"offers", func(ev *eventsv1.Event, x byte) {
		start, due := dates(x)
		ev.Payload = &eventsv1.Event_OfferStartDateSet{OfferStartDateSet: &eventsv1.OfferStartDateSet{
			StartDate: start, SubjectToVetting: x&1 == 1, VettingDueBy: due}}
	}},
	{"offers", func(ev *eventsv1.Event, x byte) {
		start, due := dates(x)
		ev.Payload = &eventsv1.Event_CandidateStarted{CandidateStarted: &eventsv1.CandidateStarted{
			StartDate: start, SubjectToVetting: x&1 == 1, VettingDueBy: due}}
	}},
	{"vetting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}}
	}},
	{"vetting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_VettingFormsReceived{VettingFormsReceived: &eventsv1.VettingFormsReceived{}}
	}},
	{"vetting", func(ev *eventsv1.Event, x byte) {
		ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{Reason: commonv1.BlockReason(1 + x%6)}}
	}},
	{"vetting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
	}},
	{"vetting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	}},
	{"vetting", func(ev *eventsv1.Event, _ byte) {
		ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: "f"}}
	}},
}

// fuzzChecks are the checks of an offer chosen by x: right to work, and
// references and medical by its bits (none for an offer made before checks).
func fuzzChecks(x byte) []commonv1.OfferCondition {
	if x&8 != 0 {
		return nil
	}
	var out []commonv1.OfferCondition
	if x&1 != 0 {
		out = append(out, commonv1.OfferCondition_OFFER_CONDITION_REFERENCES)
	}
	if x&2 != 0 {
		out = append(out, commonv1.OfferCondition_OFFER_CONDITION_MEDICAL)
	}
	return append(out, commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK)
}

// dates are a start date and a vetting due date chosen by x (x 0: none).
func dates(x byte) (start, due *commonv1.Date) {
	if x == 0 {
		return nil, nil
	}
	return &commonv1.Date{Year: 2026, Month: int32(3 + x%9), Day: int32(1 + x%28)},
		&commonv1.Date{Year: 2026, Month: int32(4 + x%9), Day: int32(1 + x/9%28)}
}

var fuzzT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// events makes one application's events from ops, four bytes an event:
// which event, how many quarter hours after t0 (equal values are equal
// times), and a byte for its details. Each producer numbers its events 1,
// 2, 3, … in the order made, as it numbers its record's versions.
func events(ops []byte) []*eventsv1.Event {
	const app, campaign = "0190d6a0-0000-7000-8000-000000000001", "0190d6a0-0000-7000-8000-000000000002"
	versions := map[string]int64{}
	var out []*eventsv1.Event
	for len(ops) >= 4 && len(out) < 64 {
		p := payloads[int(ops[0])%len(payloads)]
		// A detail byte over 250 adds nanoseconds: a forged or imported
		// event may carry them.
		at := fuzzT0.Add(time.Duration(binary.BigEndian.Uint16(ops[1:3]))*15*time.Minute + time.Duration(max(0, int(ops[3])-250))*100)
		versions[p.producer]++
		ev := event.New(p.producer, event.SystemActor("fuzz"), at, event.Record{
			ApplicationID: app, CampaignID: campaign, Region: "london",
			Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Version: versions[p.producer],
		})
		p.set(ev, ops[3])
		out = append(out, ev)
		ops = ops[4:]
	}
	return out
}

// op is one event's four bytes for events: payload index, quarter hours
// after t0, detail.
func op(payload int, quarterHours uint16, x byte) []byte {
	return []byte{byte(payload), byte(quarterHours >> 8), byte(quarterHours), x}
}

func ops(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// checkRecord checks what every report derives from a record, for any
// record: nothing panics, and the derived rows keep their invariants.
func checkRecord(t *testing.T, a *App) {
	t.Helper()
	// The store keeps microseconds; a record that held more would derive
	// something else once read back.
	v := reflect.ValueOf(*a)
	for i := range v.NumField() {
		if tp, ok := v.Field(i).Interface().(*time.Time); ok && tp != nil && !tp.Equal(tp.Truncate(time.Microsecond)) {
			t.Fatalf("%s = %v holds less than a microsecond, which the store drops", v.Type().Field(i).Name, *tp)
		}
	}
	stage, since := a.Stage()
	counts := a.Counts()
	current, reached := 0, map[commonv1.Stage]int{}
	for _, c := range counts {
		switch c.Kind {
		case Current:
			current++
			if c.Stage != stage {
				t.Fatalf("current count for %v, but the stage is %v", c.Stage, stage)
			}
		case Reached:
			if reached[c.Stage]++; reached[c.Stage] > 1 {
				t.Fatalf("stage %v counted as reached twice: %v", c.Stage, counts)
			}
		case Rejected:
			if stage != commonv1.Stage_STAGE_REJECTED {
				t.Fatalf("rejected count while the stage is %v", stage)
			}
		case Withdrawn:
			if stage != commonv1.Stage_STAGE_WITHDRAWN {
				t.Fatalf("withdrawn count while the stage is %v", stage)
			}
		}
	}
	if want := 1; stage == commonv1.Stage_STAGE_UNSPECIFIED {
		want = 0
		if current != want || !since.IsZero() {
			t.Fatalf("no stage yet, but %d current counts, since %v", current, since)
		}
	} else if current != want {
		t.Fatalf("stage %v: %d current counts, want 1", stage, current)
	}
	closes := fuzzT0.AddDate(0, 0, 5)
	for _, c := range []*Campaign{nil, {ClosesOn: &closes}, {}} {
		for _, d := range a.Durations(c) {
			fromClose := d.Measure == TimeToHire || d.Measure == TimeToFill
			if (fromClose || d.Measure > StageDuration) && (d.Days < 0 || d.WorkingDays < 0) {
				t.Fatalf("measure %d is %d days (%d working): never negative", d.Measure, d.Days, d.WorkingDays)
			}
			if d.WorkingDays > d.Days && d.Days >= 0 {
				t.Fatalf("measure %d: %d working days in %d days", d.Measure, d.WorkingDays, d.Days)
			}
		}
	}
	for _, c := range a.Clocks(DefaultThresholds()) {
		if c.BreachAt.Before(c.WarningAt) || c.WarningAt.Before(c.Since) {
			t.Fatalf("clock %+v: since ≤ warning ≤ breach does not hold", c)
		}
		if !StuckStages[c.Stage] {
			t.Fatalf("clock in stage %v, where nobody is stuck", c.Stage)
		}
	}
}

// checkIdempotent checks that applying any of evs again to a (which has
// had them all) changes nothing and says so.
func checkIdempotent(t *testing.T, a *App, evs []*eventsv1.Event) {
	t.Helper()
	for i, ev := range evs {
		before := *a
		if a.Apply(ev) {
			t.Fatalf("event %d applied again reported a change", i)
		}
		if !reflect.DeepEqual(*a, before) {
			t.Fatalf("event %d applied again changed the record:\n got %+v\nwant %+v", i, *a, before)
		}
	}
}

// FuzzFold: one application's events, as publishable, delivered in an
// order the fuzzer picks with some delivered twice, fold to the record
// that delivery in the order made gives; applying any event again changes
// nothing; and what the reports derive holds its invariants.
func FuzzFold(f *testing.F) {
	f.Add(ops(op(0, 0, 0), op(2, 4, 0), op(5, 8, 0), op(7, 12, 0), op(8, 16, 0), op(13, 16, 0),
		op(15, 20, 3), op(16, 30, 0), op(11, 40, 9), op(17, 50, 0), op(12, 60, 9)), uint64(1), uint8(3))
	f.Add(ops(op(0, 0, 0), op(1, 10, 0), op(3, 5, 0)), uint64(2), uint8(0))
	f.Add(ops(op(0, 0, 0), op(3, 10, 0), op(6, 10, 0)), uint64(3), uint8(1)) // rejected twice at one time
	f.Add(ops(op(0, 0, 0), op(1, 10, 0), op(3, 10, 0)), uint64(4), uint8(0)) // withdrawn and rejected at one time
	f.Add(ops(op(8, 40, 0), op(13, 41, 0), op(15, 50, 2), op(12, 60, 5), op(10, 70, 1)), uint64(5), uint8(2))
	f.Add(ops(op(11, 1, 7), op(12, 2, 0), op(11, 3, 8)), uint64(6), uint8(1))
	f.Fuzz(func(t *testing.T, ops []byte, order uint64, repeats uint8) {
		evs := events(ops)
		var want App
		for _, ev := range evs {
			want.Apply(ev)
		}
		checkRecord(t, &want)
		checkIdempotent(t, &want, evs)

		delivered := append([]*eventsv1.Event(nil), evs...)
		rng := rand.New(rand.NewPCG(order, 0))
		rng.Shuffle(len(delivered), func(i, j int) { delivered[i], delivered[j] = delivered[j], delivered[i] })
		for i := 0; i < int(repeats%8) && len(evs) > 0; i++ {
			delivered = append(delivered, evs[rng.IntN(len(evs))])
		}
		var got App
		for _, ev := range delivered {
			got.Apply(ev)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the order of delivery changed the record:\n got %+v\nwant %+v", got, want)
		}
	})
}

// FuzzApplyEvents: whatever bytes arrive, each message decoded as the
// consumer decodes it (length-prefixed here, so one input is a sequence),
// the fold never panics, is idempotent, and what the reports derive holds
// its invariants.
func FuzzApplyEvents(f *testing.F) {
	frame := func(evs []*eventsv1.Event) []byte {
		var out []byte
		for _, ev := range evs {
			b, err := event.Marshal(ev)
			if err != nil {
				f.Fatal(err)
			}
			out = protowire.AppendBytes(out, b)
		}
		return out
	}
	f.Add(frame(events(ops(op(0, 0, 0), op(2, 4, 0), op(5, 8, 0), op(7, 12, 0), op(8, 16, 0), op(13, 16, 0),
		op(15, 20, 3), op(16, 30, 0), op(11, 40, 9), op(17, 50, 0), op(12, 60, 9)))))
	f.Add(frame(events(ops(op(0, 0, 0), op(1, 10, 0), op(3, 5, 0)))))
	f.Add(frame(events(ops(op(8, 40, 0), op(13, 41, 0), op(15, 50, 2), op(12, 60, 5), op(10, 70, 1)))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var evs []*eventsv1.Event
		for len(data) > 0 && len(evs) < 64 {
			b, n := protowire.ConsumeBytes(data)
			if n < 0 {
				break
			}
			data = data[n:]
			if ev, err := event.Unmarshal(b); err == nil {
				evs = append(evs, ev)
			}
		}
		var a App
		for _, ev := range evs {
			a.Apply(ev)
		}
		checkRecord(t, &a)
		checkIdempotent(t, &a, evs)
	})
}
