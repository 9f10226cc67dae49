package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

const appColumns = `application_id, region, campaign_id, role, submitted_at, sift_passed_at, interview_passed_at,
	offer_made_at, offer_accepted_at, vetting_cleared_at, started_at, rejected_at, rejected_stage, withdrawn_at,
	start_date, subject_to_vetting, vetting_due_by, offers_version, vetting_blocked, blocked_reason, blocked_since,
	vetting_version, stage, stage_entered_at, interview_at, interview_version, vetting_forms_received_at,
	sift_assignee, sift_assignee_version, offer_assignee, offer_assignee_version, vetting_assignee, vetting_assignee_version,
	imported, vetting_opened_at, vetting_steps, checks, rejected_reason, withdrawn_by, withdrawn_reason, source`

// loadAppsSQL reads stored records. No row locks: every writer of the
// projection holds its advisory lock (lockProjection) already.
const loadAppsSQL = selectApps + ` WHERE application_id = ANY($1::uuid[])`

// selectApps reads records as scanApps scans them.
const selectApps = `SELECT application_id::text, region, coalesce(campaign_id::text, ''), role, submitted_at,
	sift_passed_at, interview_passed_at, offer_made_at, offer_accepted_at, vetting_cleared_at, started_at, rejected_at,
	rejected_stage, withdrawn_at, start_date, subject_to_vetting, vetting_due_by, offers_version, vetting_blocked,
	blocked_reason, blocked_since, vetting_version, interview_at, interview_version, vetting_forms_received_at,
	sift_assignee, sift_assignee_version, offer_assignee, offer_assignee_version, vetting_assignee, vetting_assignee_version,
	imported, vetting_opened_at, vetting_steps, checks, rejected_reason, withdrawn_by, withdrawn_reason, source FROM apps`

func scanApps(rows pgx.Rows, n int) (map[string]*projection.App, error) {
	defer rows.Close()
	out := make(map[string]*projection.App, n)
	for rows.Next() {
		a := &projection.App{}
		var role, rejectedStage, blockedReason, withdrawnBy int32
		var steps, checks []byte
		if err := rows.Scan(&a.ID, &a.Region, &a.CampaignID, &role, &a.SubmittedAt, &a.SiftPassedAt, &a.InterviewPassedAt,
			&a.OfferMadeAt, &a.OfferAcceptedAt, &a.VettingClearedAt, &a.StartedAt, &a.RejectedAt, &rejectedStage,
			&a.WithdrawnAt, &a.StartDate, &a.SubjectToVetting, &a.VettingDueBy, &a.OffersVersion, &a.VettingBlocked,
			&blockedReason, &a.BlockedSince, &a.VettingVersion, &a.InterviewAt, &a.InterviewVersion, &a.VettingFormsReceivedAt,
			&a.SiftAssignee, &a.SiftAssigneeVersion, &a.OfferAssignee, &a.OfferAssigneeVersion, &a.VettingAssignee, &a.VettingAssigneeVersion,
			&a.Imported, &a.VettingOpenedAt, &steps, &checks, &a.RejectedReason, &withdrawnBy, &a.WithdrawnReason, &a.Source); err != nil {
			return nil, fmt.Errorf("read applications: %w", err)
		}
		a.Role, a.RejectedStage, a.BlockedReason = commonv1.JobRole(role), commonv1.Stage(rejectedStage), commonv1.BlockReason(blockedReason)
		a.WithdrawnBy = projection.WithdrawalKind(withdrawnBy)
		if err := json.Unmarshal(steps, &a.VettingSteps); err != nil {
			return nil, fmt.Errorf("read applications: vetting steps: %w", err)
		}
		if len(a.VettingSteps) == 0 {
			a.VettingSteps = nil
		}
		var err error
		if a.Checks, err = checksFromJSON(checks); err != nil {
			return nil, err
		}
		out[a.ID] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applications: %w", err)
	}
	return out, nil
}

