-- Campaigns in several regions, with posts per region, and a status
-- (issue 16). campaigns.region stays the lead region (the subject of the
-- campaign's events) and campaigns.posts the total; a campaign of before
-- is a campaign with one region.
CREATE TABLE campaign_regions (
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    -- The campaign's order of regions, the lead region 0.
    ord         int NOT NULL,
    region      text NOT NULL,
    posts       int NOT NULL CHECK (posts > 0),
    PRIMARY KEY (campaign_id, region)
);
-- ListCampaigns: a region's campaigns newest first.
CREATE INDEX campaign_regions_region ON campaign_regions (region, campaign_id DESC);

INSERT INTO campaign_regions (campaign_id, ord, region, posts) SELECT id, 0, region, posts FROM campaigns;

ALTER TABLE campaigns
    ADD COLUMN status text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'CLOSED', 'CANCELLED')),
    ADD COLUMN status_reason text NOT NULL DEFAULT '';

---- create above / drop below ----

ALTER TABLE campaigns DROP COLUMN status_reason, DROP COLUMN status;
DROP TABLE campaign_regions;
