-- Interact schema v13: attachments. Files (images, PDFs) sent in a session, their bytes
-- in the database beside what the session's `attachment` event says of them. Read by
-- (session, id) only; they go when their session goes.
CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    sender      TEXT NOT NULL,            -- visitor | agent
    name        TEXT NOT NULL,
    mime        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    data        BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX attachments_by_session ON attachments (session_id);
