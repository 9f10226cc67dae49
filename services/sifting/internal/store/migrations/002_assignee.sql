-- The case's named owner: a staff subject id, '' when unassigned.
ALTER TABLE cases ADD COLUMN assignee text NOT NULL DEFAULT '';
-- ListMyCases: an assignee's open cases, oldest in their stage first (a
-- sift case's state is its stage, so its state clock is its stage clock).
CREATE INDEX cases_assignee ON cases (assignee, state_entered_at, application_id)
    WHERE assignee <> '' AND state IN ('AWAITING_SIFT', 'AWAITING_INTERVIEW');

---- create above / drop below ----

DROP INDEX cases_assignee;
ALTER TABLE cases DROP COLUMN assignee;
