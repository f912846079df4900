-- Interact schema v1. Portable SQL: the same statements run on SQLite and PostgreSQL.
CREATE TABLE domain_templates (
    name        TEXT PRIMARY KEY,
    origins     TEXT NOT NULL,            -- JSON array of origin patterns
    updated_at  BIGINT NOT NULL
);

CREATE TABLE embed_codes (
    code        TEXT PRIMARY KEY,
    target      TEXT NOT NULL,            -- JSON: {"kind":"service","id":"support"}
    template    TEXT NOT NULL REFERENCES domain_templates(name),
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    embed_code      TEXT NOT NULL,
    target          TEXT NOT NULL,
    start_id        TEXT NOT NULL,
    token_hash      TEXT NOT NULL,
    visitor_name    TEXT NOT NULL,
    visitor_email   TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    consent_at      BIGINT NOT NULL,
    origin          TEXT NOT NULL,
    agent_id        TEXT,
    created_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    end_reason      TEXT,
    UNIQUE (embed_code, start_id)
);

CREATE TABLE session_events (
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    event       TEXT NOT NULL,            -- JSON of the SessionEvent
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE agent_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE INDEX sessions_open ON sessions (ended_at);
