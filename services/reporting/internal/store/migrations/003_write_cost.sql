-- Cheaper batches. Every batch updates rows of apps, counts and durations
-- in place; with room left on each page PostgreSQL can write the new
-- version beside the old without touching the indexes (a HOT update: none
-- of the updated columns is indexed, or its value is unchanged). Applies
-- to pages written from now on; a rebuild writes every page afresh.
ALTER TABLE apps SET (fillfactor = 80);
ALTER TABLE counts SET (fillfactor = 70);
ALTER TABLE durations SET (fillfactor = 70);

-- The stuck list is read from memory (internal/report) by warning time;
-- nothing reads clocks by breach time any more.
DROP INDEX stuck_breach;

---- create above / drop below ----

CREATE INDEX stuck_breach ON stuck (region, breach_at, application_id, kind);
ALTER TABLE durations RESET (fillfactor);
ALTER TABLE counts RESET (fillfactor);
ALTER TABLE apps RESET (fillfactor);
