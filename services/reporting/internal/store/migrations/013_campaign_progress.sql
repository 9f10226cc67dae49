-- Campaign progress (issue 16): each campaign's regions with their posts,
-- and its status, from campaign.created, campaign.updated and
-- campaign.status_changed. A campaign folded before this is in its one
-- region (campaigns.region) with its posts, and open, until its next event.
CREATE TABLE campaign_regions (
    campaign_id uuid NOT NULL,
    -- The campaign's order, the lead region 0.
    ord         int NOT NULL,
    region      text NOT NULL,
    posts       int NOT NULL,
    PRIMARY KEY (campaign_id, region)
);
-- ListCampaignProgress: a region's campaigns, newest first.
CREATE INDEX campaign_regions_region ON campaign_regions (region, campaign_id DESC);
INSERT INTO campaign_regions (campaign_id, ord, region, posts) SELECT campaign_id, 0, region, posts FROM campaigns;

-- recruitment.common.v1.CampaignStatus: 1 open, 2 closed, 3 cancelled.
ALTER TABLE campaigns ADD COLUMN status int NOT NULL DEFAULT 1;

---- create above / drop below ----

ALTER TABLE campaigns DROP COLUMN status;
DROP TABLE campaign_regions;
