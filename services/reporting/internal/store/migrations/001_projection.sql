-- One row per application: the fold of its events (internal/projection).
CREATE TABLE apps (
    application_id      uuid PRIMARY KEY,
    region              text NOT NULL,
    campaign_id         uuid,
    role                int NOT NULL,
    submitted_at        timestamptz,
    sift_passed_at      timestamptz,
    interview_passed_at timestamptz,
    offer_made_at       timestamptz,
    offer_accepted_at   timestamptz,
    vetting_cleared_at  timestamptz,
    started_at          timestamptz,
    rejected_at         timestamptz,
    rejected_stage      int NOT NULL DEFAULT 0,
    withdrawn_at        timestamptz,
    start_date          date,
    subject_to_vetting  boolean NOT NULL DEFAULT false,
    vetting_due_by      date,
    offers_version      bigint NOT NULL DEFAULT 0,
    vetting_blocked     boolean NOT NULL DEFAULT false,
    blocked_reason      int NOT NULL DEFAULT 0,
    blocked_since       timestamptz,
    vetting_version     bigint NOT NULL DEFAULT 0,
    -- Derived from the above, for reading.
    stage               int NOT NULL DEFAULT 0,
    stage_entered_at    timestamptz
);
-- A campaign's closing date changing re-measures its applications.
CREATE INDEX apps_campaign ON apps (campaign_id);

CREATE TABLE campaigns (
    campaign_id uuid PRIMARY KEY,
    region      text NOT NULL,
    role        int NOT NULL,
    opens_on    date NOT NULL,
    closes_on   date,
    posts       int NOT NULL,
    version     bigint NOT NULL
);

-- Funnel and stage counters per region and campaign: applications that
-- reached a stage, are in it now, were rejected or withdrawn in it.
CREATE TABLE counts (
    region      text NOT NULL,
    campaign_id uuid NOT NULL,
    kind        text NOT NULL,
    stage       int NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (region, campaign_id, kind, stage)
);

-- Histograms of durations: how many applications completed a measure on
-- end_date after days calendar and working_days working days.
CREATE TABLE durations (
    region       text NOT NULL,
    measure      int NOT NULL,
    end_date     date NOT NULL,
    campaign_id  uuid NOT NULL,
    role         int NOT NULL,
    days         int NOT NULL,
    working_days int NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (region, measure, end_date, campaign_id, role, days, working_days)
);

-- Stuck clocks (projection.Clock): stuck from warning_at, a breach from
-- breach_at. Reports ask "which clocks have passed as_of?".
CREATE TABLE stuck (
    application_id uuid NOT NULL,
    kind           int NOT NULL,
    region         text NOT NULL,
    campaign_id    uuid,
    role           int NOT NULL,
    stage          int NOT NULL,
    since          timestamptz NOT NULL,
    warning_at     timestamptz NOT NULL,
    breach_at      timestamptz NOT NULL,
    blocked_reason int NOT NULL,
    next_actor     int NOT NULL,
    PRIMARY KEY (application_id, kind)
);
CREATE INDEX stuck_warning ON stuck (region, warning_at, application_id, kind);
CREATE INDEX stuck_breach ON stuck (region, breach_at, application_id, kind);

-- Per-region thresholds; a region without a row uses the defaults.
CREATE TABLE thresholds (
    region  text PRIMARY KEY,
    limits  jsonb NOT NULL,
    version bigint NOT NULL
);

-- Wake WatchRegion streams when a batch changes a region.
CREATE FUNCTION notify_region(region text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_notify(current_schema() || '_regions', region);
$$;

---- create above / drop below ----

DROP FUNCTION notify_region(text);
DROP TABLE thresholds;
DROP TABLE stuck;
DROP TABLE durations;
DROP TABLE counts;
DROP TABLE campaigns;
DROP TABLE apps;
