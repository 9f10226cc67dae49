CREATE TABLE offers (
    application_id     uuid PRIMARY KEY,
    campaign_id        uuid NOT NULL,
    region             text NOT NULL,
    role               int NOT NULL,
    status             text NOT NULL CHECK (status IN ('AWAITING_OFFER', 'MADE', 'ACCEPTED', 'DECLINED', 'WITHDRAWN', 'STARTED')),
    salary_band        text NOT NULL DEFAULT '',
    conditions         int[] NOT NULL DEFAULT '{}',
    start_date         date,
    vetting_cleared    boolean NOT NULL DEFAULT false,
    subject_to_vetting boolean NOT NULL DEFAULT false,
    approved_by        text NOT NULL DEFAULT '',
    vetting_due_by     date,
    reason_code        text NOT NULL DEFAULT '',
    status_entered_at  timestamptz NOT NULL,
    version            bigint NOT NULL
);
-- ListOffers: a region's offers, optionally of one status, oldest in status first.
CREATE INDEX offers_region_status ON offers (region, status, status_entered_at, application_id);
CREATE INDEX offers_region ON offers (region, status_entered_at, application_id);

---- create above / drop below ----

DROP TABLE offers;
