-- Erasure (EraseCandidate, the retention job): an erased application keeps
-- its ids, stage, dates and codes, and loses the candidate's name, email
-- and phone (NULL). NULL emails leave the one-application-per-email index,
-- so an erased candidate may apply again.
ALTER TABLE applications
    ALTER COLUMN candidate_name DROP NOT NULL,
    ALTER COLUMN candidate_email DROP NOT NULL,
    ALTER COLUMN candidate_phone DROP NOT NULL,
    ADD COLUMN erased_at timestamptz,
    ADD COLUMN erasure_reason text NOT NULL DEFAULT '',
    ADD CONSTRAINT applications_candidate_present CHECK (erased_at IS NOT NULL
        OR (candidate_name IS NOT NULL AND candidate_email IS NOT NULL AND candidate_phone IS NOT NULL)),
    ADD CONSTRAINT applications_candidate_erased CHECK (erased_at IS NULL
        OR (candidate_name IS NULL AND candidate_email IS NULL AND candidate_phone IS NULL));
-- The retention job: applications with an outcome, not yet erased, by
-- when the outcome came.
CREATE INDEX applications_retention ON applications (stage, stage_entered_at)
    WHERE erased_at IS NULL AND stage IN ('REJECTED', 'WITHDRAWN', 'HIRED');

---- create above / drop below ----

DROP INDEX applications_retention;
-- Erased rows cannot go back to NOT NULL columns.
DELETE FROM applications WHERE erased_at IS NOT NULL;
ALTER TABLE applications
    DROP CONSTRAINT applications_candidate_erased,
    DROP CONSTRAINT applications_candidate_present,
    DROP COLUMN erasure_reason,
    DROP COLUMN erased_at,
    ALTER COLUMN candidate_phone SET NOT NULL,
    ALTER COLUMN candidate_email SET NOT NULL,
    ALTER COLUMN candidate_name SET NOT NULL;
