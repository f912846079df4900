-- Interact schema v14: identified visitors. Each embed code may have an identity secret
-- (the HMAC-SHA256 key a website signs its visitors' ids with; shown to the admin once),
-- and each session the id of the verified visitor it belongs to (none for anonymous
-- visitors), indexed for a returning visitor's history. The same schema in SQLite and
-- PostgreSQL.
ALTER TABLE embed_codes ADD COLUMN identity_secret TEXT;
ALTER TABLE sessions ADD COLUMN visitor_id TEXT;
CREATE INDEX sessions_visitor ON sessions (embed_code, visitor_id, created_at);
