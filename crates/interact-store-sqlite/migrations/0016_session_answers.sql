-- Interact schema v16: the visitor's answers to a workflow's Collect Information
-- questions, kept for the agents who take the chat (the workflow run's own state is
-- forgotten when an agent accepts). Never events of the session: read only through the
-- agents' API. One row per (session, parameter), the latest answer; the id keeps the
-- order in which the parameters were first answered. The same schema in SQLite and
-- PostgreSQL but for the id column.
CREATE TABLE session_answers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    question     TEXT NOT NULL,
    value        TEXT NOT NULL,
    seq          BIGINT,
    answered_at  BIGINT NOT NULL,
    UNIQUE (session_id, name)
);
