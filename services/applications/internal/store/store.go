// Package store keeps campaigns and applications in PostgreSQL, in the
// applications schema, with their events in the outbox of the same
// transaction.
package store

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/record"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the service's own tables.
var Migrations = pg.Embedded("intake", migrations, "migrations")

// Store implements intake.Store. Writes join a transaction carried by ctx
// (pg.WithTx), so a request's idempotency record commits with them.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the store's pool, for tests that look at the rows.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

var _ intake.Store = (*Store)(nil)

const campaignColumns = `id::text, region, role, title, posts, opens_on, closes_on, version, created_at, updated_at, created_by,
	coalesce(import_reference, ''), status, status_reason,
	array(SELECT r.region FROM campaign_regions r WHERE r.campaign_id = campaigns.id ORDER BY r.ord),
	array(SELECT r.posts FROM campaign_regions r WHERE r.campaign_id = campaigns.id ORDER BY r.ord)`

func scanCampaign(row pgx.Row) (*intake.Campaign, error) {
	c := &intake.Campaign{}
	var regions []string
	var posts []int32
	err := row.Scan(&c.ID, &c.Region, &c.Role, &c.Title, &c.Posts, &c.OpensOn, &c.ClosesOn, &c.Version, &c.CreatedAt, &c.UpdatedAt, &c.CreatedBy,
		&c.ImportReference, &c.Status, &c.StatusReason, &regions, &posts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("campaign: %w", record.ErrNotFound)
	}
	for i := range min(len(regions), len(posts)) {
		c.Regions = append(c.Regions, intake.RegionPosts{Region: regions[i], Posts: int(posts[i])})
	}
	return c, err
}

// campaignInRegions limits a read of campaigns to those with a region in
// $2, or to every campaign when $2 is NULL.
const campaignInRegions = ` AND ($2::text[] IS NULL OR EXISTS (SELECT 1 FROM campaign_regions r
	WHERE r.campaign_id = campaigns.id AND r.region = ANY($2::text[])))`

// putRegions stores the regions of campaigns cs: each campaign's list in
// its order, a region already held updated (regions are never removed).
func putRegions(ctx context.Context, tx pgx.Tx, cs []*intake.Campaign) error {
	var ids, regions []string
	var ords, posts []int32
	for _, c := range cs {
		for i, r := range c.Regions {
			ids, regions = append(ids, c.ID), append(regions, r.Region)
			ords, posts = append(ords, int32(i)), append(posts, int32(r.Posts))
		}
	}
	uuids, err := pg.UUIDs(ids)
	if err != nil {
		return fmt.Errorf("store campaign regions: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO campaign_regions (campaign_id, ord, region, posts)
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[])
		ON CONFLICT (campaign_id, region) DO UPDATE SET ord = excluded.ord, posts = excluded.posts`,
		uuids, ords, regions, posts); err != nil {
		return fmt.Errorf("store campaign regions: %w", err)
	}
	return nil
}

// InsertCampaign stores a new campaign and its event.
func (s *Store) InsertCampaign(ctx context.Context, c *intake.Campaign, ev *eventsv1.Event) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := insertCampaigns(ctx, tx, []*intake.Campaign{c}); err != nil {
			return err
		}
		return outbox.Append(ctx, tx, ev)
	})
}

// CampaignsByReference returns the campaigns imported under references.
func (s *Store) CampaignsByReference(ctx context.Context, references []string) (map[string]*intake.Campaign, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE import_reference = ANY($1)`, references)
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*intake.Campaign, error) { return scanCampaign(r) })
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	out := make(map[string]*intake.Campaign, len(cs))
	for _, c := range cs {
		out[c.ImportReference] = c
	}
	return out, nil
}

