-- Interact schema v9: each session's channel (how the visitor came: `widget`,
-- `whatsapp`). Sessions stored before it came through the widget. The same schema in
-- SQLite and PostgreSQL.
ALTER TABLE sessions ADD COLUMN channel TEXT NOT NULL DEFAULT 'widget';
