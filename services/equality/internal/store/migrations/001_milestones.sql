-- Each application's way through the pipeline, from the stage owners'
-- events: pseudonymous ids, region, campaign, times. The monitoring
-- answers are in answers (pkg/monitoring's migrations), joined only here,
-- inside the equality service.
CREATE TABLE milestones (
    application_id uuid PRIMARY KEY,
    region text NOT NULL DEFAULT '',
    campaign_id text NOT NULL DEFAULT '',
    submitted_at timestamptz,
    interview_at timestamptz,
    offer_at timestamptz,
    pre_employment_at timestamptz,
    hired_at timestamptz,
    ended_at timestamptz,
    vetting_opened_at timestamptz,
    blocked_since timestamptz,
    blocked_seconds double precision NOT NULL DEFAULT 0
);

CREATE INDEX milestones_submitted ON milestones (submitted_at);

---- create above / drop below ----

DROP TABLE milestones;
