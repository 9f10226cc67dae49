-- The pre-employment checks recorded on an offer (offer.Check), as a JSON
-- array of {condition, status, waive_reason, recorded_by, recorded_at}; a
-- check never recorded is outstanding and has no entry.
ALTER TABLE offers ADD COLUMN checks jsonb NOT NULL DEFAULT '[]';

---- create above / drop below ----

ALTER TABLE offers DROP COLUMN checks;
