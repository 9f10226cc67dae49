package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// upTo returns the projection's migrations numbered up to last.
func upTo(t *testing.T, last string) pg.Migrations {
	t.Helper()
	files := fstest.MapFS{}
	err := fs.WalkDir(store.Migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path > last+"~" {
			return err
		}
		data, err := fs.ReadFile(store.Migrations.FS, path)
		files[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pg.Migrations{Name: store.Migrations.Name, FS: files}
}

// TestMigrationsMarkAProjectionWithRecords: a projection holding records
// when migration 004 or 005 adds facts they lack is marked as needing a
// rebuild; an empty one (a new service, or the schema a rebuild fills) is
// not.
func TestMigrationsMarkAProjectionWithRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, m := range []struct{ before, last string }{{"003", "004"}, {"004", "005"}} {
		for _, withRecords := range []bool{true, false} {
			pool, _ := testenv.Schema(t)
			if err := pg.Migrate(ctx, pool, upTo(t, m.before)); err != nil {
				t.Fatal(err)
			}
			if withRecords {
				if _, err := pool.Exec(ctx, `INSERT INTO apps (application_id, region, role) VALUES (gen_random_uuid(), 'london', 1)`); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := pool.Exec(ctx, `DELETE FROM rebuild_needed`); err != nil && m.before != "003" {
				t.Fatal(err)
			}
			if err := pg.Migrate(ctx, pool, upTo(t, m.last)); err != nil {
				t.Fatal(err)
			}
			reasons, err := store.New(pool).RebuildNeeded(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if marked := len(reasons) == 1 && strings.Contains(reasons[0], "migration "+m.last); marked != withRecords || len(reasons) > 1 {
				t.Errorf("migration %s with records %v: rebuild needed for %q", m.last, withRecords, reasons)
			}
		}
	}
}

// TestMigration006AnnouncesNothingOld: on first deploy, what the running
// clocks crossed before now counts as announced (no flood of old warnings)
// and what they will cross is pending.
func TestMigration006AnnouncesNothingOld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, upTo(t, "005")); err != nil {
		t.Fatal(err)
	}
	// Clocks past their breach, past their warning only, and before it.
	if _, err := pool.Exec(ctx, `INSERT INTO stuck (application_id, kind, region, role, stage, since, warning_at, breach_at, blocked_reason, next_actor)
		VALUES ('00000000-0000-7000-8000-000000000001', 1, 'london', 1, 1, now() - interval '20 days', now() - interval '10 days', now() - interval '6 days', 0, 1),
		       ('00000000-0000-7000-8000-000000000002', 1, 'london', 1, 1, now() - interval '12 days', now() - interval '2 days', now() + interval '2 days', 0, 1),
		       ('00000000-0000-7000-8000-000000000003', 2, 'london', 1, 4, now() - interval '1 day', now() + interval '2 days', now() + interval '4 days', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	if err := pg.Migrate(ctx, pool, store.Migrations); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT a.level, a.due_at IS NOT DISTINCT FROM CASE a.level WHEN 0 THEN s.warning_at WHEN 1 THEN s.breach_at END
		FROM stuck_alerts a JOIN stuck s USING (application_id, kind) ORDER BY application_id`)
	if err != nil {
		t.Fatal(err)
	}
	type alert struct {
		level int
		due   bool
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (alert, error) {
		var a alert
		return a, r.Scan(&a.level, &a.due)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []alert{{2, true}, {1, true}, {0, true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("alerts (level, next crossing as expected) %v, want %v", got, want)
	}
}
