package imported

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// rec stands for a stage's record: a version and what was done to it.
type rec struct {
	version int
	steps   []string
}

// owner stands for a stage's owner: its stored records and published
// events, with counts of the writes.
type owner struct {
	stored         map[string]rec
	events         []string
	opens, updates int
}

func (o *owner) open(_ context.Context, r *rec, evs ...*eventsv1.Event) error {
	o.opens++
	if _, ok := o.stored["app"]; ok {
		return nil // opened before: a redelivery
	}
	o.stored["app"] = rec{version: r.version, steps: slices.Clone(r.steps)}
	for _, ev := range evs {
		o.events = append(o.events, ev.GetActor().GetSubject())
	}
	return nil
}

func (o *owner) update(_ context.Context, id string, fn func(*rec) (*eventsv1.Event, error)) (*rec, error) {
	o.updates++
	r := o.stored[id]
	ev, err := fn(&r)
	if err != nil {
		return nil, err
	}
	o.stored[id] = r
	if ev != nil {
		o.events = append(o.events, ev.GetActor().GetSubject())
	}
	return &r, nil
}

var errRefused = errors.New("refused by the rules")

// step records name, or changes the record and then refuses (as a rule
// that fails late would), leaving it half-changed.
func step(name string, refuse bool) Step[*rec] {
	return func(r *rec) (*eventsv1.Event, error) {
		r.version++
		r.steps = append(r.steps, name)
		if refuse {
			return nil, errRefused
		}
		return &eventsv1.Event{Actor: &commonv1.Actor{Subject: name}}, nil
	}
}

func opening() (*rec, []*eventsv1.Event, error) {
	return &rec{version: 1, steps: []string{"opened"}}, []*eventsv1.Event{{Actor: &commonv1.Actor{Subject: "opened"}}}, nil
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("the whole history in one write", func(t *testing.T) {
		t.Parallel()
		o := &owner{stored: map[string]rec{}}
		if err := Open(ctx, "app", opening, o.open, o.update, step("sift", false), step("interview", false)); err != nil {
			t.Fatal(err)
		}
		got := o.stored["app"]
		if o.opens != 1 || o.updates != 0 || got.version != 3 || fmt.Sprint(o.events) != "[opened sift interview]" {
			t.Errorf("%d opens, %d updates, record %+v, events %v; want one open of version 3 with every event in order",
				o.opens, o.updates, got, o.events)
		}
		// Redelivered: opened before, nothing more is written.
		if err := Open(ctx, "app", opening, o.open, o.update, step("sift", false), step("interview", false)); err != nil {
			t.Fatal(err)
		}
		if len(o.events) != 3 || o.stored["app"].version != 3 {
			t.Errorf("after a redelivery: events %v, record %+v; want nothing more", o.events, o.stored["app"])
		}
	})

	t.Run("a refused step keeps the steps before it, and nothing of itself", func(t *testing.T) {
		t.Parallel()
		o := &owner{stored: map[string]rec{}}
		if err := Open(ctx, "app", opening, o.open, o.update, step("sift", false), step("interview", true), step("offer", false)); err != nil {
			t.Fatal(err)
		}
		got := o.stored["app"]
		if fmt.Sprint(got.steps) != "[opened sift]" || got.version != 2 || fmt.Sprint(o.events) != "[opened sift]" {
			t.Errorf("record %+v, events %v; want the opening and the sift only", got, o.events)
		}
	})

	t.Run("an opening that fails opens nothing", func(t *testing.T) {
		t.Parallel()
		o := &owner{stored: map[string]rec{}}
		bad := errors.New("no default owner")
		err := Open(ctx, "app", func() (*rec, []*eventsv1.Event, error) { return nil, nil, bad }, o.open, o.update, step("sift", false))
		if !errors.Is(err, bad) || o.opens != 0 {
			t.Errorf("Open = %v after %d opens; want the opening's error and none", err, o.opens)
		}
	})
}
