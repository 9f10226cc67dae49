package history

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func TestAppendLoadRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, Migrations); err != nil {
		t.Fatal(err)
	}
	id := event.NewID()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	spoc := &commonv1.Actor{Subject: "spoc-1", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
	all := []Entry{
		{Event: "vetting.opened", Actor: spoc, OccurredAt: at, Version: 1},
		{Event: "vetting.blocked", Actor: spoc, OccurredAt: at.Add(time.Hour), Version: 2, ReasonCode: "missing_documents"},
		{Event: "vetting.unblocked", Actor: spoc, OccurredAt: at.Add(2 * time.Hour), Version: 3},
	}
	// Written in two changes, as a service would: the second only what is new.
	for _, batch := range [][]Entry{all[:1], Since(all, 1)} {
		if err := pg.InTx(ctx, pool, func(tx pgx.Tx) error { return Append(ctx, tx, id, batch...) }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(ctx, pool, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].ReasonCode != "missing_documents" || got[2].Event != "vetting.unblocked" ||
		got[0].Actor.GetSubject() != "spoc-1" || !got[1].OccurredAt.Equal(at.Add(time.Hour)) {
		t.Errorf("Load = %+v", got)
	}
	if p := Proto(got); len(p) != 3 || p[1].GetVersion() != 2 {
		t.Errorf("Proto = %v", p)
	}
	if Since(all, 3) != nil {
		t.Error("Since(latest) must be empty")
	}
	// Versions are unique per record: replaying a change cannot double it.
	err = pg.InTx(ctx, pool, func(tx pgx.Tx) error { return Append(ctx, tx, id, all[2]) })
	if pg.SQLState(err) != pg.UniqueViolation {
		t.Errorf("appending version 3 twice: err = %v, want a unique violation", err)
	}
}
