package store_test

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/services/offers/internal/store"
)

// upTo returns the service's migrations (the last set of store.Migrations)
// numbered up to last.
func upTo(t *testing.T, last string) []pg.Migrations {
	t.Helper()
	sets := append([]pg.Migrations{}, store.Migrations...)
	own := sets[len(sets)-1]
	files := fstest.MapFS{}
	err := fs.WalkDir(own.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path > last+"~" {
			return err
		}
		data, err := fs.ReadFile(own.FS, path)
		files[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sets[len(sets)-1] = pg.Migrations{Name: own.Name, FS: files}
	return sets
}

// TestMigration002StageClock: records kept before migration 002 get the
// time they entered their stage: a made offer from the passed interview
// (its first history entry), others from their status; and no owner.
func TestMigration002StageClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, upTo(t, "001")...); err != nil {
		t.Fatal(err)
	}
	passed := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	made, accepted := passed.Add(48*time.Hour), passed.Add(96*time.Hour)
	const (
		madeID     = "01a23c15-553d-7ba4-a5b8-000000000001"
		acceptedID = "01a23c15-553d-7ba4-a5b8-000000000002"
		closedID   = "01a23c15-553d-7ba4-a5b8-000000000003"
	)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO offers (application_id, campaign_id, region, role, status, status_entered_at, version) VALUES
			($1, gen_random_uuid(), 'london', 1, 'MADE', $4, 2),
			($2, gen_random_uuid(), 'london', 1, 'ACCEPTED', $5, 3),
			($3, gen_random_uuid(), 'london', 1, 'WITHDRAWN', $4, 1)`, []any{madeID, acceptedID, closedID, made, accepted}},
		{`INSERT INTO history (record_id, version, event, actor_subject, actor_role, occurred_at) VALUES
			($1, 1, 'interview.passed', 'spoc-1', 1, $2), ($1, 2, 'offer.made', 'spoc-1', 1, $3)`, []any{madeID, passed, made}},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := pg.Migrate(ctx, pool, store.Migrations...); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]time.Time{madeID: passed, acceptedID: accepted, closedID: made} {
		var got time.Time
		var assignee string
		if err := pool.QueryRow(ctx, `SELECT stage_entered_at, assignee FROM offers WHERE application_id = $1`, id).Scan(&got, &assignee); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) || assignee != "" {
			t.Errorf("%s: stage entered %v, assignee %q; want %v, none", id, got, assignee, want)
		}
	}
}

// TestMigration004TypedApprovals: an early start approved by free text
// before migration 004 and not started yet must be approved again by an
// approver; a started one keeps its approver as history; nobody has an
// early start policy, so early starts are off until an admin sets one.
func TestMigration004TypedApprovals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, upTo(t, "002")...); err != nil {
		t.Fatal(err)
	}
	const (
		acceptedID = "01a23c15-553d-7ba4-a5b8-000000000011"
		startedID  = "01a23c15-553d-7ba4-a5b8-000000000012"
	)
	at := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO offers (application_id, campaign_id, region, role, status, subject_to_vetting, approved_by,
		status_entered_at, stage_entered_at, version) VALUES
		($1, gen_random_uuid(), 'london', 1, 'ACCEPTED', true, 'my boss said so', $3, $3, 4),
		($2, gen_random_uuid(), 'london', 1, 'STARTED', true, 'deputy-director', $3, $3, 5)`, acceptedID, startedID, at); err != nil {
		t.Fatal(err)
	}
	if err := pg.Migrate(ctx, pool, store.Migrations...); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{acceptedID: "", startedID: "deputy-director"} {
		var got string
		if err := pool.QueryRow(ctx, `SELECT approved_by FROM offers WHERE application_id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: approved by %q, want %q", id, got, want)
		}
	}
	var policies int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM early_start_policies`).Scan(&policies); err != nil || policies != 0 {
		t.Errorf("policies after the migration: %d, %v; want none", policies, err)
	}
}