// UpdateCampaign applies fn to the campaign under a row lock.
func (s *Store) UpdateCampaign(ctx context.Context, id string, fn func(*intake.Campaign) ([]*eventsv1.Event, error)) (*intake.Campaign, error) {
	if !validUUID(id) {
		return nil, fmt.Errorf("campaign: %w", record.ErrNotFound)
	}
	var out *intake.Campaign
	err := pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		evs, err := fn(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET title = $2, posts = $3, opens_on = $4, closes_on = $5, version = $6, updated_at = $7,
			status = $8, status_reason = $9
			WHERE id = $1`, c.ID, c.Title, c.Posts, c.OpensOn, c.ClosesOn, c.Version, c.UpdatedAt, c.Status, c.StatusReason); err != nil {
			return fmt.Errorf("update campaign: %w", err)
		}
		if err := putRegions(ctx, tx, []*intake.Campaign{c}); err != nil {
			return err
		}
		out = c
		return outbox.Append(ctx, tx, evs...)
	})
	return out, err
}

// inRegions limits a read of one row to regions ($2), or to every region
// when $2 is NULL: a row in another region is no row, just like a missing
// one.
const inRegions = ` AND ($2::text[] IS NULL OR region = ANY($2::text[]))`

// Campaign returns one campaign, if it is in one of regions (nil: any).
func (s *Store) Campaign(ctx context.Context, id string, regions []string) (*intake.Campaign, error) {
	if !validUUID(id) {
		return nil, fmt.Errorf("campaign: %w", record.ErrNotFound)
	}
	c, err := scanCampaign(pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1`+campaignInRegions, id, regions))
	if err != nil && !errors.Is(err, record.ErrNotFound) {
		return nil, fmt.Errorf("read campaign: %w", err)
	}
	return c, err
}

