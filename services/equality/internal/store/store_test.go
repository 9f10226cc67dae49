package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/monitoring/handoff"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/service"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
	"github.com/probation-recruitment/pipeline/services/equality/internal/store"
)

func connect(t *testing.T, url, schema string) *pgxpool.Pool {
	t.Helper()
	pool, err := pg.Connect(context.Background(), url, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// The answers are special category data: the equality service's role
// alone reads them. The applications role may deposit (INSERT) and do
// nothing else; every other service's role — sifting, offers, vetting,
// reporting — is refused everything, and so are the applications role's
// reads, changes and deletions. The attack is each role trying, as
// PostgreSQL sees it (SQLSTATE 42501, insufficient privilege).
func TestOnlyTheEqualityRoleReadsTheAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eq := pg.ServiceRole{Name: testenv.Name("r_eq_"), Schema: testenv.Name("t_eq_")}
	apps := pg.ServiceRole{Name: testenv.Name("r_apps_"), Schema: testenv.Name("t_apps_")}
	others := []pg.ServiceRole{
		{Name: testenv.Name("r_sift_"), Schema: testenv.Name("t_sift_")},
		{Name: testenv.Name("r_off_"), Schema: testenv.Name("t_off_")},
		{Name: testenv.Name("r_vet_"), Schema: testenv.Name("t_vet_")},
		{Name: testenv.Name("r_rep_"), Schema: testenv.Name("t_rep_"), CreateSchemas: true},
	}
	eqPool := connect(t, testenv.ServiceRole(t, eq), eq.Schema)
	if err := pg.Migrate(ctx, eqPool, service.Migrations(store.Migrations...)...); err != nil {
		t.Fatalf("migrate as the equality role: %v", err)
	}
	if err := store.GrantDeposit(ctx, eqPool, eq.Schema, apps.Name); err == nil {
		t.Fatal("granted to a role that does not exist yet: want an error")
	}
	appsPool := connect(t, testenv.ServiceRole(t, apps), apps.Schema)
	for range 2 { // idempotent
		if err := store.GrantDeposit(ctx, eqPool, eq.Schema, apps.Name); err != nil {
			t.Fatal(err)
		}
	}

	id := event.NewID()
	answers := monitoring.Answers{monitoring.EthnicGroup: "black", monitoring.Disability: "yes"}
	for range 2 { // a second deposit (a retried import) changes nothing and needs no SELECT
		if err := pg.InTx(ctx, appsPool, func(tx pgx.Tx) error { return handoff.Deposit(ctx, tx, eq.Schema, id, answers) }); err != nil {
			t.Fatalf("the applications role deposits: %v", err)
		}
	}
	got, err := store.New(eqPool).Answers(ctx, id)
	if err != nil || got[monitoring.EthnicGroup] != "black" || got[monitoring.Disability] != "yes" || len(got) != 2 {
		t.Fatalf("the equality role reads %v, %v; want the deposited answers", got, err)
	}

	answersTable := pgx.Identifier{eq.Schema, "answers"}.Sanitize()
	milestones := pgx.Identifier{eq.Schema, "milestones"}.Sanitize()
	refused := func(who string, pool *pgxpool.Pool, sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		if pg.SQLState(err) != "42501" {
			t.Errorf("%s: %s: err = %v; want permission denied (42501)", who, sql, err)
		}
	}
	appsAttacks := []string{
		"SELECT * FROM " + answersTable,
		"SELECT count(*) FROM " + answersTable + " WHERE ethnic_group = 'black'",
		"UPDATE " + answersTable + " SET ethnic_group = 'white'",
		"DELETE FROM " + answersTable,
		"SELECT * FROM " + milestones,
		"INSERT INTO " + milestones + " (application_id) VALUES ('" + event.NewID() + "')",
	}
	for _, sql := range appsAttacks {
		refused("applications", appsPool, sql)
	}
	if _, err := appsPool.Exec(ctx, "INSERT INTO "+answersTable+" (application_id, sex) VALUES ($1, 'female') RETURNING sex", event.NewID()); pg.SQLState(err) != "42501" {
		t.Errorf("applications: INSERT … RETURNING reads back: err = %v; want 42501", err)
	}
	// The depositor's other ways to read: an upsert that returns the row
	// it met, COPY out, locks that would stall the equality service, a
	// view or function of its own over the table, the planner's
	// statistics, EXPLAIN, and a refused insert's message.
	appsRefused := []string{
		"INSERT INTO " + answersTable + " (application_id, sex) VALUES ('" + id + "', 'male') ON CONFLICT (application_id) DO UPDATE SET sex = excluded.sex RETURNING sex",
		"INSERT INTO " + answersTable + " (application_id, sex) VALUES ('" + id + "', 'male') ON CONFLICT (application_id) DO UPDATE SET sex = " + answersTable + ".sex",
		"INSERT INTO " + answersTable + " (application_id, sex) SELECT application_id, sex FROM " + answersTable,
		"COPY " + answersTable + " TO STDOUT",
		"COPY (SELECT ethnic_group FROM " + answersTable + ") TO STDOUT",
		"LOCK TABLE " + answersTable + " IN ACCESS EXCLUSIVE MODE",
		"LOCK TABLE " + answersTable + " IN SHARE MODE",
		"TRUNCATE " + answersTable,
		"EXPLAIN SELECT * FROM " + answersTable + " WHERE ethnic_group = 'black'",
		"CREATE VIEW " + pgx.Identifier{eq.Schema, "peek"}.Sanitize() + " AS SELECT * FROM " + answersTable,
		"CREATE FUNCTION " + pgx.Identifier{eq.Schema, "peek"}.Sanitize() + "() RETURNS bigint LANGUAGE sql AS 'SELECT 1'",
		"ALTER TABLE " + answersTable + " ADD COLUMN echo text",
		"CREATE TRIGGER peek BEFORE INSERT ON " + answersTable + " FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
	}
	for _, sql := range appsRefused {
		pg.InTx(ctx, appsPool, func(tx pgx.Tx) error { //nolint:errcheck // the statement's error is checked
			_, err := tx.Exec(ctx, sql)
			if pg.SQLState(err) != "42501" {
				t.Errorf("applications: %s: err = %v; want permission denied (42501)", sql, err)
			}
			return err
		})
	}
	// Passing its INSERT on grants nothing (a warning, no grant option):
	// the other roles below are refused inserting after it.
	if _, err := appsPool.Exec(ctx, "GRANT INSERT ON "+answersTable+" TO PUBLIC"); err != nil && pg.SQLState(err) != "42501" {
		t.Errorf("applications: GRANT … TO PUBLIC: %v", err)
	}
	// A view in applications' own schema over the answers is refused at
	// reading (a view reads with its owner's rights, which are INSERT).
	peek := pgx.Identifier{apps.Schema, "peek"}.Sanitize()
	if _, err := appsPool.Exec(ctx, "CREATE VIEW "+peek+" AS SELECT * FROM "+answersTable); err == nil {
		refused("applications", appsPool, "SELECT * FROM "+peek)
	} else if pg.SQLState(err) != "42501" {
		t.Errorf("applications: a view over the answers: %v", err)
	}
	// A second plain insert for a deposited application is refused, and
	// its message echoes nothing stored (the key is the caller's own).
	_, err = appsPool.Exec(ctx, "INSERT INTO "+answersTable+" (application_id, sex) VALUES ($1, 'male')", id)
	if pg.SQLState(err) != "23505" {
		t.Errorf("applications: a second insert: %v; want unique violation", err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		for _, leak := range []string{"black", "yes", "disability", "ethnic"} {
			if strings.Contains(pgErr.Error()+pgErr.Detail+pgErr.Hint+pgErr.Where, leak) {
				t.Errorf("the refused insert echoes %q: %+v", leak, pgErr)
			}
		}
	}
	// The planner's statistics: once the equality role analyses the table,
	// pg_stats would hold its most common values; a role without SELECT on
	// a column sees no row for it.
	if _, err := eqPool.Exec(ctx, "ANALYZE "+answersTable); err != nil {
		t.Fatal(err)
	}
	var visible int
	if err := eqPool.QueryRow(ctx, `SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'answers'`, eq.Schema).Scan(&visible); err != nil || visible == 0 {
		t.Fatalf("the equality role sees %d statistics rows (%v); the attack below would prove nothing", visible, err)
	}
	for _, q := range []string{
		`SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'answers'`,
		`SELECT count(*) FROM pg_stats_ext WHERE schemaname = $1 AND tablename = 'answers'`,
	} {
		var n int
		if err := appsPool.QueryRow(ctx, q, eq.Schema).Scan(&n); err != nil || n != 0 {
			t.Errorf("applications: %s: %d rows, %v; want none", q, n, err)
		}
	}
	refused("applications", appsPool, "SELECT stanumbers1 FROM pg_statistic")

	for _, o := range append(others, pg.ServiceRole{Name: testenv.Name("r_note_"), Schema: testenv.Name("t_note_")}) {
		pool := connect(t, testenv.ServiceRole(t, o), o.Schema)
		for _, sql := range append(appsAttacks, "INSERT INTO "+answersTable+" (application_id, sex) VALUES ('"+event.NewID()+"', 'male')") {
			refused(o.Name, pool, sql)
		}
	}
}

// Events become milestones; the window joins them with the answers.
func TestMilestonesAndWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testenv.Schema(t)
	if err := pg.Migrate(ctx, pool, service.Migrations(store.Migrations...)...); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	svc, err := funnel.NewService(st, funnelPolicy)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)
	id, campaign := event.NewID(), event.NewID()
	ev := func(at time.Time, p func(*eventsv1.Event)) *eventsv1.Event {
		e := &eventsv1.Event{EventId: event.NewID(), ApplicationId: id, Region: "london", CampaignId: campaign, OccurredAt: timestamppb.New(at)}
		p(e)
		return e
	}
	for _, e := range []*eventsv1.Event{
		ev(at, func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{}}
		}),
		ev(at.Add(72*time.Hour), func(e *eventsv1.Event) { e.Payload = &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}} }),
		ev(at.Add(96*time.Hour), func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{}}
		}),
		ev(at.Add(120*time.Hour), func(e *eventsv1.Event) {
			e.Payload = &eventsv1.Event_VettingUnblocked{VettingUnblocked: &eventsv1.VettingUnblocked{}}
		}),
	} {
		if err := pg.InTx(ctx, pool, func(tx pgx.Tx) error { return svc.HandleEvent(pg.WithTx(ctx, tx), e) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		return handoff.Deposit(ctx, tx, schemaOf(t, pool), id, monitoring.Answers{monitoring.Sex: "female"})
	}); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Window(ctx, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), monitoring.Sex)
	if err != nil || len(rows) != 1 {
		t.Fatalf("window: %v, %v; want one row", rows, err)
	}
	r := rows[0]
	if r.Answer != "female" || r.Region != "london" || r.CampaignID != campaign || r.Reached[0] == nil || !r.Reached[1].Equal(at.Add(72*time.Hour)) ||
		r.Reached[2] != nil || r.Blocked != 24*time.Hour || r.BlockedSince != nil {
		t.Errorf("row = %+v; want london, female, sift passed after 3 days, blocked one day", r)
	}
	// Erasure deletes the answers, not the pseudonymous milestones.
	erased := ev(at.Add(200*time.Hour), func(e *eventsv1.Event) {
		e.Payload = &eventsv1.Event_ApplicationErased{ApplicationErased: &eventsv1.ApplicationErased{}}
	})
	if err := pg.InTx(ctx, pool, func(tx pgx.Tx) error { return svc.HandleEvent(pg.WithTx(ctx, tx), erased) }); err != nil {
		t.Fatal(err)
	}
	if a, err := st.Answers(ctx, id); err != nil || a != nil {
		t.Errorf("answers after erasure: %v, %v; want none", a, err)
	}
	rows, _ = st.Window(ctx, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), monitoring.Sex)
	if len(rows) != 1 || rows[0].Answer != "" {
		t.Errorf("window after erasure: %+v; want the application, not answered", rows)
	}
}

func schemaOf(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

var funnelPolicy = disclosure.Config{}
