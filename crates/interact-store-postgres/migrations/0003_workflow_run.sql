-- Interact schema v3: workflow runs survive a restart. Portable SQL (SQLite and
-- PostgreSQL).
--
-- The resumable state of a session's workflow run, written after every input that
-- changed it and removed when the run or the session ends. On a start, the run of an
-- open session resumes if its service still has the workflow with the same name and
-- fingerprint; otherwise the session ends as failed.

CREATE TABLE workflow_runs (
    session_id   TEXT PRIMARY KEY REFERENCES sessions(id),
    workflow     TEXT NOT NULL,               -- the workflow's name
    fingerprint  TEXT NOT NULL,               -- SHA-256 (hex) of its canonical form
    state        TEXT NOT NULL,               -- JSON of the run's snapshot
    updated_at   BIGINT NOT NULL
);
