-- Interact schema v4: crash-safe session starts and expiring resume tokens. Portable SQL
-- (SQLite and PostgreSQL).
--
-- `start_key` identifies the `start_chat` a session answers (SHA-256 of the embed code,
-- the client's start id, the client's address and the form as entered), written in the
-- same transaction as the session: a repeated `start_chat` finds its session after any
-- crash, and two racing repeats cannot create two sessions. Sessions made before this
-- version have none.
--
-- `visitor_seen_at` is the last time a visitor connection of the session was open; with
-- the session's last event it decides when the resume token expires.

ALTER TABLE sessions ADD COLUMN start_key TEXT;
ALTER TABLE sessions ADD COLUMN visitor_seen_at BIGINT;
CREATE UNIQUE INDEX sessions_start_key ON sessions (start_key);
