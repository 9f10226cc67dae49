-- Every change to a service's records: what happened, who did it, when.
CREATE TABLE history (
    record_id     uuid NOT NULL,
    version       bigint NOT NULL,
    event         text NOT NULL,
    actor_subject text NOT NULL,
    actor_role    int NOT NULL,
    occurred_at   timestamptz NOT NULL,
    reason_code   text NOT NULL DEFAULT '',
    PRIMARY KEY (record_id, version)
);

---- create above / drop below ----

DROP TABLE history;