// Campaigns lists campaigns newest first.
func (s *Store) Campaigns(ctx context.Context, f intake.CampaignFilter) ([]*intake.Campaign, error) {
	after := f.After
	if after == "" {
		after = "ffffffff-ffff-ffff-ffff-ffffffffffff"
	}
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT `+campaignColumns+` FROM campaigns
		WHERE id IN (SELECT campaign_id FROM campaign_regions WHERE region = ANY($1) AND campaign_id < $2::uuid)
		ORDER BY id DESC LIMIT $3`, f.Regions, after, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*intake.Campaign, error) { return scanCampaign(r) })
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return out, nil
}

const applicationColumns = `id::text, campaign_id::text, region, role,
	coalesce(candidate_name, ''), coalesce(candidate_email, ''), coalesce(candidate_phone, ''),
	stage, stage_entered_at, version, submitted_at, submitted_by, withdrawn_at, withdrawal_reason, coalesce(import_reference, ''),
	pending_withdrawal_stage, pending_withdrawal_at, pending_withdrawal_reason, pending_withdrawal_by, erased_at, erasure_reason,
	vetting_open, vetting_version, source`

func scanApplication(row pgx.Row) (*intake.Application, error) {
	a := &intake.Application{}
	var pendingStage, pendingReason, pendingBy *string
	var pendingAt *time.Time
	err := row.Scan(&a.ID, &a.CampaignID, &a.Region, &a.Role, &a.Candidate.Name, &a.Candidate.Email, &a.Candidate.Phone,
		&a.Stage, &a.StageEnteredAt, &a.Version, &a.SubmittedAt, &a.SubmittedBy, &a.WithdrawnAt, &a.WithdrawReason, &a.ImportReference,
		&pendingStage, &pendingAt, &pendingReason, &pendingBy, &a.ErasedAt, &a.ErasureReason, &a.Vetting.Open, &a.Vetting.Version, &a.Source)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("application: %w", record.ErrNotFound)
	}
	if pendingStage != nil && pendingAt != nil && pendingReason != nil && pendingBy != nil {
		a.PendingWithdrawal = &intake.Withdrawal{Stage: intake.Stage(*pendingStage), At: *pendingAt, Reason: *pendingReason, By: *pendingBy}
	}
	return a, err
}

// pending spreads a pending withdrawal over its columns (all NULL for none).
func pending(w *intake.Withdrawal) (stage *string, at *time.Time, reason, by *string) {
	if w == nil {
		return nil, nil, nil, nil
	}
	st := string(w.Stage)
	return &st, &w.At, &w.Reason, &w.By
}

// InsertApplication stores a new application and its events.
func (s *Store) InsertApplication(ctx context.Context, a *intake.Application, evs ...*eventsv1.Event) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		pStage, pAt, pReason, pBy := pending(a.PendingWithdrawal)
		_, err := tx.Exec(ctx, `INSERT INTO applications (id, campaign_id, region, role, candidate_name, candidate_email,
			candidate_phone, stage, stage_entered_at, version, submitted_at, submitted_by, withdrawn_at, withdrawal_reason,
			import_reference, pending_withdrawal_stage, pending_withdrawal_at, pending_withdrawal_reason, pending_withdrawal_by, source)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, nullif($15, ''), $16, $17, $18, $19, $20)`,
			a.ID, a.CampaignID, a.Region, a.Role, a.Candidate.Name, a.Candidate.Email, a.Candidate.Phone,
			a.Stage, a.StageEnteredAt, a.Version, a.SubmittedAt, a.SubmittedBy, a.WithdrawnAt, a.WithdrawReason,
			a.ImportReference, pStage, pAt, pReason, pBy, a.Source)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == pg.UniqueViolation && pgErr.ConstraintName == "applications_import_reference_key":
			return fmt.Errorf("%w: reference %s", intake.ErrAlreadyImported, a.ImportReference)
		case pg.SQLState(err) == pg.UniqueViolation:
			return fmt.Errorf("%w: this email has already applied to the campaign", intake.ErrDuplicate)
		case err != nil:
			return fmt.Errorf("insert application: %w", err)
		}
		return outbox.Append(ctx, tx, evs...)
	})
}

// ApplicationsByReference returns the applications imported under
// references.
func (s *Store) ApplicationsByReference(ctx context.Context, references []string) (map[string]*intake.Application, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT `+applicationColumns+` FROM applications WHERE import_reference = ANY($1)`, references)
	if err != nil {
		return nil, fmt.Errorf("read applications: %w", err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*intake.Application, error) { return scanApplication(r) })
	if err != nil {
		return nil, fmt.Errorf("read applications: %w", err)
	}
	out := make(map[string]*intake.Application, len(as))
	for _, a := range as {
		out[a.ImportReference] = a
	}
	return out, nil
}

// InsertImports stores an import's campaigns and applications with their
// events: each set in one multi-row INSERT, in the caller's transaction
// without a savepoint (pg.Join: a failure fails the whole import, which
// its caller then retries row by row).
func (s *Store) InsertImports(ctx context.Context, w intake.ImportWrites) ([]error, error) {
	failed := make([]error, len(w.Applications))
	err := pg.Join(ctx, s.pool, func(tx pgx.Tx) error {
		made, err := insertCampaigns(ctx, tx, w.Campaigns)
		if err != nil {
			return err
		}
		var evs []*eventsv1.Event
		for i, c := range w.Campaigns {
			if made[c.ID] {
				evs = append(evs, w.CampaignEvents[i])
			}
		}
		if len(made) < len(w.Campaigns) {
			// The campaigns made are kept, with their events, for the
			// caller to find when it reads the campaigns again.
			if err := outbox.Append(ctx, tx, evs...); err != nil {
				return err
			}
			return fmt.Errorf("%w: a campaign reference was imported meanwhile", intake.ErrDuplicate)
		}
		inserted, err := insertApplications(ctx, tx, w.Applications)
		if err != nil {
			return err
		}
		var taken []string
		for i, a := range w.Applications {
			if inserted[a.ID] {
				evs = append(evs, w.ApplicationEvents[i]...)
			} else {
				taken = append(taken, a.ImportReference)
			}
		}
		if len(taken) > 0 {
			// Not inserted: its reference taken (by an import beside this
			// one), or else its candidate's email in the campaign.
			rows, err := tx.Query(ctx, `SELECT import_reference FROM applications WHERE import_reference = ANY($1)`, taken)
			if err != nil {
				return fmt.Errorf("read applications: %w", err)
			}
			refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("read applications: %w", err)
			}
			for i, a := range w.Applications {
				switch {
				case inserted[a.ID]:
				case slices.Contains(refs, a.ImportReference):
					failed[i] = fmt.Errorf("%w: reference %s", intake.ErrAlreadyImported, a.ImportReference)
				default:
					failed[i] = fmt.Errorf("%w: this email has already applied to the campaign", intake.ErrDuplicate)
				}
			}
		}
		return outbox.Append(ctx, tx, evs...)
	})
	if err != nil {
		return nil, err
	}
	return failed, nil
}

