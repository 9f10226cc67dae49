-- The record's named owner: a staff subject id, '' when unassigned.
ALTER TABLE offers ADD COLUMN assignee text NOT NULL DEFAULT '';
-- When the record entered its stage: OFFER (AWAITING_OFFER and MADE) from
-- interview.passed, the record's first history entry; PRE_EMPLOYMENT
-- (ACCEPTED) and the closed statuses from their status. A record left
-- closed by a withdrawal that overtook interview.passed has no history.
ALTER TABLE offers ADD COLUMN stage_entered_at timestamptz;
UPDATE offers o SET stage_entered_at = CASE WHEN o.status = 'MADE'
    THEN coalesce((SELECT h.occurred_at FROM history h WHERE h.record_id = o.application_id ORDER BY h.version LIMIT 1), o.status_entered_at)
    ELSE o.status_entered_at END;
ALTER TABLE offers ALTER COLUMN stage_entered_at SET NOT NULL;
-- ListMyCases: an assignee's open records, oldest in their stage first.
CREATE INDEX offers_assignee ON offers (assignee, stage_entered_at, application_id)
    WHERE assignee <> '' AND status IN ('AWAITING_OFFER', 'MADE', 'ACCEPTED');

---- create above / drop below ----

DROP INDEX offers_assignee;
ALTER TABLE offers DROP COLUMN stage_entered_at;
ALTER TABLE offers DROP COLUMN assignee;
