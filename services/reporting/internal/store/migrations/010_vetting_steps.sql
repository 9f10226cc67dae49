-- Durations inside vetting (issue 16): when the case opened, and each
-- change of its status by version ({v, at, blocked, reason}), from which
-- the time each block lasted is measured by block reason.
ALTER TABLE apps ADD COLUMN vetting_opened_at timestamptz,
    ADD COLUMN vetting_steps jsonb NOT NULL DEFAULT '[]';

-- Records folded before this lack those facts until `reporting rebuild`
-- replays the stream (as for 004).
INSERT INTO rebuild_needed (reason)
SELECT 'vetting steps: records folded before this migration lack vetting opened and block durations'
WHERE EXISTS (SELECT 1 FROM apps)
ON CONFLICT DO NOTHING;

---- create above / drop below ----

DELETE FROM rebuild_needed WHERE reason LIKE 'vetting steps:%';
ALTER TABLE apps DROP COLUMN vetting_steps, DROP COLUMN vetting_opened_at;
