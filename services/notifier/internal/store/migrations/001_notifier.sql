-- Who is told, and how: one row per person who set preferences. The email
-- address and webhook are staff contact details, kept here only; the
-- webhook secret signs what is sent to the webhook (docs/security.md).
CREATE TABLE preferences (
    subject        text PRIMARY KEY,
    email          text NOT NULL,
    mode           text NOT NULL CHECK (mode IN ('off', 'digest', 'immediate')),
    -- Quiet hours in minutes after midnight in time_zone; both null for none.
    quiet_start    smallint CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end      smallint CHECK (quiet_end BETWEEN 0 AND 1439),
    time_zone      text NOT NULL,
    webhook_url    text NOT NULL DEFAULT '',
    webhook_secret text NOT NULL DEFAULT '',
    -- What the person does (spoc, vetting, …) and where: decides whether a
    -- message may name the candidate.
    role           text NOT NULL,
    regions        text[] NOT NULL DEFAULT '{}',
    updated_at     timestamptz NOT NULL,
    updated_by     text NOT NULL,
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);

-- A region's role mailbox: told about cases nobody (with preferences) owns.
CREATE TABLE role_mailboxes (
    region     text NOT NULL,
    role       text NOT NULL CHECK (role IN ('spoc', 'vetting')),
    email      text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    PRIMARY KEY (region, role)
);

-- Campaign titles (not personal data), for the messages.
CREATE TABLE campaigns (
    campaign_id uuid PRIMARY KEY,
    title       text NOT NULL
);

-- One row per event the notifier acted on, written in the consumer's
-- transaction with its inbox row: the facts a message shows (never a
-- name), who it is for, and when it is due. state: pending (to be sent at
-- due_at, at once or in the digest), queued (a message holds it), off (the
-- recipient turned notifications off), unaddressed (no preferences and no
-- role mailbox).
CREATE TABLE notifications (
    event_id       uuid PRIMARY KEY,
    event          text NOT NULL,
    application_id uuid NOT NULL,
    region         text NOT NULL,
    campaign_id    text NOT NULL,
    job_role       integer NOT NULL,
    stage          integer NOT NULL,
    rule           integer NOT NULL,
    threshold_days integer NOT NULL,
    since          timestamptz,
    occurred_at    timestamptz NOT NULL,
    next_actor     text NOT NULL,
    assignee       text NOT NULL,
    blocked_reason integer NOT NULL,
    -- A subject, or mailbox:<region>:<role>.
    recipient      text NOT NULL,
    digest         boolean NOT NULL,
    due_at         timestamptz NOT NULL,
    state          text NOT NULL CHECK (state IN ('pending', 'queued', 'off', 'unaddressed')),
    created_at     timestamptz NOT NULL
);
CREATE INDEX notifications_due ON notifications (due_at, event_id) WHERE state = 'pending';

-- One message to send on one channel: an immediate notification's, or a
-- digest of several. The sender claims a due row (FOR UPDATE SKIP LOCKED),
-- sends it and marks it sent in the same transaction; key is the message's
-- idempotency key (its Message-ID, its webhook Idempotency-Key).
CREATE TABLE messages (
    id              bigserial PRIMARY KEY,
    key             text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    kind            text NOT NULL,
    recipient       text NOT NULL,
    address         text NOT NULL,
    event_ids       uuid[] NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    UNIQUE (key, channel)
);
CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX messages_dead ON messages (finished_at DESC, id DESC) WHERE state = 'dead';

---- create above / drop below ----

DROP TABLE messages;
DROP TABLE notifications;
DROP TABLE campaigns;
DROP TABLE role_mailboxes;
DROP TABLE preferences;
