package recordstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/recordstore"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

type state string

func (s state) Describe() string { return "thing is " + string(s) }

// A thing is the smallest stage record: a header and one field of its own.
type thing struct {
	record.Header[state]
	Memo string
}

var errNoThing = record.NotYet("no thing yet")

func setup(t *testing.T) (*recordstore.Table[*thing, state], *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, outbox.Migrations, recordstore.Migrations); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE things (application_id uuid PRIMARY KEY, region text NOT NULL, state text NOT NULL,
		state_entered_at timestamptz NOT NULL, memo text NOT NULL, version bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return recordstore.NewTable(recordstore.Table[*thing, state]{
		Pool:   pool,
		Select: `SELECT application_id::text, region, state, state_entered_at, memo, version FROM things WHERE application_id = $1`,
		Scan: func(row pgx.Row) (*thing, error) {
			x := &thing{}
			return x, row.Scan(&x.ApplicationID, &x.Region, &x.State, &x.StateEnteredAt, &x.Memo, &x.Version)
		},
		Insert: func(ctx context.Context, tx pgx.Tx, x *thing) (bool, error) {
			tag, err := tx.Exec(ctx, `INSERT INTO things VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
				x.ApplicationID, x.Region, x.State, x.StateEnteredAt, x.Memo, x.Version)
			return tag.RowsAffected() == 1, err
		},
		Save: func(ctx context.Context, tx pgx.Tx, x *thing) error {
			_, err := tx.Exec(ctx, `UPDATE things SET state = $2, state_entered_at = $3, memo = $4, version = $5 WHERE application_id = $1`,
				x.ApplicationID, x.State, x.StateEnteredAt, x.Memo, x.Version)
			return err
		},
		Unknown: errNoThing,
		Noun:    "thing",
	}), pool
}

var (
	at   = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	spoc = &commonv1.Actor{Subject: "spoc-1", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}
)

// open opens a thing in london at version 1, as an event would.
func open(t *testing.T, table *recordstore.Table[*thing, state]) string {
	t.Helper()
	x := &thing{Header: record.Header[state]{ApplicationID: event.NewID(), Region: "london", State: "open", StateEnteredAt: at}}
	x.Note(record.Change{Actor: spoc, At: at}, "open", "thing.opened", "")
	if err := table.Open(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	return x.ApplicationID
}

func outboxCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table, pool := setup(t)

	t.Run("a change stores the record, its new history and its event, and reads back whole", func(t *testing.T) {
		id := open(t, table)
		for i, st := range []state{"blocked", "open"} {
			got, err := table.Update(ctx, id, func(x *thing) (*eventsv1.Event, error) {
				x.Memo = "change " + string(st)
				ev := x.Move("things", record.Change{Actor: spoc, At: at.Add(time.Duration(i+1) * time.Hour)}, st, "thing."+string(st), "why_"+string(st))
				ev.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
				return ev, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != int64(i+2) || len(got.History) != i+2 || got.History[i+1].ReasonCode != "why_"+string(st) {
				t.Fatalf("after change %d: version %d, history %+v", i+1, got.Version, got.History)
			}
		}
		read, err := table.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if read.State != "open" || read.Memo != "change open" || read.Version != 3 || !read.StateEnteredAt.Equal(at.Add(2*time.Hour)) {
			t.Errorf("Get = %+v", read)
		}
		if names := [3]string{read.History[0].Event, read.History[1].Event, read.History[2].Event}; names != [3]string{"thing.opened", "thing.blocked", "thing.open"} {
			t.Errorf("history = %v", names)
		}
		if read.History[0].Actor.GetSubject() != "spoc-1" || !read.History[1].OccurredAt.Equal(at.Add(time.Hour)) {
			t.Errorf("history entry = %+v", read.History[1])
		}
	})

	t.Run("opening twice keeps the first", func(t *testing.T) {
		id := open(t, table)
		again := &thing{Header: record.Header[state]{ApplicationID: id, Region: "wales", State: "other", StateEnteredAt: at}}
		if err := table.Open(ctx, again); err != nil {
			t.Fatal(err)
		}
		if got, _ := table.Get(ctx, id); got.Region != "london" || len(got.History) != 1 {
			t.Errorf("second open changed the record: %+v", got)
		}
	})

	t.Run("an update function's error stores nothing", func(t *testing.T) {
		id := open(t, table)
		before := outboxCount(t, pool)
		for _, refusal := range []error{record.ErrUnchanged, errors.New("refused")} {
			_, err := table.Update(ctx, id, func(x *thing) (*eventsv1.Event, error) {
				x.Memo = "lost"
				ev := x.Move("things", record.Change{Actor: spoc, At: at}, "closed", "thing.closed", "")
				ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
				return ev, refusal
			})
			if !errors.Is(err, refusal) {
				t.Fatalf("err = %v, want %v", err, refusal)
			}
		}
		got, _ := table.Get(ctx, id)
		if got.Memo != "" || got.Version != 1 || len(got.History) != 1 || outboxCount(t, pool) != before {
			t.Errorf("a refused change left %+v and %d outbox rows (had %d)", got, outboxCount(t, pool), before)
		}
	})

	t.Run("a change to a record not here is the record's NotYet; a read of one is NotFound", func(t *testing.T) {
		for _, id := range []string{event.NewID(), "not-a-uuid"} {
			_, err := table.Update(ctx, id, func(*thing) (*eventsv1.Event, error) { return nil, nil })
			if !errors.Is(err, errNoThing) || !errors.Is(err, record.ErrNotYet) {
				t.Errorf("Update(%s) = %v, want errNoThing", id, err)
			}
			_, err = table.Get(ctx, id)
			if !errors.Is(err, record.ErrNotFound) || err.Error() != "no thing for this application_id" {
				t.Errorf("Get(%s) = %v, want NotFound", id, err)
			}
		}
	})

	t.Run("a record in another region is missing to a scoped read or change, word for word", func(t *testing.T) {
		id := open(t, table) // in london
		ran := false
		change := func(*thing) (*eventsv1.Event, error) { ran = true; return nil, record.ErrUnchanged }
		for _, regions := range [][]string{{"wales"}, {}, {"wales", "north-east"}} {
			_, errOther := table.UpdateIn(ctx, id, regions, change)
			_, errMissing := table.UpdateIn(ctx, event.NewID(), regions, change)
			if ran || errOther != errNoThing || errMissing != errNoThing {
				t.Errorf("UpdateIn(%v): ran %v, another region's %v, a missing one's %v; want errNoThing for both, fn never run", regions, ran, errOther, errMissing)
			}
			_, errOther = table.GetIn(ctx, id, regions)
			_, errMissing = table.GetIn(ctx, event.NewID(), regions)
			if !errors.Is(errOther, record.ErrNotFound) || errOther.Error() != errMissing.Error() {
				t.Errorf("GetIn(%v): another region's %v, a missing one's %v; want the same NotFound", regions, errOther, errMissing)
			}
		}
		for _, regions := range [][]string{nil, {"london"}, {"wales", "london"}} {
			if got, err := table.GetIn(ctx, id, regions); err != nil || got.ApplicationID != id {
				t.Errorf("GetIn(%v) = %v, %v; want the record", regions, got, err)
			}
			if _, err := table.UpdateIn(ctx, id, regions, change); !errors.Is(err, record.ErrUnchanged) || !ran {
				t.Errorf("UpdateIn(%v) = %v, ran %v; want the change run", regions, err, ran)
			}
			ran = false
		}
	})

	t.Run("a record's history holds each version once", func(t *testing.T) {
		id := open(t, table)
		_, err := pool.Exec(ctx, `INSERT INTO history (record_id, version, event, actor_subject, actor_role, occurred_at, reason_code)
			VALUES ($1, 1, 'thing.again', 'spoc-1', 1, now(), '')`, id)
		if pg.SQLState(err) != pg.UniqueViolation {
			t.Errorf("writing version 1 twice: err = %v, want a unique violation", err)
		}
	})
}

func TestNewTableRefusesAMissingField(t *testing.T) {
	t.Parallel()
	table, _ := setup(t)
	for name, spoil := range map[string]func(*recordstore.Table[*thing, state]){
		"no Save":               func(x *recordstore.Table[*thing, state]) { x.Save = nil },
		"no Unknown":            func(x *recordstore.Table[*thing, state]) { x.Unknown = nil },
		"an Unknown not NotYet": func(x *recordstore.Table[*thing, state]) { x.Unknown = errors.New("gone") },
	} {
		t.Run(name, func(t *testing.T) {
			spoilt := *table
			spoil(&spoilt)
			defer func() {
				if recover() == nil {
					t.Error("NewTable accepted it")
				}
			}()
			recordstore.NewTable(spoilt)
		})
	}
}

// TestOpenStoresEveryField: a record that opens with changes already made
// to it (an imported history) is stored as it is, even by an Insert that
// writes only the fields a record opens with.
func TestOpenStoresEveryField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table, _ := setup(t)
	opening := *table
	opening.Insert = func(ctx context.Context, tx pgx.Tx, x *thing) (bool, error) {
		tag, err := tx.Exec(ctx, `INSERT INTO things VALUES ($1, $2, $3, $4, '', $5) ON CONFLICT DO NOTHING`,
			x.ApplicationID, x.Region, x.State, x.StateEnteredAt, x.Version)
		return tag.RowsAffected() == 1, err
	}
	x := &thing{Header: record.Header[state]{ApplicationID: event.NewID(), Region: "london", State: "open", StateEnteredAt: at}}
	x.Note(record.Change{Actor: spoc, At: at}, "open", "thing.opened", "")
	x.Memo = "imported"
	x.Move("things", record.Change{Actor: spoc, At: at.Add(time.Hour)}, "blocked", "thing.blocked", "why")
	if err := opening.Open(ctx, x); err != nil {
		t.Fatal(err)
	}
	got, err := opening.Get(ctx, x.ApplicationID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Memo != "imported" || got.State != "blocked" || got.Version != x.Version || len(got.History) != 2 {
		t.Errorf("opened = %+v; want memo imported, blocked at version %d with two history entries", got, x.Version)
	}
}
