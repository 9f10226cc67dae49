-- Why each application left the pipeline and where it came from, for
-- GetReasonBreakdown and the source filter of the funnel and time to
-- hire (docs/design.md, "Reasons and sources"): the reason code of the
-- rejection, the kind (projection.WithdrawalKind) and reason code of the
-- withdrawal, each as recorded (reports read a code off the fixed lists as
-- other:<code>), and application.submitted's source.
ALTER TABLE apps ADD COLUMN rejected_reason text NOT NULL DEFAULT '',
    ADD COLUMN withdrawn_by int NOT NULL DEFAULT 0,
    ADD COLUMN withdrawn_reason text NOT NULL DEFAULT '',
    ADD COLUMN source text NOT NULL DEFAULT '';

-- The breakdown and the source filter read a region's applications.
CREATE INDEX apps_region_source ON apps (region, source);

INSERT INTO rebuild_needed (reason)
SELECT 'migration reasons_sources: records folded before it lack their reasons and sources'
WHERE EXISTS (SELECT 1 FROM apps);

---- create above / drop below ----

DELETE FROM rebuild_needed WHERE reason LIKE 'migration reasons_sources:%';
DROP INDEX apps_region_source;
ALTER TABLE apps DROP COLUMN source, DROP COLUMN withdrawn_reason, DROP COLUMN withdrawn_by,
    DROP COLUMN rejected_reason;