// queueSaveApps queues the upsert of the records, in one statement.
func queueSaveApps(b *pgx.Batch, apps []*projection.App) error {
	n := len(apps)
	var (
		id, region, campaign                                                         = make([]string, n), make([]string, n), make([]string, n)
		role, rejectedStage, blockedReason, stage                                    = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
		submitted, siftPassed, interviewPassed, offerMade, offerAccepted, cleared    = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		started, rejected, withdrawn, startDate, dueBy, blockedSince, stageEnteredAt = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		subject, blocked, imported                                                   = make([]bool, n), make([]bool, n), make([]bool, n)
		offersVersion, vettingVersion                                                = make([]int64, n), make([]int64, n)
		interviewAt, formsReceived                                                   = make([]*time.Time, n), make([]*time.Time, n)
		interviewVersion                                                             = make([]int64, n)
		siftAssignee, offerAssignee, vettingAssignee                                 = make([]string, n), make([]string, n), make([]string, n)
		siftAssigneeV, offerAssigneeV, vettingAssigneeV                              = make([]int64, n), make([]int64, n), make([]int64, n)
		vettingOpened                                                                = make([]*time.Time, n)
		vettingSteps                                                                 = make([]string, n)
		checks                                                                       = make([][]byte, n)
		rejectedReason, withdrawnReason, source                                      = make([]string, n), make([]string, n), make([]string, n)
		withdrawnBy                                                                  = make([]int32, n)
	)
	for i, a := range apps {
		id[i], region[i], campaign[i] = a.ID, a.Region, a.CampaignID
		role[i], rejectedStage[i], blockedReason[i] = int32(a.Role), int32(a.RejectedStage), int32(a.BlockedReason)
		submitted[i], siftPassed[i], interviewPassed[i], offerMade[i], offerAccepted[i], cleared[i] =
			a.SubmittedAt, a.SiftPassedAt, a.InterviewPassedAt, a.OfferMadeAt, a.OfferAcceptedAt, a.VettingClearedAt
		started[i], rejected[i], withdrawn[i], startDate[i], dueBy[i], blockedSince[i] =
			a.StartedAt, a.RejectedAt, a.WithdrawnAt, a.StartDate, a.VettingDueBy, a.BlockedSince
		subject[i], blocked[i], offersVersion[i], vettingVersion[i] = a.SubjectToVetting, a.VettingBlocked, a.OffersVersion, a.VettingVersion
		interviewAt[i], interviewVersion[i], formsReceived[i] = a.InterviewAt, a.InterviewVersion, a.VettingFormsReceivedAt
		siftAssignee[i], offerAssignee[i], vettingAssignee[i] = a.SiftAssignee, a.OfferAssignee, a.VettingAssignee
		siftAssigneeV[i], offerAssigneeV[i], vettingAssigneeV[i] = a.SiftAssigneeVersion, a.OfferAssigneeVersion, a.VettingAssigneeVersion
		imported[i] = a.Imported
		rejectedReason[i], withdrawnBy[i], withdrawnReason[i], source[i] = a.RejectedReason, int32(a.WithdrawnBy), a.WithdrawnReason, a.Source
		vettingOpened[i] = a.VettingOpenedAt
		steps := a.VettingSteps
		if steps == nil {
			steps = []projection.VettingStep{}
		}
		js, err := json.Marshal(steps)
		if err != nil {
			return fmt.Errorf("store applications: vetting steps: %w", err)
		}
		vettingSteps[i] = string(js)
		if checks[i], err = checksToJSON(a.Checks); err != nil {
			return err
		}
		s, at := a.Stage()
		stage[i] = int32(s)
		if !at.IsZero() {
			stageEnteredAt[i] = &at
		}
	}
	ids, err := pg.UUIDs(id)
	if err != nil {
		return fmt.Errorf("store applications: %w", err)
	}
	campaignIDs, err := pg.UUIDs(campaign)
	if err != nil {
		return fmt.Errorf("store applications: %w", err)
	}
	queue(b, "store applications", `INSERT INTO apps (`+appColumns+`)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::timestamptz[], $6::timestamptz[],
			$7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
			$13::int[], $14::timestamptz[], $15::date[], $16::bool[], $17::date[], $18::bigint[], $19::bool[], $20::int[],
			$21::timestamptz[], $22::bigint[], $23::int[], $24::timestamptz[], $25::timestamptz[], $26::bigint[], $27::timestamptz[],
			$28::text[], $29::bigint[], $30::text[], $31::bigint[], $32::text[], $33::bigint[], $34::bool[],
			$35::timestamptz[], $36::jsonb[], $37::jsonb[], $38::text[], $39::int[], $40::text[], $41::text[])
		ON CONFLICT (application_id) DO UPDATE SET region = excluded.region, campaign_id = excluded.campaign_id,
			role = excluded.role, submitted_at = excluded.submitted_at, sift_passed_at = excluded.sift_passed_at,
			interview_passed_at = excluded.interview_passed_at, offer_made_at = excluded.offer_made_at,
			offer_accepted_at = excluded.offer_accepted_at, vetting_cleared_at = excluded.vetting_cleared_at,
			started_at = excluded.started_at, rejected_at = excluded.rejected_at, rejected_stage = excluded.rejected_stage,
			withdrawn_at = excluded.withdrawn_at, start_date = excluded.start_date,
			subject_to_vetting = excluded.subject_to_vetting, vetting_due_by = excluded.vetting_due_by,
			offers_version = excluded.offers_version, vetting_blocked = excluded.vetting_blocked,
			blocked_reason = excluded.blocked_reason, blocked_since = excluded.blocked_since,
			vetting_version = excluded.vetting_version, stage = excluded.stage, stage_entered_at = excluded.stage_entered_at,
			interview_at = excluded.interview_at, interview_version = excluded.interview_version,
			vetting_forms_received_at = excluded.vetting_forms_received_at,
			sift_assignee = excluded.sift_assignee, sift_assignee_version = excluded.sift_assignee_version,
			offer_assignee = excluded.offer_assignee, offer_assignee_version = excluded.offer_assignee_version,
			vetting_assignee = excluded.vetting_assignee, vetting_assignee_version = excluded.vetting_assignee_version,
			imported = excluded.imported, vetting_opened_at = excluded.vetting_opened_at,
			vetting_steps = excluded.vetting_steps, checks = excluded.checks, rejected_reason = excluded.rejected_reason,
			withdrawn_by = excluded.withdrawn_by, withdrawn_reason = excluded.withdrawn_reason, source = excluded.source`,
		ids, region, campaignIDs, role, submitted, siftPassed, interviewPassed, offerMade, offerAccepted, cleared, started,
		rejected, rejectedStage, withdrawn, startDate, subject, dueBy, offersVersion, blocked, blockedReason, blockedSince,
		vettingVersion, stage, stageEnteredAt, interviewAt, interviewVersion, formsReceived,
		siftAssignee, siftAssigneeV, offerAssignee, offerAssigneeV, vettingAssignee, vettingAssigneeV, imported,
		vettingOpened, vettingSteps, checks, rejectedReason, withdrawnBy, withdrawnReason, source)
	return nil
}