// insertCampaigns inserts cs, skipping those whose import reference is
// taken, and returns the ids of those it inserted.
func insertCampaigns(ctx context.Context, tx pgx.Tx, cs []*intake.Campaign) (map[string]bool, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	var ids, regions, roles, titles, createdBy, refs, statuses []string
	var posts []int64
	var opens []time.Time
	var closes []*time.Time
	var versions []int64
	var created, updated []time.Time
	for _, c := range cs {
		ids, regions, roles, titles = append(ids, c.ID), append(regions, c.Region), append(roles, string(c.Role)), append(titles, c.Title)
		posts, opens, closes, versions = append(posts, int64(c.Posts)), append(opens, c.OpensOn), append(closes, c.ClosesOn), append(versions, c.Version)
		created, updated, createdBy, refs = append(created, c.CreatedAt), append(updated, c.UpdatedAt), append(createdBy, c.CreatedBy), append(refs, c.ImportReference)
		statuses = append(statuses, string(cmp.Or(c.Status, intake.CampaignOpen)))
	}
	uuids, err := pg.UUIDs(ids)
	if err != nil {
		return nil, fmt.Errorf("insert campaigns: %w", err)
	}
	rows, err := tx.Query(ctx, `INSERT INTO campaigns (id, region, role, title, posts, opens_on, closes_on, version,
		created_at, updated_at, created_by, import_reference, status)
		SELECT id, region, role, title, posts, opens_on, closes_on, version, created_at, updated_at, created_by, nullif(ref, ''), status
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::date[], $7::date[], $8::bigint[],
			$9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::text[])
			AS c (id, region, role, title, posts, opens_on, closes_on, version, created_at, updated_at, created_by, ref, status)
		ON CONFLICT (import_reference) DO NOTHING
		RETURNING id::text`,
		uuids, regions, roles, titles, posts, opens, closes, versions, created, updated, createdBy, refs, statuses)
	if err != nil {
		return nil, fmt.Errorf("insert campaigns: %w", err)
	}
	made, err := collectIDs(rows, "insert campaigns")
	if err != nil {
		return nil, err
	}
	var madeCs []*intake.Campaign
	for _, c := range cs {
		if made[c.ID] {
			madeCs = append(madeCs, c)
		}
	}
	if err := putRegions(ctx, tx, madeCs); err != nil {
		return nil, err
	}
	return made, nil
}

// collectIDs reads the ids an INSERT ... RETURNING id::text returned.
func collectIDs(rows pgx.Rows, what string) (map[string]bool, error) {
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make(map[string]bool, len(got))
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}

