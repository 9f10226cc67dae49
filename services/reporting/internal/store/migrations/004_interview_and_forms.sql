-- Facts the stuck rules need (issue 15): the booked interview, from which
-- an INTERVIEW clock runs, and when vetting forms arrived, from which a
-- PRE_EMPLOYMENT case is the vetting contact point's. Records folded before
-- this migration lack them until `reporting rebuild` replays the stream
-- (docs/design.md, "Rebuild"); until then they keep the old rules.
ALTER TABLE apps ADD COLUMN interview_at timestamptz,
    ADD COLUMN interview_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN vetting_forms_received_at timestamptz;

---- create above / drop below ----

ALTER TABLE apps DROP COLUMN vetting_forms_received_at, DROP COLUMN interview_version, DROP COLUMN interview_at;
