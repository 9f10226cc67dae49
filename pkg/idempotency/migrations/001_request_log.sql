-- Client-chosen request ids of mutating calls, with the first response, so
-- a retried call is answered from here and applied once.
CREATE TABLE request_log (
    caller      text NOT NULL,
    request_id  text NOT NULL,
    method      text NOT NULL,
    -- sha256 of the request, to refuse a reused id with a different request.
    fingerprint bytea NOT NULL,
    response    bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, request_id)
);

---- create above / drop below ----

DROP TABLE request_log;
