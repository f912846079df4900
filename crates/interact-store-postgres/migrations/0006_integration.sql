-- Interact schema v6: the admin's integrations. PostgreSQL's spelling of the
-- autoincrementing ids (identity columns; SQLite's migration uses `INTEGER PRIMARY KEY
-- AUTOINCREMENT`); otherwise the same schema as SQLite's.
--
-- The audit log keeps every admin change: who did what to what, with the target as JSON
-- before and after (NULL: it did not exist before, or no longer exists after). Entries
-- are numbered in the order they are stored (from a sequence: a number is never reused).
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,                -- the admin's name
    action      TEXT NOT NULL,                -- e.g. template.put
    target      TEXT NOT NULL,                -- e.g. the template's name
    before      TEXT,                         -- JSON of the target before the change
    after       TEXT                          -- JSON of the target after the change
);

-- Webhooks: where events are posted, signed with `secret` (HMAC-SHA256).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,                -- JSON array of event types, in order
    created_at  BIGINT NOT NULL
);

-- The durable outbox of webhook deliveries: a delivery is stored with the change that
-- causes it, and a node claims it (sets `next_at` to the end of its claim) before
-- sending it. `next_at` is when it is due (again); NULL once it is done (delivered, or
-- given up). A webhook's deletion takes its deliveries with it (the store also deletes
-- them itself, in the same transaction).
CREATE TABLE webhook_deliveries (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event         TEXT NOT NULL,              -- the event type
    body          TEXT NOT NULL,              -- the JSON posted
    created_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT,
    last_status   BIGINT,                     -- HTTP status of the last attempt
    last_error    TEXT,                       -- what went wrong in the last attempt
    delivered_at  BIGINT
);

-- Claims take the due deliveries, oldest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE next_at IS NOT NULL;
-- A webhook's deliveries, newest first (and its deletion).
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook, id);
