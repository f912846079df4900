-- Interact schema v7: workflow versions, and each workflow's current one. The same
-- schema in SQLite and PostgreSQL.
--
-- A version of a workflow is named by its fingerprint and kept once stored (never
-- overwritten): a session's run goes on with the version it started with.
CREATE TABLE workflow_versions (
    name         TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    definition   TEXT NOT NULL,               -- the TOML of one [[workflow]] table
    created_at   BIGINT NOT NULL,             -- when this version was first stored
    PRIMARY KEY (name, fingerprint)
);

-- Each workflow's current version (at most one per name): the one new sessions start.
CREATE TABLE current_workflows (
    name         TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL,
    updated_at   BIGINT,                      -- when it became current
    FOREIGN KEY (name, fingerprint) REFERENCES workflow_versions (name, fingerprint)
);
