-- Interact schema v10: the outbox of messages sent on an outside channel (WhatsApp
-- through Twilio). One row per piece of a session message (a long text is cut to what
-- the provider takes). The same schema in SQLite and PostgreSQL.
CREATE TABLE outbound_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,             -- the session message's id
    part        BIGINT NOT NULL,           -- the piece's number, 0 first
    seq         BIGINT NOT NULL,           -- the message event's sequence number
    connector   TEXT NOT NULL,             -- the service whose connector sends it
    to_address  TEXT NOT NULL,             -- whatsapp:+<E.164>
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT,                    -- due (again) while pending
    state       TEXT NOT NULL DEFAULT 'pending',
    sid         TEXT,                      -- the provider's id (SM...), once known
    uncertain   BIGINT NOT NULL DEFAULT 0, -- the provider may have it: look before sending
    error       TEXT,
    updated_at  BIGINT NOT NULL
);

-- A message is stored once, whoever stores it again.
CREATE UNIQUE INDEX outbound_messages_piece ON outbound_messages (session_id, message_id, part);
-- Status callbacks name the provider's id.
CREATE UNIQUE INDEX outbound_messages_sid ON outbound_messages (sid) WHERE sid IS NOT NULL;
-- Claims look at the pending pieces, each session's earliest first.
CREATE INDEX outbound_messages_pending ON outbound_messages (session_id, id) WHERE state = 'pending';

-- An inbound WhatsApp message finds its sender's open session by its origin.
CREATE INDEX sessions_open_origin ON sessions (origin) WHERE ended_at IS NULL;
