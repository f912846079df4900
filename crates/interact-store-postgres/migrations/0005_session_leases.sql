-- Interact schema v5: session leases. Portable SQL (SQLite and PostgreSQL).
--
-- One node owns a session at a time (one writer per session). The owner holds the
-- session's lease, fenced by an epoch: every claim takes the previous epoch + 1 (the
-- first one 1), and an append fenced by an epoch is written only while that epoch is the
-- current one, in the same transaction as the check, so a dead or former owner's late
-- write is refused.

CREATE TABLE session_leases (
    session_id  TEXT PRIMARY KEY REFERENCES sessions(id),
    node        TEXT NOT NULL,                -- the node holding the lease
    epoch       BIGINT NOT NULL,              -- 1, 2, 3, ...: one more at every claim
    claimed_at  BIGINT NOT NULL
);
