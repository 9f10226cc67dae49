-- Imports (ImportApplications): the source system's references make a
-- re-run import nothing twice.
ALTER TABLE campaigns ADD COLUMN import_reference text UNIQUE;
ALTER TABLE applications ADD COLUMN import_reference text UNIQUE;
-- An imported withdrawal waiting for the application to reach the stage it
-- happened in (intake.Withdrawal).
ALTER TABLE applications
    ADD COLUMN pending_withdrawal_stage text,
    ADD COLUMN pending_withdrawal_at timestamptz,
    ADD COLUMN pending_withdrawal_reason text,
    ADD COLUMN pending_withdrawal_by text;

---- create above / drop below ----

ALTER TABLE applications
    DROP COLUMN pending_withdrawal_by,
    DROP COLUMN pending_withdrawal_reason,
    DROP COLUMN pending_withdrawal_at,
    DROP COLUMN pending_withdrawal_stage,
    DROP COLUMN import_reference;
ALTER TABLE campaigns DROP COLUMN import_reference;
