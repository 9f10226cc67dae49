-- Approved early starts (issue 16): the approver's subject is approved_by
-- (no longer typed by the SPOC), approved at start_approved_at.
ALTER TABLE offers ADD COLUMN start_approved_at timestamptz;
-- An approval typed as free text before this migration, for a start not yet
-- confirmed, is taken back: an approver must approve it (ApproveEarlyStart).
-- Started records keep theirs as history.
UPDATE offers SET approved_by = '' WHERE status = 'ACCEPTED' AND approved_by <> '';
-- A region's policy for starts before vetting clears; no row: early starts off.
-- ConfirmStart locks the region's row (FOR UPDATE) before it counts the
-- region's early starts, so concurrent starts in a region are counted one
-- after the other.
CREATE TABLE early_start_policies (
    region     text PRIMARY KEY,
    enabled    boolean NOT NULL,
    cap        int NOT NULL CHECK (cap >= 0),
    version    bigint NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL
);
-- The cap's count: a region's candidates started subject to vetting.
CREATE INDEX offers_early_starts ON offers (region)
    WHERE status = 'STARTED' AND subject_to_vetting AND NOT vetting_cleared;

---- create above / drop below ----

DROP INDEX offers_early_starts;
DROP TABLE early_start_policies;
ALTER TABLE offers DROP COLUMN start_approved_at;
