-- Point in time (issue 16): a report as of a past time derives each record
-- as it stood then (projection.App.AsOf). Its milestones are in apps; the
-- details that change over time (the interview booked, the start date, the
-- vetting case's block, the assignees) keep only their latest value there,
-- so every change to them is kept here, one row per producer version.
CREATE TABLE app_changes (
    application_id     uuid NOT NULL,
    field              int NOT NULL,
    version            bigint NOT NULL,
    occurred_at        timestamptz NOT NULL,
    interview_at       timestamptz,
    start_date         date,
    subject_to_vetting boolean NOT NULL DEFAULT false,
    vetting_due_by     date,
    blocked            boolean NOT NULL DEFAULT false,
    blocked_reason     int NOT NULL DEFAULT 0,
    assignee           text NOT NULL DEFAULT '',
    PRIMARY KEY (application_id, field, version)
);

-- The latest occurred_at of the events folded into a region: a report as
-- of that time or later is answered from the live aggregates (nothing had
-- yet to happen), an earlier one from the records as they stood. A
-- projection folded before this column knew nothing later than now.
ALTER TABLE region_versions ADD COLUMN latest_event_at timestamptz;
UPDATE region_versions SET latest_event_at = now();

-- Records folded before this migration have no changes kept: as of a past
-- time their details are today's until `reporting rebuild` replays the
-- stream (their milestones are right either way).
INSERT INTO rebuild_needed (reason)
SELECT 'point in time: records folded before app_changes existed report today''s blocks, start dates and assignees at a past as_of'
WHERE EXISTS (SELECT 1 FROM apps);

---- create above / drop below ----

DELETE FROM rebuild_needed WHERE reason LIKE 'point in time:%';
ALTER TABLE region_versions DROP COLUMN latest_event_at;
DROP TABLE app_changes;
