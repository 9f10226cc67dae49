-- The audit trail of personal data (pkg/audit): one row per call that read
-- or changed a candidate's personal data, or tried to, after the caller was
-- authenticated. Never a request or response body.
CREATE TABLE audit_event (
    -- UUIDv7: time-ordered, and the page key beside occurred_at.
    id          uuid PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    -- The token's subject and role, and the regions it listed.
    subject     text NOT NULL,
    role        text NOT NULL,
    regions     text[] NOT NULL,
    -- The full gRPC method, e.g. /recruitment.applications.v1.ApplicationsService/GetApplication.
    method      text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('read', 'change')),
    -- The application ids the call named or returned.
    record_ids  text[] NOT NULL,
    -- The call's gRPC status code name, e.g. OK, PERMISSION_DENIED.
    outcome     text NOT NULL
);

-- ListAuditEvents pages by (occurred_at, id); retention deletes by occurred_at.
CREATE INDEX audit_event_time ON audit_event (occurred_at, id);
CREATE INDEX audit_event_subject ON audit_event (subject, occurred_at, id);
CREATE INDEX audit_event_records ON audit_event USING gin (record_ids);

---- create above / drop below ----

DROP TABLE audit_event;
