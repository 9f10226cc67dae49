CREATE TABLE cases (
    application_id    uuid PRIMARY KEY,
    campaign_id       uuid NOT NULL,
    region            text NOT NULL,
    role              int NOT NULL,
    level             int NOT NULL,
    status            text NOT NULL CHECK (status IN ('OPEN', 'FORMS_RECEIVED', 'BLOCKED', 'CLEARED', 'FAILED', 'CLOSED')),
    opened_at         timestamptz NOT NULL,
    status_entered_at timestamptz NOT NULL,
    block_reason      int NOT NULL DEFAULT 0,
    -- Free text about a person: stays in this schema, never in an event.
    block_note        text NOT NULL DEFAULT '',
    blocked_since     timestamptz,
    resume_status     text NOT NULL DEFAULT '',
    reason_code       text NOT NULL DEFAULT '',
    version           bigint NOT NULL,
    CHECK ((status = 'BLOCKED') = (blocked_since IS NOT NULL))
);
-- The vetting contact point's work list: a region's blocked cases, longest blocked first.
CREATE INDEX cases_blocked ON cases (region, blocked_since, application_id) WHERE status = 'BLOCKED';
-- ListCases by region and status, oldest in status first.
CREATE INDEX cases_region_status ON cases (region, status, status_entered_at, application_id);
CREATE INDEX cases_region ON cases (region, status_entered_at, application_id);

---- create above / drop below ----

DROP TABLE cases;
