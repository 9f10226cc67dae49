package event

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// seedEvents are one complete event of every name in the contract, as
// its owner would marshal it.
func seedEvents(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	for i, name := range Names() {
		ev, _ := Blank(name)
		owner, _ := OwnerOf(name)
		full := New(owner, SystemActor("test"), at, Record{
			ApplicationID: "0190d6a0-0000-7000-8000-000000000001", CampaignID: "0190d6a0-0000-7000-8000-000000000002",
			Region: "london", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, Version: int64(i + 1),
		})
		full.Payload = ev.Payload
		b, err := Marshal(full)
		if err != nil {
			tb.Fatalf("marshal %s: %v", name, err)
		}
		out = append(out, b)
	}
	return out
}

// Whatever bytes arrive on the stream, Unmarshal never panics; an event it
// accepts has an id the inboxes can store, a name from the contract (or no
// payload, which Name reports), and survives being encoded again.
func FuzzUnmarshal(f *testing.F) {
	for _, b := range seedEvents(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x03, 'a', 'b', 'c'})
	// testdata/fuzz/FuzzUnmarshal holds an event_id in a form uuid.Parse
	// takes and PostgreSQL does not (urn:uuid:…), accepted before.
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Unmarshal(b)
		if err != nil {
			if ev != nil {
				t.Fatalf("Unmarshal failed (%v) but returned an event", err)
			}
			return
		}
		if err := validate.UUID("event_id", ev.GetEventId()); err != nil {
			t.Fatalf("Unmarshal accepted event_id %q: %v", ev.GetEventId(), err)
		}
		if name, err := Name(ev); err == nil && !slices.Contains(Names(), name) {
			t.Fatalf("Name = %q, not a name in the contract", name)
		} else if err != nil && ev.GetPayload() != nil {
			t.Fatalf("Name of an event with payload %T: %v", ev.GetPayload(), err)
		}
		// A consumer then checks who may publish it: only the owner of
		// its event type.
		if err := CheckOwner(ev); err == nil {
			name, _ := Name(ev)
			if owner, _ := OwnerOf(name); owner != ev.GetProducer() || owner == "" {
				t.Fatalf("CheckOwner accepted %s from %q", name, ev.GetProducer())
			}
		}
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
		if err != nil {
			t.Fatalf("re-marshal an accepted event: %v", err)
		}
		back, err := Unmarshal(again)
		if err != nil || !proto.Equal(back, ev) {
			t.Fatalf("accepted event changed on the way round: %v\n%v\n%v", err, ev, back)
		}
		// Marshal refuses what a stream may not carry, and what it takes
		// reads back the same.
		if out, err := Marshal(ev); err == nil {
			if back, err := Unmarshal(out); err != nil || !proto.Equal(back, ev) {
				t.Fatalf("Marshal then Unmarshal: %v\n%v\n%v", err, ev, back)
			}
		}
	})
}
