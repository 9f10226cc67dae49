-- The W3C traceparent of the span that wrote the event (NULL when there
-- was none): the relay publishes the event as a child of it, so one trace
-- follows a change from the call that made it to every consumer's apply.
-- Nullable, no default: adding it rewrites nothing, and rows written by a
-- version before it publish untraced.
ALTER TABLE outbox ADD COLUMN traceparent text;

---- create above / drop below ----

ALTER TABLE outbox DROP COLUMN traceparent;
