-- The case's named owner: a staff subject id, '' when unassigned.
ALTER TABLE cases ADD COLUMN assignee text NOT NULL DEFAULT '';
-- ListMyCases: an assignee's cases in progress, oldest in their status first.
CREATE INDEX cases_assignee ON cases (assignee, status_entered_at, application_id)
    WHERE assignee <> '' AND status IN ('OPEN', 'FORMS_RECEIVED', 'BLOCKED');

---- create above / drop below ----

DROP INDEX cases_assignee;
ALTER TABLE cases DROP COLUMN assignee;