// insertApplications inserts as, skipping those whose import reference or
// candidate's email in the campaign is taken, and returns the ids of
// those it inserted.
func insertApplications(ctx context.Context, tx pgx.Tx, as []*intake.Application) (map[string]bool, error) {
	n := len(as)
	ids, campaigns, regions, roles := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	names, emails, phones, stages := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	entered, submitted := make([]time.Time, n), make([]time.Time, n)
	versions := make([]int64, n)
	submittedBy, reasons, refs, sources := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	withdrawn, pAt := make([]*time.Time, n), make([]*time.Time, n)
	pStage, pReason, pBy := make([]*string, n), make([]*string, n), make([]*string, n)
	for i, a := range as {
		ids[i], campaigns[i], regions[i], roles[i] = a.ID, a.CampaignID, a.Region, string(a.Role)
		names[i], emails[i], phones[i], stages[i] = a.Candidate.Name, a.Candidate.Email, a.Candidate.Phone, string(a.Stage)
		entered[i], submitted[i], versions[i] = a.StageEnteredAt, a.SubmittedAt, a.Version
		submittedBy[i], reasons[i], refs[i], withdrawn[i] = a.SubmittedBy, a.WithdrawReason, a.ImportReference, a.WithdrawnAt
		pStage[i], pAt[i], pReason[i], pBy[i] = pending(a.PendingWithdrawal)
		sources[i] = a.Source
	}
	appIDs, err := pg.UUIDs(ids)
	if err != nil {
		return nil, fmt.Errorf("insert applications: %w", err)
	}
	campaignIDs, err := pg.UUIDs(campaigns)
	if err != nil {
		return nil, fmt.Errorf("insert applications: %w", err)
	}
	rows, err := tx.Query(ctx, `INSERT INTO applications (id, campaign_id, region, role, candidate_name, candidate_email,
		candidate_phone, stage, stage_entered_at, version, submitted_at, submitted_by, withdrawn_at, withdrawal_reason,
		import_reference, pending_withdrawal_stage, pending_withdrawal_at, pending_withdrawal_reason, pending_withdrawal_by, source)
		SELECT id, campaign_id, region, role, name, email, phone, stage, entered, version, submitted, submitted_by, withdrawn,
			reason, nullif(ref, ''), p_stage, p_at, p_reason, p_by, source
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::timestamptz[], $10::bigint[], $11::timestamptz[], $12::text[], $13::timestamptz[], $14::text[], $15::text[],
			$16::text[], $17::timestamptz[], $18::text[], $19::text[], $20::text[])
			AS a (id, campaign_id, region, role, name, email, phone, stage, entered, version, submitted, submitted_by, withdrawn,
			reason, ref, p_stage, p_at, p_reason, p_by, source)
		ON CONFLICT DO NOTHING
		RETURNING id::text`,
		appIDs, campaignIDs, regions, roles, names, emails, phones, stages, entered, versions, submitted, submittedBy, withdrawn,
		reasons, refs, pStage, pAt, pReason, pBy, sources)
	if err != nil {
		return nil, fmt.Errorf("insert applications: %w", err)
	}
	return collectIDs(rows, "insert applications")
}

// UpdateApplication applies fn to the application under a row lock, if it
// is in one of regions (nil: any).
func (s *Store) UpdateApplication(ctx context.Context, id string, regions []string, fn func(*intake.Application) ([]*eventsv1.Event, error)) (*intake.Application, error) {
	if !validUUID(id) {
		return nil, fmt.Errorf("application: %w", record.ErrNotFound)
	}
	var out *intake.Application
	// Joins the caller's transaction without a savepoint (a failure fails
	// the whole change), and its writes are deferred (pg.Defer): with the
	// next statement, a stage event applied in a consumer's batch costs the
	// locked read alone.
	err := pg.Join(ctx, s.pool, func(tx pgx.Tx) error {
		a, err := scanApplication(tx.QueryRow(ctx, `SELECT `+applicationColumns+` FROM applications WHERE id = $1`+inRegions+` FOR UPDATE`, id, regions))
		if err != nil {
			return err
		}
		evs, err := fn(a)
		if err != nil {
			return err
		}
		pStage, pAt, pReason, pBy := pending(a.PendingWithdrawal)
		// The candidate's details never change, except to be erased.
		if err := pg.Defer(ctx, tx, `UPDATE applications SET stage = $2, stage_entered_at = $3, version = $4,
			withdrawn_at = $5, withdrawal_reason = $6, pending_withdrawal_stage = $7, pending_withdrawal_at = $8,
			pending_withdrawal_reason = $9, pending_withdrawal_by = $10, erased_at = $11, erasure_reason = $12,
			vetting_open = $13, vetting_version = $14,
			candidate_name = CASE WHEN $11::timestamptz IS NULL THEN candidate_name END,
			candidate_email = CASE WHEN $11::timestamptz IS NULL THEN candidate_email END,
			candidate_phone = CASE WHEN $11::timestamptz IS NULL THEN candidate_phone END
			WHERE id = $1`,
			a.ID, a.Stage, a.StageEnteredAt, a.Version, a.WithdrawnAt, a.WithdrawReason, pStage, pAt, pReason, pBy,
			a.ErasedAt, a.ErasureReason, a.Vetting.Open, a.Vetting.Version); err != nil {
			return fmt.Errorf("update application: %w", err)
		}
		out = a
		return outbox.Append(ctx, tx, evs...)
	})
	return out, err
}

