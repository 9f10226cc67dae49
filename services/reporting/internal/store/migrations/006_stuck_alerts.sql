-- What has been announced of each stuck clock (projection.Alert), and when
-- its next crossing is due: the scheduler (internal/alerts) sleeps until
-- the earliest due_at and publishes stuck.warning / stuck.breach through
-- the outbox; a batch that changes a clock writes its crossings itself.
-- Kept apart from `stuck`, which the fold rewrites and a rebuild must
-- reproduce exactly: what was announced depends on when, not on events.
CREATE TABLE stuck_alerts (
    application_id uuid NOT NULL,
    kind           int NOT NULL,
    -- How many times this application's clock of this rule has started;
    -- part of every event id, so a clock started again announces anew.
    generation     bigint NOT NULL,
    stage          int NOT NULL,
    -- NULL once the clock has stopped.
    since          timestamptz,
    -- The highest level announced: 0 none, 1 warning, 2 breach.
    level          int NOT NULL,
    -- The next crossing; NULL when none is pending.
    due_at         timestamptz,
    PRIMARY KEY (application_id, kind)
);
CREATE INDEX stuck_alerts_due ON stuck_alerts (due_at) WHERE due_at IS NOT NULL;

-- Clocks already running when this first deploys: what they have crossed
-- by now counts as announced (no flood of old warnings on the first
-- start); what they will cross is pending.
INSERT INTO stuck_alerts (application_id, kind, generation, stage, since, level, due_at)
SELECT application_id, kind, 1, stage, since,
    CASE WHEN breach_at <= now() THEN 2 WHEN warning_at <= now() THEN 1 ELSE 0 END,
    CASE WHEN breach_at <= now() THEN NULL WHEN warning_at <= now() THEN breach_at ELSE warning_at END
FROM stuck WHERE region <> '';

---- create above / drop below ----

DROP TABLE stuck_alerts;
