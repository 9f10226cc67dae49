CREATE TABLE campaigns (
    id         uuid PRIMARY KEY,
    region     text NOT NULL,
    role       text NOT NULL,
    title      text NOT NULL,
    posts      int NOT NULL CHECK (posts > 0),
    opens_on   date NOT NULL,
    -- NULL for a rolling campaign.
    closes_on  date CHECK (closes_on >= opens_on),
    version    bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by text NOT NULL
);
-- Newest first within a region (ids are UUIDv7, so they sort by creation).
CREATE INDEX campaigns_region ON campaigns (region, id DESC);

CREATE TABLE applications (
    id                uuid PRIMARY KEY,
    campaign_id       uuid NOT NULL REFERENCES campaigns (id),
    region            text NOT NULL,
    role              text NOT NULL,
    candidate_name    text NOT NULL,
    candidate_email   text NOT NULL,
    candidate_phone   text NOT NULL DEFAULT '',
    stage             text NOT NULL CHECK (stage IN ('SIFT', 'INTERVIEW', 'OFFER', 'PRE_EMPLOYMENT', 'HIRED', 'REJECTED', 'WITHDRAWN')),
    stage_entered_at  timestamptz NOT NULL,
    version           bigint NOT NULL,
    submitted_at      timestamptz NOT NULL,
    submitted_by      text NOT NULL,
    withdrawn_at      timestamptz,
    withdrawal_reason text NOT NULL DEFAULT ''
);
-- One application per candidate email per campaign.
CREATE UNIQUE INDEX applications_campaign_email ON applications (campaign_id, lower(candidate_email));
-- ListApplications: oldest first, by region, campaign or stage.
CREATE INDEX applications_region ON applications (region, id);
CREATE INDEX applications_campaign ON applications (campaign_id, id);
CREATE INDEX applications_region_stage ON applications (region, stage, id);

---- create above / drop below ----

DROP TABLE applications;
DROP TABLE campaigns;