// Application returns one application, if it is in one of regions (nil:
// any).
func (s *Store) Application(ctx context.Context, id string, regions []string) (*intake.Application, error) {
	if !validUUID(id) {
		return nil, fmt.Errorf("application: %w", record.ErrNotFound)
	}
	a, err := scanApplication(pg.Q(ctx, s.pool).QueryRow(ctx, `SELECT `+applicationColumns+` FROM applications WHERE id = $1`+inRegions, id, regions))
	if err != nil && !errors.Is(err, record.ErrNotFound) {
		return nil, fmt.Errorf("read application: %w", err)
	}
	return a, err
}

// Applications lists applications oldest first.
func (s *Store) Applications(ctx context.Context, f intake.ApplicationFilter) ([]*intake.Application, error) {
	after := f.After
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	var campaign, stage *string
	if f.CampaignID != "" {
		campaign = &f.CampaignID
	}
	if f.Stage != "" {
		stage = (*string)(&f.Stage)
	}
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT `+applicationColumns+` FROM applications
		WHERE region = ANY($1) AND ($2::uuid IS NULL OR campaign_id = $2) AND ($3::text IS NULL OR stage = $3) AND id > $4
		ORDER BY id LIMIT $5`, f.Regions, campaign, stage, after, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*intake.Application, error) { return scanApplication(r) })
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return out, nil
}

// DueForRetention returns up to limit ids of applications not yet erased
// whose outcome came at or before the cutoff (intake.RetentionCutoff.Due
// says the same in Go).
func (s *Store) DueForRetention(ctx context.Context, c intake.RetentionCutoff, limit int) ([]string, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT id::text FROM applications
		WHERE erased_at IS NULL AND ((stage IN ('REJECTED', 'WITHDRAWN') AND stage_entered_at <= $1)
			OR (stage = 'HIRED' AND stage_entered_at <= $2))
		ORDER BY stage_entered_at LIMIT $3`, c.EndedBy, c.StartedBy, limit)
	if err != nil {
		return nil, fmt.Errorf("find applications due for retention: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find applications due for retention: %w", err)
	}
	return ids, nil
}

// TryLeader runs fn if no other replica holds the lock named name (a
// session advisory lock in this schema, held on one connection while fn
// runs, and released when fn returns or the connection drops); it reports
// whether fn ran.
func (s *Store) TryLeader(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("take %s lock: %w", name, err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '.' || $1, 0))`, name).Scan(&locked); err != nil {
		return false, fmt.Errorf("take %s lock: %w", name, err)
	}
	if !locked {
		return false, nil
	}
	defer func() {
		// A failed unlock leaves the lock with the connection; closing it
		// releases the lock rather than returning it to the pool locked.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended(current_schema() || '.' || $1, 0))`, name); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	return true, fn(ctx)
}
