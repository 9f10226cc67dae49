-- Where each application came from (pkg/reason Source: jobs_site,
-- social_media, referral, job_centre, university, agency, internal,
-- other[:code]), from SubmitApplication and the import. Applications from
-- before this migration have none ('') and report as "unknown".
ALTER TABLE applications
    ADD COLUMN source text NOT NULL DEFAULT '';

---- create above / drop below ----

ALTER TABLE applications
    DROP COLUMN source;
