-- A person's open cases and a region's workload (issue 15) read apps by
-- region and the assignee of each stage record. Assignees change rarely
-- and regions never, so these indexes leave a batch's usual updates HOT
-- (003_write_cost.sql); an index on the stage or its time would not.
CREATE INDEX apps_sift_assignee ON apps (region, sift_assignee);
CREATE INDEX apps_offer_assignee ON apps (region, offer_assignee);
CREATE INDEX apps_vetting_assignee ON apps (region, vetting_assignee);

---- create above / drop below ----

DROP INDEX apps_vetting_assignee;
DROP INDEX apps_offer_assignee;
DROP INDEX apps_sift_assignee;
