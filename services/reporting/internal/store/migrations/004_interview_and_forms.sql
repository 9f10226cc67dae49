-- Facts the stuck rules need (issue 15): the booked interview, from which
-- an INTERVIEW clock runs, and when vetting forms arrived, from which a
-- PRE_EMPLOYMENT case is the vetting contact point's.
ALTER TABLE apps ADD COLUMN interview_at timestamptz,
    ADD COLUMN interview_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN vetting_forms_received_at timestamptz;

-- Records folded before this migration lack those facts (and their clocks
-- follow the old rules) until `reporting rebuild` replays the stream. A
-- projection that already holds records says so here; the service warns
-- at start while a row is present. A rebuild migrates an empty schema, so
-- the rebuilt projection has none.
CREATE TABLE rebuild_needed (
    reason text PRIMARY KEY
);
INSERT INTO rebuild_needed (reason)
SELECT 'migration 004: records folded before it lack interview dates and vetting forms received'
WHERE EXISTS (SELECT 1 FROM apps);

---- create above / drop below ----

DROP TABLE rebuild_needed;
ALTER TABLE apps DROP COLUMN vetting_forms_received_at, DROP COLUMN interview_version, DROP COLUMN interview_at;
