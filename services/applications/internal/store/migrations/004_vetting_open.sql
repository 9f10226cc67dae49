-- Whether the application's vetting case is open (GetCandidateContact: the
-- region's vetting contact points read the candidate's contact only then),
-- kept from the vetting service's vetting.opened, vetting.cleared and
-- vetting.failed. vetting_version is the case's aggregate_version of the
-- last of those applied, so one that arrives late changes nothing.
-- Cases opened before this migration read as not open until their next
-- such event: the flag errs towards refusing.
ALTER TABLE applications
    ADD COLUMN vetting_open boolean NOT NULL DEFAULT false,
    ADD COLUMN vetting_version bigint NOT NULL DEFAULT 0;

---- create above / drop below ----

ALTER TABLE applications
    DROP COLUMN vetting_version,
    DROP COLUMN vetting_open;
