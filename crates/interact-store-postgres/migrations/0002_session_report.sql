-- Interact schema v2: reporting. Portable SQL (SQLite and PostgreSQL).
--
-- A session's report is mostly derived from what is already stored: the `sessions` row
-- (target, agent, created, ended, end reason) and its lifecycle events in
-- `session_events` (queued, agent_joined, agent_left, ended). Only what the event log
-- does not hold is written here, off the event-append path: the offers made to agents,
-- an outcome recorded explicitly (a workflow's Cancel Task, a workflow that became
-- invalid, a transfer to a service) and the workflow path.

CREATE TABLE session_report (
    session_id  TEXT PRIMARY KEY REFERENCES sessions(id),
    offered_at  BIGINT,                       -- first offer to an agent
    offers      BIGINT NOT NULL DEFAULT 0,    -- offers made (declined or timed out ones too)
    outcome     TEXT                          -- recorded outcome; overrides the derived one
);

-- The workflow path: the labels of the steps a session's workflow ran, in order.
CREATE TABLE session_workflow_steps (
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    step        BIGINT NOT NULL,              -- 1, 2, 3, ...
    at          BIGINT NOT NULL,
    label       TEXT NOT NULL,
    PRIMARY KEY (session_id, step)
);

-- Reports select sessions by creation time.
CREATE INDEX sessions_created ON sessions (created_at, id);
