package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
)

// openCases are the stage records in progress, one row each, with the
// assignee of each (report.CaseQuery says which; the vetting branch is
// Clocks' "awaiting vetting"). Each branch reads apps by (region,
// <record>_assignee) (migration 008); {filter} narrows every branch.
var openCases = strings.NewReplacer(
	"{sift}", strconv.Itoa(int(projection.RecordSift)),
	"{offer}", strconv.Itoa(int(projection.RecordOffer)),
	"{vetting}", strconv.Itoa(int(projection.RecordVetting)),
	"{SIFT}", stageNumber(commonv1.Stage_STAGE_SIFT),
	"{INTERVIEW}", stageNumber(commonv1.Stage_STAGE_INTERVIEW),
	"{OFFER}", stageNumber(commonv1.Stage_STAGE_OFFER),
	"{PRE_EMPLOYMENT}", stageNumber(commonv1.Stage_STAGE_PRE_EMPLOYMENT),
	"{HIRED}", stageNumber(commonv1.Stage_STAGE_HIRED),
).Replace(`
	SELECT application_id, region, campaign_id, role, stage, stage_entered_at, {sift} AS record, sift_assignee AS assignee
		FROM apps WHERE region = ANY($1) AND stage IN ({SIFT}, {INTERVIEW}) {filter:sift_assignee}
	UNION ALL
	SELECT application_id, region, campaign_id, role, stage, stage_entered_at, {offer}, offer_assignee
		FROM apps WHERE region = ANY($1) AND stage IN ({OFFER}, {PRE_EMPLOYMENT}) {filter:offer_assignee}
	UNION ALL
	SELECT application_id, region, campaign_id, role, stage, stage_entered_at, {vetting}, vetting_assignee
		FROM apps WHERE region = ANY($1) AND vetting_cleared_at IS NULL
			AND (stage = {PRE_EMPLOYMENT} OR (stage = {HIRED} AND subject_to_vetting)) {filter:vetting_assignee}`)

func stageNumber(s commonv1.Stage) string { return strconv.Itoa(int(s)) }

// OpenCases lists the open cases q selects, oldest in their stage first
// (report.CaseKey's order), each with its clocks, in one statement.
func (s *Store) OpenCases(ctx context.Context, q report.CaseQuery) ([]report.CaseRow, error) {
	args := []any{q.Regions}
	// Separate statement texts, not "$2 = '' OR ...": each is planned for
	// what it asks (an index probe per assignee, or the region's range).
	cases := openCases
	for _, col := range []string{"sift_assignee", "offer_assignee", "vetting_assignee"} {
		filter := ""
		if q.Assignee != "" {
			filter = "AND " + col + " = $2"
		}
		cases = strings.Replace(cases, "{filter:"+col+"}", filter, 1)
	}
	if q.Assignee != "" {
		args = append(args, q.Assignee)
	}
	page := `SELECT * FROM cases`
	if q.After != nil {
		n := len(args)
		page += fmt.Sprintf(` WHERE (stage_entered_at, application_id, record) > ($%d, $%d::uuid, $%d)`, n+1, n+2, n+3)
		args = append(args, q.After.Since, q.After.App, int32(q.After.Record))
	}
	page += ` ORDER BY stage_entered_at, application_id, record`
	if q.Limit > 0 {
		page += ` LIMIT ` + strconv.Itoa(q.Limit)
	}
	// Planned for its arguments each time (an unnamed statement): a generic
	// plan would serve one person's few cases and a region's thousands
	// alike.
	args = append([]any{pgx.QueryExecModeExec}, args...)
	rows, err := s.pool.Query(ctx, `WITH cases AS (`+cases+`), page AS (`+page+`)
		SELECT p.application_id::text, p.region, coalesce(p.campaign_id::text, ''), p.role, p.stage, p.stage_entered_at, p.record,
			p.assignee, s.kind, s.stage, s.since, s.warning_at, s.breach_at, s.blocked_reason, s.next_actor, s.assignee
		FROM page p LEFT JOIN (SELECT * FROM stuck WHERE region = ANY($1)) s USING (application_id)
		ORDER BY p.stage_entered_at, p.application_id, p.record, s.kind`, args...)
	if err != nil {
		return nil, fmt.Errorf("read open cases: %w", err)
	}
	out, err := scanCases(rows)
	if err != nil {
		return nil, fmt.Errorf("read open cases: %w", err)
	}
	return out, nil
}

// scanCases reads a case per run of rows, one row per clock of its
// application (or one with no clock), keeping the clocks that are the
// case's record's.
func scanCases(rows pgx.Rows) ([]report.CaseRow, error) {
	defer rows.Close()
	var out []report.CaseRow
	for rows.Next() {
		var c report.CaseRow
		var role, stage, record int32
		var kind, clockStage, reason, actor *int32
		var since, warning, breach *time.Time
		var assignee *string
		if err := rows.Scan(&c.ApplicationID, &c.Region, &c.CampaignID, &role, &stage, &c.Since, &record, &c.Assignee,
			&kind, &clockStage, &since, &warning, &breach, &reason, &actor, &assignee); err != nil {
			return nil, err
		}
		c.Role, c.Stage, c.Record, c.Since = commonv1.JobRole(role), commonv1.Stage(stage), projection.Record(record), c.Since.UTC()
		if n := len(out); n == 0 || out[n-1].ApplicationID != c.ApplicationID || out[n-1].Record != c.Record {
			out = append(out, c)
		}
		if kind == nil {
			continue
		}
		clk := projection.Clock{Kind: projection.StuckKind(*kind), Stage: commonv1.Stage(*clockStage), Since: since.UTC(),
			WarningAt: warning.UTC(), BreachAt: breach.UTC(), BlockedReason: commonv1.BlockReason(*reason),
			NextActor: projection.NextActor(*actor), Assignee: *assignee}
		if last := &out[len(out)-1]; clk.Record() == last.Record {
			last.Clocks = append(last.Clocks, clk)
		}
	}
	return out, rows.Err()
}
