-- An imported application's history reaches reporting in pieces (each
-- stage's owner replays its part), so an old delay in it looks like a new
-- crossing until the next piece stops its clock. apps.imported marks the
-- applications whose crossings found by a batch wait (stuck_alerts.
-- settles_at) until the history has settled; the scheduler judges them
-- then (docs/design.md, "Stuck events"). Records folded before this
-- learned their history long ago: false is right for what is still to
-- come of them, so no rebuild is needed.
ALTER TABLE apps ADD COLUMN imported boolean NOT NULL DEFAULT false;
-- While set, the crossing reached is held; due_at is no earlier.
ALTER TABLE stuck_alerts ADD COLUMN settles_at timestamptz;

---- create above / drop below ----

ALTER TABLE stuck_alerts DROP COLUMN settles_at;
ALTER TABLE apps DROP COLUMN imported;
