-- Pre-employment checks (docs/design.md, Pre-employment checks): each
-- offer's checks with their status (projection.CheckState, a JSON array),
-- from offer.made and offer.check_recorded.
ALTER TABLE apps ADD COLUMN checks jsonb NOT NULL DEFAULT '[]';
-- ListOutstandingChecks: a region's check-outstanding clocks (kind 4),
-- oldest offer first.
CREATE INDEX stuck_checks ON stuck (region, since, application_id) WHERE kind = 4;
-- Records folded before this migration need no rebuild: the offer.made
-- events they folded carry no checks (the field came with this change).

---- create above / drop below ----

DROP INDEX stuck_checks;
ALTER TABLE apps DROP COLUMN checks;
