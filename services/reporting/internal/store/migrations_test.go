package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

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
