package store_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// An application's record is stored to the microsecond. Events whose
// times differ by less than that (a forged or imported event can carry
// nanoseconds) must count the same when the record is read back for the
// next batch as when it was first folded; otherwise the next batch takes
// away counts that were never added, and a counter goes negative.
func TestSubMicrosecondTimesCountTheSameAfterStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, consumer.Migrations, store.Migrations); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	at := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	rec := event.Record{ApplicationID: event.NewID(), CampaignID: event.NewID(), Region: "london",
		Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, Version: 1}
	ev := func(producer string, ns time.Duration, version int64, payload any) *eventsv1.Event {
		r := rec
		r.Version = version
		e := event.New(producer, event.SystemActor("test"), at.Add(ns), r)
		e.OccurredAt = timestamppb.New(at.Add(ns))
		switch p := payload.(type) {
		case *eventsv1.Event_ApplicationSubmitted:
			e.Payload = p
		case *eventsv1.Event_ApplicationWithdrawn:
			e.Payload = p
		case *eventsv1.Event_SiftFailed:
			e.Payload = p
		case *eventsv1.Event_OfferDeclined:
			e.Payload = p
		}
		return e
	}
	// Withdrawn 300ns before the sift failed: WITHDRAWN as first folded,
	// but REJECTED as read back (both times in one microsecond).
	first := []*eventsv1.Event{
		ev("applications", 0, 1, &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}),
		ev("applications", 100, 2, &eventsv1.Event_ApplicationWithdrawn{ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: "x"}}),
		ev("sifting", 400, 1, &eventsv1.Event_SiftFailed{SiftFailed: &eventsv1.SiftFailed{ReasonCode: "r"}}),
	}
	// Then anything that moves the record on: an earlier withdrawal.
	later := []*eventsv1.Event{ev("offers", -time.Hour, 1, &eventsv1.Event_OfferDeclined{OfferDeclined: &eventsv1.OfferDeclined{ReasonCode: "d"}})}
	for _, batch := range [][]*eventsv1.Event{first, later} {
		if _, err := consumer.ApplyBatch(ctx, pool, "reporting", batch, st.Apply); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT kind, stage, n FROM counts WHERE n <> 0 ORDER BY kind, stage`)
	if err != nil {
		t.Fatal(err)
	}
	type count struct {
		Kind  string
		Stage int32
		N     int64
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[count])
	if err != nil {
		t.Fatal(err)
	}
	current := int64(0)
	for _, c := range got {
		if c.Kind == "current" {
			current += c.N
		}
		if c.N < 0 {
			t.Errorf("count %s %d is %d: the second batch took away what the first never added", c.Kind, c.Stage, c.N)
		}
	}
	if current != 1 {
		t.Errorf("one application is current in %d stages: %+v", current, got)
	}
}
