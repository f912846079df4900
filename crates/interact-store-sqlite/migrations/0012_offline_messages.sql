-- Interact schema v12: offline messages (protocol §6.14). What a visitor leaves while
-- nobody can chat, an open task of its target until an agent answers it by email (then
-- the answer is kept with it). `request_key` makes a repeated `leave_message` the same
-- message. `target` is the target's JSON, as in `sessions`. The same schema in SQLite and
-- PostgreSQL.
CREATE TABLE offline_messages (
    id TEXT PRIMARY KEY,
    request_key TEXT NOT NULL UNIQUE,
    embed_code TEXT NOT NULL,
    target TEXT NOT NULL,
    visitor_name TEXT NOT NULL,
    visitor_email TEXT NOT NULL,
    body TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    origin TEXT NOT NULL,
    context TEXT,
    created_at BIGINT NOT NULL,
    answered_by TEXT,
    answer TEXT,
    answered_at BIGINT
);
CREATE INDEX offline_messages_by_target ON offline_messages (target, created_at);
