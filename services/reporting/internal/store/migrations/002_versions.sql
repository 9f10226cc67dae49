-- What the reports' in-process cache (internal/report) needs to stay
-- exact: which regions and campaigns each batch changed, and when.

-- A campaign's histogram rows together, so that a changed campaign's rows
-- are read back with one index range (and a campaign filter reads only its
-- own). Same columns, same rows; only the key's order changes.
ALTER TABLE durations DROP CONSTRAINT durations_pkey,
    ADD PRIMARY KEY (region, campaign_id, measure, end_date, role, days, working_days);

-- Versions come from one sequence, drawn under the projection's lock, so
-- a larger version is a later commit.
CREATE SEQUENCE projection_version;

-- The version of the last transaction that changed a region's counters,
-- histograms or stuck clocks.
CREATE TABLE region_versions (
    region  text PRIMARY KEY,
    version bigint NOT NULL
);

-- The version of the last transaction that changed a campaign's counters
-- or histograms.
CREATE TABLE campaign_versions (
    campaign_id uuid PRIMARY KEY,
    region      text NOT NULL,
    version     bigint NOT NULL
);
CREATE INDEX campaign_versions_changed ON campaign_versions (region, version);

-- Identifies this projection: a rebuild swaps in a schema with another
-- epoch (and versions counted from 1 again), so a cache keyed by version
-- never mistakes the new projection for the old.
CREATE TABLE projection_epoch (
    epoch uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO projection_epoch DEFAULT VALUES;

-- A projection built before this migration: everything it holds is
-- version 1.
INSERT INTO campaign_versions (campaign_id, region, version)
    SELECT DISTINCT ON (campaign_id) campaign_id, region, 1 FROM counts ORDER BY campaign_id;
INSERT INTO region_versions (region, version)
    SELECT region, 1 FROM counts UNION SELECT region, 1 FROM stuck;
SELECT setval('projection_version', 1);

---- create above / drop below ----

DROP TABLE projection_epoch;
DROP TABLE campaign_versions;
DROP TABLE region_versions;
DROP SEQUENCE projection_version;
ALTER TABLE durations DROP CONSTRAINT durations_pkey,
    ADD PRIMARY KEY (region, measure, end_date, campaign_id, role, days, working_days);
