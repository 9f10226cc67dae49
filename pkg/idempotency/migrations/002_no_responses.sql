-- The request log keeps no response any more. A response could hold a
-- candidate's name, email and phone or a vetting note, and it stayed here
-- after the record itself had changed or the note had been cleared. A row
-- now keeps which record the call changed (its id and version) and a retry
-- reads that record again, as its caller may see it now.
--
-- The bodies are overwritten before the column goes: DROP COLUMN alone
-- leaves them in the table's pages until each row is rewritten. Rows
-- written before this have nothing to answer a retry with (answerable is
-- false); their request ids are still refused for another request until
-- the rows are pruned.
UPDATE request_log SET response = NULL WHERE response IS NOT NULL;
ALTER TABLE request_log
    DROP COLUMN response,
    ADD COLUMN record_id text,
    ADD COLUMN record_version bigint,
    ADD COLUMN answerable boolean NOT NULL DEFAULT false;
-- Pruning deletes by age.
CREATE INDEX request_log_created_at ON request_log (created_at);

---- create above / drop below ----

DROP INDEX request_log_created_at;
ALTER TABLE request_log
    DROP COLUMN answerable,
    DROP COLUMN record_version,
    DROP COLUMN record_id,
    ADD COLUMN response bytea;
