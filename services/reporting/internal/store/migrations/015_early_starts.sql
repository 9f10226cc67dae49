-- Each region's early start policy as offers last published it
-- (offer.early_start_policy_set, the latest version winning). No row: off.
CREATE TABLE early_start_policies (
    region  text PRIMARY KEY,
    enabled boolean NOT NULL,
    cap     int NOT NULL,
    version bigint NOT NULL
);
-- GetEarlyStarts: a region's candidates started subject to vetting (stage
-- HIRED = 5) whose vetting has not cleared.
CREATE INDEX apps_early_starts ON apps (region, vetting_due_by)
    WHERE subject_to_vetting AND stage = 5 AND vetting_cleared_at IS NULL;

---- create above / drop below ----

DROP INDEX apps_early_starts;
DROP TABLE early_start_policies;
