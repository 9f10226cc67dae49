-- The inbox: event ids a consumer has applied, written in the same
-- transaction as the effect, so a redelivered event is a no-op.
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

---- create above / drop below ----

DROP TABLE inbox;
