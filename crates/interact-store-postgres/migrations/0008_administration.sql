-- Interact schema v8: the administration. The same schema in SQLite and PostgreSQL.
--
-- Admin sign-in tokens (Tenant Admins and Service Owners of the admin app), stored as
-- SHA-256 hashes like agent tokens but apart from them: a console token is no admin
-- token, and signing an agent out of the console leaves their admin sign-in alone.
CREATE TABLE admin_tokens (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX admin_tokens_user ON admin_tokens (user_id);

-- The tenant's configuration, one JSON document per item: `kind` is `service`, `user`
-- or `opening_hours`, `name` the item's id. The administration writes it; every node
-- reads it again when told of a change (or every `[cluster] refresh_secs`).
CREATE TABLE config_items (
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    body         TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);
