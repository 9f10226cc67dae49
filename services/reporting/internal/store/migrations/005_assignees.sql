-- The named owner of each stage record (issue 15), latest by its
-- producer's version: the sift case, the offer and the vetting case.
ALTER TABLE apps ADD COLUMN sift_assignee text NOT NULL DEFAULT '',
    ADD COLUMN sift_assignee_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN offer_assignee text NOT NULL DEFAULT '',
    ADD COLUMN offer_assignee_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN vetting_assignee text NOT NULL DEFAULT '',
    ADD COLUMN vetting_assignee_version bigint NOT NULL DEFAULT 0;

-- Each stuck clock's assignee (projection.Clock.Assignee).
ALTER TABLE stuck ADD COLUMN assignee text NOT NULL DEFAULT '';

-- vetting.assigned events were consumed, and ignored, before this
-- migration: a projection that holds records lacks their assignees until
-- `reporting rebuild` replays the stream.
INSERT INTO rebuild_needed (reason)
SELECT 'migration 005: records folded before it lack the assignees of their vetting cases'
WHERE EXISTS (SELECT 1 FROM apps);

---- create above / drop below ----

DELETE FROM rebuild_needed WHERE reason LIKE 'migration 005:%';
ALTER TABLE stuck DROP COLUMN assignee;
ALTER TABLE apps DROP COLUMN vetting_assignee_version, DROP COLUMN vetting_assignee,
    DROP COLUMN offer_assignee_version, DROP COLUMN offer_assignee,
    DROP COLUMN sift_assignee_version, DROP COLUMN sift_assignee;
