-- Campaign titles, for the stuck list (issue 15): a title is a campaign's
-- name, not personal data. Kept apart from campaigns, from
-- campaign.created and campaign.updated, the latest version winning.
CREATE TABLE campaign_titles (
    campaign_id uuid PRIMARY KEY,
    title       text NOT NULL,
    version     bigint NOT NULL
);

-- Campaigns folded before this migration have no title until a
-- campaign.updated or `reporting rebuild` (see 004's rebuild_needed).
INSERT INTO rebuild_needed (reason)
SELECT 'migration 007: campaigns folded before it lack their titles'
WHERE EXISTS (SELECT 1 FROM campaigns);

---- create above / drop below ----

DELETE FROM rebuild_needed WHERE reason LIKE 'migration 007:%';
DROP TABLE campaign_titles;
