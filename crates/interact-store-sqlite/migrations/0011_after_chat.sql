-- Interact schema v11: after the chat. The visitor's end-of-chat rating (one per session)
-- and when the transcript was emailed (one email per session), beside the report's other
-- facts that the event log lacks. The same schema in SQLite and PostgreSQL.
ALTER TABLE session_report ADD COLUMN satisfaction_score BIGINT;
ALTER TABLE session_report ADD COLUMN satisfaction_comment TEXT;
ALTER TABLE session_report ADD COLUMN satisfaction_at BIGINT;
ALTER TABLE session_report ADD COLUMN transcript_emailed_at BIGINT;
