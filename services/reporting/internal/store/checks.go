package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// checksToJSON encodes a record's checks for apps.checks.
func checksToJSON(cs []projection.CheckState) ([]byte, error) {
	if cs == nil {
		cs = []projection.CheckState{}
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, fmt.Errorf("encode checks: %w", err)
	}
	return b, nil
}

// checksFromJSON decodes apps.checks; none is nil, as a folded record's.
func checksFromJSON(b []byte) ([]projection.CheckState, error) {
	var cs []projection.CheckState
	if len(b) > 0 {
		if err := json.Unmarshal(b, &cs); err != nil {
			return nil, fmt.Errorf("decode checks: %w", err)
		}
	}
	if len(cs) == 0 {
		return nil, nil
	}
	for i := range cs {
		if cs[i].MetAt != nil {
			t := cs[i].MetAt.UTC()
			cs[i].MetAt = &t
		}
	}
	return cs, nil
}

// OutstandingChecks lists a page of a region's applications with a
// check-outstanding clock (with q.Check outstanding, if set), oldest offer
// first, after the key: an index range (stuck_checks).
func (s *Store) OutstandingChecks(ctx context.Context, q report.ChecksQuery) ([]report.OutstandingChecks, error) {
	rows, err := pg.Q(ctx, s.pool).Query(ctx, `SELECT s.application_id::text, coalesce(s.campaign_id::text, ''), s.region, s.role, s.stage,
			s.since, a.offer_assignee, a.checks
		FROM stuck s JOIN apps a ON a.application_id = s.application_id
		WHERE s.region = $1 AND s.kind = $2 AND (s.since, s.application_id) > ($3, $4::uuid)
		  AND ($5 = 0 OR a.checks @> jsonb_build_array(jsonb_build_object('c', $5::int, 's', $6::int)))
		ORDER BY s.since, s.application_id LIMIT $7`,
		q.Region, int(projection.StuckCheckOutstanding), q.After.At, q.After.ID, int32(q.Check), int32(commonv1.CheckStatus_CHECK_STATUS_OUTSTANDING), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list outstanding checks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (report.OutstandingChecks, error) {
		var o report.OutstandingChecks
		var role, stage int32
		var raw []byte
		if err := r.Scan(&o.ApplicationID, &o.CampaignID, &o.Region, &role, &stage, &o.OfferMadeAt, &o.Assignee, &raw); err != nil {
			return o, err
		}
		o.Role, o.Stage, o.OfferMadeAt = commonv1.JobRole(role), commonv1.Stage(stage), o.OfferMadeAt.UTC()
		cs, err := checksFromJSON(raw)
		o.Checks = (&projection.App{Checks: cs}).OutstandingChecks()
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list outstanding checks: %w", err)
	}
	return out, nil
}
