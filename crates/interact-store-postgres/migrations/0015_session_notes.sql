-- Interact schema v15: agents' internal notes on a session. Never events of the session
-- (those go to the visitor too): a table of their own, read only through the agents'
-- API. The same schema in SQLite and PostgreSQL but for the id column.
CREATE TABLE session_notes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX session_notes_by_session ON session_notes (session_id, id);
