package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// regionAppsAtSQL selects the records of region $1 that had begun by $2
// (one of their milestones had occurred): a record with none then counts in
// no report as of then.
const regionAppsAtSQL = `SELECT application_id FROM apps WHERE region = $1
	AND least(submitted_at, sift_passed_at, interview_passed_at, offer_made_at, offer_accepted_at,
		vetting_cleared_at, started_at, rejected_at, withdrawn_at) <= $2`

// pastAppsSQL reads the records regionAppsAtSQL selects, as scanApps
// reads them.
var pastAppsSQL = strings.Replace(loadAppsSQL, "WHERE application_id = ANY($1::uuid[])", "WHERE application_id IN ("+regionAppsAtSQL+")", 1)

// LoadRegionAt reads, in one snapshot, what a report as of a past time asOf
// derives region from (report.PastRegion): the records that had begun by
// then, and of each the changes to the details that changed after asOf (a
// detail none of whose changes came after asOf stood then as it stands
// now, so its changes are not needed).
func (s *Store) LoadRegionAt(ctx context.Context, region string, asOf time.Time) (report.PastRegion, error) {
	out := report.PastRegion{Changes: map[string][]projection.Change{}}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return out, fmt.Errorf("load region as of: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only; Commit below on success

	b := &pgx.Batch{}
	b.Queue(`SELECT (SELECT epoch::text FROM projection_epoch), coalesce((SELECT version FROM region_versions WHERE region = $1), 0)`,
		region).QueryRow(func(r pgx.Row) error {
		return wrap("read region version", r.Scan(&out.Epoch, &out.Version))
	})
	b.Queue(pastAppsSQL, region, asOf).Query(func(rows pgx.Rows) error {
		apps, err := scanApps(rows, 0)
		for _, a := range apps {
			out.Apps = append(out.Apps, a)
		}
		return err
	})
	b.Queue(`WITH a AS (`+regionAppsAtSQL+`),
		later AS (SELECT DISTINCT c.application_id, c.field FROM app_changes c JOIN a USING (application_id) WHERE c.occurred_at > $2)
		SELECT c.application_id::text, c.field, c.version, c.occurred_at, c.interview_at, c.start_date, c.subject_to_vetting,
			c.vetting_due_by, c.blocked, c.blocked_reason, c.assignee
		FROM app_changes c JOIN later USING (application_id, field)`, region, asOf).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			var c projection.Change
			var field, reason int32
			if err := rows.Scan(&id, &field, &c.Version, &c.At, &c.InterviewAt, &c.StartDate, &c.SubjectToVetting,
				&c.VettingDueBy, &c.Blocked, &reason, &c.Assignee); err != nil {
				return wrap("read changes", err)
			}
			c.Field, c.BlockedReason, c.At = projection.ChangeField(field), commonv1.BlockReason(reason), c.At.UTC()
			if c.InterviewAt != nil {
				t := c.InterviewAt.UTC()
				c.InterviewAt = &t
			}
			out.Changes[id] = append(out.Changes[id], c)
		}
		return wrap("read changes", rows.Err())
	})
	b.Queue(`SELECT campaign_id::text, region, role, opens_on, closes_on, posts, version FROM campaigns WHERE region = $1
		OR campaign_id IN (SELECT campaign_id FROM apps WHERE region = $1)`, region).Query(func(rows pgx.Rows) (err error) {
		out.Campaigns, err = scanCampaigns(rows)
		return err
	})
	b.Queue(thresholdsSQL).Query(func(rows pgx.Rows) (err error) {
		out.Thresholds, err = scanThresholds(rows)
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return out, fmt.Errorf("load region %s as of %s: %w", region, asOf.Format(time.RFC3339), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return out, fmt.Errorf("load region %s as of: %w", region, err)
	}
	return out, nil
}
