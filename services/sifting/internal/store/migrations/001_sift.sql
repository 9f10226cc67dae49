CREATE TABLE cases (
    application_id   uuid PRIMARY KEY,
    campaign_id      uuid NOT NULL,
    region           text NOT NULL,
    role             int NOT NULL,
    state            text NOT NULL CHECK (state IN ('AWAITING_SIFT', 'SIFT_FAILED', 'AWAITING_INTERVIEW', 'INTERVIEW_PASSED', 'INTERVIEW_FAILED', 'WITHDRAWN')),
    submitted_at     timestamptz NOT NULL,
    state_entered_at timestamptz NOT NULL,
    interview_at     timestamptz,
    score            int CHECK (score BETWEEN 0 AND 100),
    reason_code      text NOT NULL DEFAULT '',
    version          bigint NOT NULL
);
-- Work queues: open cases of a region by state, oldest first.
CREATE INDEX cases_queue ON cases (region, state, state_entered_at, application_id)
    WHERE state IN ('AWAITING_SIFT', 'AWAITING_INTERVIEW');
CREATE INDEX cases_campaign_queue ON cases (campaign_id, state, state_entered_at, application_id)
    WHERE state IN ('AWAITING_SIFT', 'AWAITING_INTERVIEW');

---- create above / drop below ----

DROP TABLE cases;
